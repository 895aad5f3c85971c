"""docsbot: the Django project (web, API, Celery tasks)."""
from docsbot.celery import app as celery_app

__all__ = ["celery_app"]
