from django.apps import AppConfig


class AdaptersConfig(AppConfig):
    name = "docsbot.adapters"
    label = "adapters"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from docsbot.chat.models import Feedback
        from docsbot.teams.models import Team

        post_save.connect(_feedback_saved, sender=Feedback, dispatch_uid="adapters.experiment_feedback")
        post_delete.connect(_team_deleted, sender=Team, dispatch_uid="adapters.team_unpublish")


def _feedback_saved(sender, instance, **_: object) -> None:
    """A vote from any door (API, widget, Slack) may decide the team's running A/B experiment."""
    from docsbot.adapters.experiments import feedback_evaluate_soon

    feedback_evaluate_soon(team_id=instance.team_id)


def _team_deleted(sender, instance, **_: object) -> None:
    """A deleted team's served adapters go with it: a later team given the same slug starts from the base."""
    from docsbot.core.serving import team_unpublish

    team_unpublish(team_slug=instance.slug)
