from django.core.management.base import BaseCommand

from docsbot.teams.commands import team_or_error
from docsbot.teams.services import widget_key_create


class Command(BaseCommand):
    help = "Create a widget key for a team, valid from the given origins."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--origin", action="append", default=[], help="allowed origin (repeatable)")
        parser.add_argument("--label", default="")

    def handle(self, *args, team: str, origin: list[str], label: str, **options):
        team_obj = team_or_error(team)
        key = widget_key_create(team=team_obj, allowed_origins=origin, label=label)
        self.stdout.write(key.key)
