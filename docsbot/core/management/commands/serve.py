from django.core.management.base import BaseCommand

from docsbot.core.preflight import run_preflight


class Command(BaseCommand):
    help = "Run the web app and API under uvicorn (ASGI), after checking the database and broker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host: str, port: int, workers: int, **options):
        import uvicorn

        run_preflight()
        uvicorn.run("docsbot.asgi:application", host=host, port=port, workers=workers,
                    log_level="info", proxy_headers=True, lifespan="off")
