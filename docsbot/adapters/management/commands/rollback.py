"""``manage.py rollback --team SLUG``: go back to the previously promoted version."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from docsbot.adapters.services import adapter_version_rollback
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Promote the version that was live before the current one."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)

    def handle(self, *args, team: str, **options):
        try:
            version = adapter_version_rollback(team=team_or_error(team))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"team {team}: rolled back to version {version.number}")
