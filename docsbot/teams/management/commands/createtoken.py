from django.core.management.base import BaseCommand

from docsbot.teams.commands import team_or_error
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
        team_obj = team_or_error(team)
        issued = api_token_create(team=team_obj, name=name, role=role)
        self.stdout.write(issued.token)
