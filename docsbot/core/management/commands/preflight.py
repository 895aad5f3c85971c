from django.core.management.base import BaseCommand

from docsbot.core.preflight import run_preflight


class Command(BaseCommand):
    help = "Check that the configuration is valid and the database and broker are reachable."

    def handle(self, *args, **options):
        run_preflight()
        self.stdout.write("configuration ok")
