"""Celery tasks on the gpu queue (routed by ``docsbot.adapters.tasks.*``): thin, they take ids."""
from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

log = logging.getLogger(__name__)


@shared_task(name="docsbot.adapters.tasks.train_adapter", acks_late=True, ignore_result=True)
def train_adapter(job_id: int) -> str | None:
    from docsbot.adapters.runner import training_job_run
    from docsbot.adapters.services import worker_identity

    job = training_job_run(job_id=job_id, owner=worker_identity())
    return job.status if job else None


@worker_ready.connect
def _recover_interrupted_jobs(sender=None, **_: object) -> None:
    """A worker that starts requeues jobs whose worker died (kill -9, OOM, host loss)."""
    try:
        if "gpu" not in sender.app.amqp.queues.consume_from:
            return  # only workers that can run the requeued job do the recovery
    except AttributeError:
        pass
    from docsbot.adapters.services import training_jobs_recover

    try:
        recovered = training_jobs_recover()
    except Exception:
        log.exception("could not recover interrupted training jobs")
        return
    if recovered:
        log.warning("requeued interrupted training jobs %s", recovered)
