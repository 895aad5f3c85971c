"""Thin Celery tasks for documents; they run on the ``default`` queue."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="docsbot.documents.tasks.ingest")
def ingest(run_id: int) -> dict:
    from docsbot.documents.services import ingest_run_execute

    return ingest_run_execute(run_id=run_id)
