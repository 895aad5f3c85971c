"""Tasks that let tests and operators see a worker and its queues working."""
from __future__ import annotations

import socket

from celery import shared_task
from django.core.cache import cache


@shared_task(name="docsbot.core.tasks.ping")
def ping(token: str) -> None:
    """Record which worker answered, so a caller can see a queue is being consumed."""
    cache.set(f"ping:{token}", socket.gethostname(), timeout=300)
