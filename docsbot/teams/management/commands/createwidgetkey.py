from django.core.management.base import BaseCommand, CommandError

from docsbot.teams.models import Team
from docsbot.teams.services import widget_key_create


class Command(BaseCommand):
    help = "Create a widget key for a team, valid from the given origins."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--origin", action="append", default=[], help="allowed origin (repeatable)")
        parser.add_argument("--label", default="")

    def handle(self, *args, team: str, origin: list[str], label: str, **options):
        try:
            team_obj = Team.objects.get(slug=team)
        except Team.DoesNotExist:
            raise CommandError(f"no team {team!r}") from None
        key = widget_key_create(team=team_obj, allowed_origins=origin, label=label)
        self.stdout.write(key.key)
