from django.core.management.base import BaseCommand

from docsbot.core.preflight import run_preflight

# uvicorn's own proxy_headers would believe X-Forwarded-Proto and -For from 127.0.0.1 (its default
# FORWARDED_ALLOW_IPS) whatever DOCSBOT_TRUSTED_PROXIES says: TrustedProxyMiddleware decides instead.
UVICORN_OPTIONS = {"log_level": "info", "proxy_headers": False, "lifespan": "off"}


class Command(BaseCommand):
    help = "Run the web app and API under uvicorn (ASGI), after checking the database and broker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host: str, port: int, workers: int, **options):
        import uvicorn

        run_preflight()
        uvicorn.run("docsbot.asgi:application", host=host, port=port, workers=workers, **UVICORN_OPTIONS)
