"""``manage.py rollback --team SLUG``: go back to the previously promoted version."""
from django.core.management.base import BaseCommand

from docsbot.adapters.services import adapter_version_rollback
from docsbot.core.errors import REFUSED, command_error
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Promote the version that was live before the current one."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)

    def handle(self, *args, team: str, **options):
        try:
            version = adapter_version_rollback(team=team_or_error(team))
        except REFUSED as exc:
            raise command_error(exc) from None
        self.stdout.write(f"team {team}: rolled back to version {version.number}")
