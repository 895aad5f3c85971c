from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from docsbot.teams.models import Team
from docsbot.teams.services import team_create


class Command(BaseCommand):
    help = "Create a team."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, *args, slug: str, name: str, **options):
        if Team.objects.filter(slug=slug).exists():
            raise CommandError(f"team {slug!r} already exists")
        try:
            team = team_create(slug=slug, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        self.stdout.write(f"created team {team.slug} ({team.name})")
