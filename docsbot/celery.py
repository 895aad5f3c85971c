"""The Celery app: queue ``default`` (ingestion, pair generation), queue ``chat`` (Slack and
webhook follow-ups, on their own workers) and queue ``gpu`` (training, one job per worker process)."""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")

app = Celery("docsbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def lower_worker_priority(**_: object) -> None:
    """Renice the worker (its pool processes inherit it) to ``DOCSBOT_WORKER_NICE``: a bulk ingestion must not
    double the latency of chat answered by the web and serving processes on the same cores."""
    from django.conf import settings

    target = settings.WORKER_NICE
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if target > current:
        os.nice(target - current)
