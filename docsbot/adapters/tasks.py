"""Celery tasks on the gpu queue (routed by ``docsbot.adapters.tasks.*``): thin, they take ids."""
from __future__ import annotations

import time

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import worker_ready
from celery.worker.request import Request
from django.conf import settings


class TrainingRequest(Request):
    # The worker's own settings bound the job, not the limits the sender stamped on the message
    # (a web process started with other DOCSBOT_TRAINING_*_TIME_LIMIT values, or an old message).
    @property
    def time_limits(self) -> tuple[int, int]:
        return self.task.time_limit, self.task.soft_time_limit

    @time_limits.setter
    def time_limits(self, _: object) -> None:
        pass


class TrainingTask(Task):
    Request = TrainingRequest

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # The runner handles every error inside the task; what reaches here is the pool's hard
        # time limit, reported in the worker's main process after the child was killed.
        if isinstance(exc, TimeLimitExceeded) and args:
            from docsbot.adapters.services import training_job_fail_hard_time_limit

            training_job_fail_hard_time_limit(job_id=int(args[0]), limit=settings.TRAINING_HARD_TIME_LIMIT)


@shared_task(name="docsbot.adapters.tasks.train_adapter", base=TrainingTask, acks_late=True, ignore_result=True,
             soft_time_limit=settings.TRAINING_SOFT_TIME_LIMIT, time_limit=settings.TRAINING_HARD_TIME_LIMIT)
def train_adapter(job_id: int) -> str | None:
    from docsbot.adapters.runner import training_job_run
    from docsbot.adapters.services import worker_identity

    deadline = time.monotonic() + settings.TRAINING_SOFT_TIME_LIMIT
    job = training_job_run(job_id=job_id, owner=worker_identity(), soft_deadline=deadline)
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
    from docsbot.core.tasks import recover_each

    recover_each((training_jobs_recover,))


# --- continuous learning (issue 20): default queue, named outside the gpu route ------------------

@shared_task(name="docsbot.adapters.learning.retrain_check", ignore_result=True)
def retrain_check(team_id: int, run_id: int | None = None) -> str | None:
    """After an ingest run: count the team's chunk changes; past its threshold, regenerate pairs and
    queue a retrain."""
    from docsbot.adapters.retrain import retrain_check_run

    decision = retrain_check_run(team_id=team_id, run_id=run_id)
    return decision.action if decision else None


@shared_task(name="docsbot.adapters.learning.retrain_due", ignore_result=True)
def retrain_due() -> list[int]:
    """Queue the scheduled retrains that are due (Celery beat, every 5 minutes)."""
    from docsbot.adapters.retrain import retrain_due as due

    return due()


@shared_task(name="docsbot.adapters.learning.experiments_evaluate", ignore_result=True)
def experiments_evaluate(team_id: int | None = None) -> list[str]:
    """Decide running A/B experiments that have enough data or ran out of time."""
    from docsbot.adapters.experiments import experiments_evaluate as evaluate

    return evaluate(team_id=team_id)
