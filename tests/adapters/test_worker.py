"""Real Celery workers on the gpu queue: kill -9 and resume, duplicate delivery, cancel."""
import os
import signal

import pytest

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.services import training_job_cancel, training_job_create
from docsbot.adapters.tasks import train_adapter
from tests.adapters.conftest import FAST
from tests.adapters.workers import purge_queues, start_worker, stop, wait_for
from training.recipe import latest_complete_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_stale_messages():
    purge_queues()


def test_it_resumes_after_kill_9_and_publishes_one_version(team, dataset, adapter_settings):
    job = training_job_create(team=team, dataset=dataset,
                              hyperparameters={**FAST, "max_steps": 16, "epochs": 16, "checkpoint_every": 2})
    work_dir = adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk)
    first = start_worker(adapter_settings)
    try:
        wait_for(lambda: (c := latest_complete_checkpoint(work_dir)) and c.name >= "step-000004", first,
                 "a checkpoint at step 4")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    killed_at = TrainingJob.objects.get(pk=job.pk)
    assert killed_at.status == "running" and killed_at.step < 16
    checkpoint_step = int(latest_complete_checkpoint(work_dir).name.split("-")[1])

    second = start_worker(adapter_settings)
    try:
        train_adapter.delay(job.pk)  # a duplicate delivery of the same job
        done = wait_for(lambda: TrainingJob.objects.filter(pk=job.pk, status__in=TrainingJob.TERMINAL).first(),
                        second, "the job to finish")
        wait_for(lambda: job.events.filter(message__startswith="duplicate delivery ignored").exists(), second,
                 "the duplicate message")
    finally:
        log = stop(second)
    assert done.status == "succeeded", done.error + log
    resumed = job.events.filter(message__startswith="resumed from checkpoint at step") \
        .values_list("message", flat=True)
    assert resumed and int(resumed[0].rsplit(" ", 1)[1]) >= checkpoint_step > 0
    version = AdapterVersion.objects.get(team=team)
    assert version.job_id == job.pk and [p["step"] for p in version.curve] == list(range(1, 17))


def test_it_stops_a_running_job_when_cancelled(team, dataset, adapter_settings, monkeypatch):
    adapter_settings.TRAINING_LIMITS = {**adapter_settings.TRAINING_LIMITS, "epochs": 500}
    monkeypatch.setenv("DOCSBOT_MAX_EPOCHS", "500")  # above the default bound; the worker inherits it
    job = training_job_create(team=team, dataset=dataset, hyperparameters={**FAST, "max_steps": 500, "epochs": 500})
    worker = start_worker(adapter_settings)
    try:
        wait_for(lambda: TrainingJob.objects.filter(pk=job.pk, step__gte=2).exists(), worker, "step 2")
        training_job_cancel(job=TrainingJob.objects.get(pk=job.pk))
        done = wait_for(lambda: TrainingJob.objects.filter(pk=job.pk, status__in=TrainingJob.TERMINAL).first(),
                        worker, "the job to stop", timeout=60)
    finally:
        stop(worker)
    assert done.status == "cancelled" and done.step < 500 and done.finished is not None
    assert not AdapterVersion.objects.filter(job=job).exists()
    assert job.events.filter(message__startswith="cancelled at step").exists()
