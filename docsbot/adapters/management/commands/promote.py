"""``manage.py promote --team SLUG --version N``: make a version the team's live adapter."""
from django.core.management.base import BaseCommand

from docsbot.adapters.management.commands._common import team_or_error, version_or_error
from docsbot.adapters.services import adapter_version_promote


class Command(BaseCommand):
    help = "Promote an adapter version (the current one is retired) and tell the serving layer."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--version", required=True, type=int, dest="number")

    def handle(self, *args, team: str, number: int, **options):
        version = adapter_version_promote(version=version_or_error(team_or_error(team), number))
        self.stdout.write(f"team {team}: version {version.number} promoted ({version.path})")
