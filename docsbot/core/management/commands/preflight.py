from django.core.management.base import BaseCommand

from docsbot.core.preflight import check_base_model, run_preflight


class Command(BaseCommand):
    help = ("Check that the configuration is valid, the database and broker are reachable, and the base "
            "model is a usable causal LM.")

    def handle(self, *args, **options):
        run_preflight()
        # Only serving and training load the model; the web server starts without it.
        self.stdout.write(f"base model: {check_base_model()}")
        self.stdout.write("configuration ok")
