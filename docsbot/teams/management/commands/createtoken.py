from django.core.management.base import BaseCommand, CommandError

from docsbot.teams.models import Team
from docsbot.teams.services import api_token_create


class Command(BaseCommand):
    help = "Issue an API token for a team. The token is printed once and stored only as a hash."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--name", default="cli")
        parser.add_argument("--role", default="write", choices=["read", "write", "admin"],
                            help="read: GET requests only; write (default): also uploads, deletions, "
                                 "import, generation and training; admin: everything")

    def handle(self, *args, team: str, name: str, role: str, **options):
        try:
            team_obj = Team.objects.get(slug=team)
        except Team.DoesNotExist:
            raise CommandError(f"no team {team!r}") from None
        issued = api_token_create(team=team_obj, name=name, role=role)
        self.stdout.write(issued.token)
