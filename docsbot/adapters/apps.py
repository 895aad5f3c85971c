from django.apps import AppConfig


class AdaptersConfig(AppConfig):
    name = "docsbot.adapters"
    label = "adapters"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from docsbot.chat.models import Feedback

        post_save.connect(_feedback_saved, sender=Feedback, dispatch_uid="adapters.experiment_feedback")


def _feedback_saved(sender, instance, **_: object) -> None:
    """A vote from any door (API, widget, Slack) may decide the team's running A/B experiment."""
    from docsbot.adapters.experiments import feedback_evaluate_soon

    feedback_evaluate_soon(team_id=instance.team_id)
