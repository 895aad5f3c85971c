"""``manage.py promote --team SLUG --version N``: make a version the team's live adapter."""
from django.core.management.base import BaseCommand

from docsbot.adapters.management.commands._common import version_or_error
from docsbot.adapters.services import adapter_version_promote
from docsbot.core.errors import REFUSED, command_error
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Promote an adapter version (the current one is retired) and tell the serving layer."

    def add_arguments(self, parser):
        # Our --version is an adapter version number, replacing Django's --version.
        parser.conflict_handler = parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--team", required=True)
        parser.add_argument("--version", required=True, type=int, dest="number")

    def handle(self, *args, team: str, number: int, **options):
        try:
            version = adapter_version_promote(version=version_or_error(team_or_error(team), number))
        except REFUSED as exc:
            raise command_error(exc) from None
        self.stdout.write(f"team {team}: version {version.number} promoted ({version.path})")
