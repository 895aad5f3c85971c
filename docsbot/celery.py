"""The Celery app: queue ``default`` (ingestion, pair generation, chat follow-ups)
and queue ``gpu`` (training, one job per worker process)."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")

app = Celery("docsbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
