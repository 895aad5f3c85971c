"""Thin Celery tasks for pair generation."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="docsbot.qa.tasks.generate_qa_run")
def generate_qa_run(run_id: int) -> None:
    from docsbot.qa.services import generation_run_execute

    generation_run_execute(run_id=run_id)
