"""Tasks that let tests and operators see a worker and its queues working, and the sweep that requeues
work whose worker died."""
from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from celery import shared_task
from celery.signals import worker_ready
from django.core.cache import cache

log = logging.getLogger(__name__)


@shared_task(name="docsbot.core.tasks.ping")
def ping(token: str) -> None:
    """Record which worker answered, so a caller can see a queue is being consumed."""
    cache.set(f"ping:{token}", socket.gethostname(), timeout=300)


def recover_each(recoveries: tuple[Callable[[], list[int]], ...]) -> dict[str, list[int]]:
    """Run each recovery; one that fails (a database hiccup) is logged and leaves the others to run."""
    requeued = {}
    for recover in recoveries:
        try:
            recovered = recover()
        except Exception:
            log.exception("could not recover interrupted runs (%s)", recover.__name__)
            continue
        if recovered:
            log.warning("%s: requeued %s", recover.__name__, recovered)
            requeued[recover.__name__] = recovered
    return requeued


@shared_task(name="docsbot.core.tasks.recover_interrupted", ignore_result=True)
def recover_interrupted() -> dict[str, list[int]]:
    """The beat's sweep: requeue ingest and generation runs and training jobs whose worker died while
    other workers live on (a killed CLI ingest, an OOM-killed worker process whose pool went on), which
    a starting worker would otherwise only find at its next start."""
    from docsbot.adapters.services import training_jobs_recover
    from docsbot.documents.services import ingest_runs_recover
    from docsbot.qa.services import generation_runs_recover

    return recover_each((ingest_runs_recover, generation_runs_recover, training_jobs_recover))


@worker_ready.connect
def _recover_interrupted_runs(sender=None, **_: object) -> None:
    """A worker that consumes the ``default`` queue requeues the ingest and generation runs whose
    worker died (kill -9, OOM, host loss), as gpu workers do for training jobs."""
    try:
        if "default" not in sender.app.amqp.queues.consume_from:
            return  # only workers that can run the requeued runs do the recovery
    except AttributeError:
        pass
    from docsbot.documents.services import ingest_runs_recover
    from docsbot.qa.services import generation_runs_recover

    recover_each((ingest_runs_recover, generation_runs_recover))
