"""Training worker faults, each really injected into a real prefork worker (production's pool):
killed during a checkpoint save, redelivered past a low visibility timeout, hard and soft time limits.

The pauses come from training/faults.py (DOCSBOT_TRAINING_FAULT), set only in the worker's env.
"""
import os
import signal

import pytest

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.services import training_job_create
from tests.adapters.workers import purge_queues, start_worker, stop, wait_for
from tests.training.pairs import fixture_examples
from training.recipe import COMPLETE, latest_complete_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAST = {"rank": 4, "checkpoint_every": 2, "batch_size": 1, "max_length": 512, "learning_rate": 0.01,
        "eval_max_examples": 1, "eval_max_new_tokens": 2}


@pytest.fixture
def adapter_settings(settings, tmp_path, tiny_base_model):
    settings.ADAPTER_DIR = settings.DATA_DIR / "adapters"
    settings.BASE_MODEL = str(tiny_base_model)
    settings.AUTO_PROMOTE = True
    settings.SERVING_URL = None
    purge_queues()
    return settings


@pytest.fixture
def dataset(team) -> dict:
    train, heldout = fixture_examples(team=team.slug, distractors=1)
    return {"train": train, "heldout": heldout[:1], "dataset_hash": "f" * 64,
            "pair_ids": [e["id"] for e in train + heldout[:1]]}


def finished(job: TrainingJob):
    return lambda: TrainingJob.objects.filter(pk=job.pk, status__in=TrainingJob.TERMINAL).first()


def test_it_resumes_from_the_previous_checkpoint_when_killed_during_a_save(team, dataset, adapter_settings,
                                                                           tmp_path):
    marker = tmp_path / "paused"
    job = training_job_create(team=team, dataset=dataset, hyperparameters={**FAST, "max_steps": 6})
    work_dir = adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk)
    worker = start_worker(adapter_settings, pool="prefork",
                          env={"DOCSBOT_TRAINING_FAULT": f"checkpoint@4:300:{marker}"})
    try:
        wait_for(marker.exists, worker, "the checkpoint save at step 4")
        half_written = work_dir / "checkpoints" / "step-000004"
        assert (half_written / "adapter.safetensors").exists() and not (half_written / COMPLETE).exists()
        assert latest_complete_checkpoint(work_dir).name == "step-000002"
        child = int(TrainingJob.objects.get(pk=job.pk).lease_owner.rsplit(":", 1)[1])
        assert child != worker.pid
        os.kill(child, signal.SIGKILL)  # the pool child mid-save; the worker redelivers its message
        done = wait_for(finished(job), worker, "the resumed job to finish")
    finally:
        log = stop(worker)
    assert done.status == "succeeded", done.error + log
    assert list(job.events.filter(message__startswith="resumed from checkpoint at step")
                .values_list("message", flat=True)) == ["resumed from checkpoint at step 2"]
    version = AdapterVersion.objects.get(team=team)
    assert version.job_id == job.pk and [p["step"] for p in version.curve] == list(range(1, 7))


def test_it_runs_a_job_once_when_it_outlasts_the_visibility_timeout(team, dataset, adapter_settings, tmp_path):
    marker = tmp_path / "paused"
    env = {"DOCSBOT_CELERY_VISIBILITY_TIMEOUT": "1", "DOCSBOT_TRAINING_FAULT": f"checkpoint@2:300:{marker}"}
    job = training_job_create(team=team, dataset=dataset, hyperparameters={**FAST, "max_steps": 4})
    first = start_worker(adapter_settings, pool="prefork", env=env)
    second = None
    try:
        wait_for(marker.exists, first, "the job to run past the visibility timeout")
        # Redis gives the unacknowledged message to the next worker that sweeps (at its start).
        second = start_worker(adapter_settings, pool="prefork", env=env)
        wait_for(lambda: job.events.filter(message__startswith="duplicate delivery ignored").exists(), second,
                 "the redelivered message")
        marker.unlink()  # let the first run go on
        done = wait_for(finished(job), first, "the job to finish")
    finally:
        log = stop(first) + (stop(second) if second else "")
    assert done.status == "succeeded", done.error + log
    assert done.attempts == 1 and job.events.filter(message__startswith="claimed by").count() == 1
    assert AdapterVersion.objects.filter(team=team).count() == 1


def test_it_fails_jobs_at_the_time_limits_and_runs_the_next(team, dataset, adapter_settings, tmp_path, monkeypatch):
    # explicit epochs are never shortened by "auto", so each job outlasts the limits (raised for this test,
    # here and in the worker, which inherits the environment)
    adapter_settings.TRAINING_LIMITS = {**adapter_settings.TRAINING_LIMITS, "epochs": 10000, "max_steps": 100000}
    monkeypatch.setenv("DOCSBOT_MAX_EPOCHS", "10000")
    monkeypatch.setenv("DOCSBOT_MAX_TRAIN_STEPS", "100000")
    endless = {**FAST, "max_steps": 100_000, "epochs": 10_000}
    jobs = [training_job_create(team=team, dataset=dataset, hyperparameters=endless)
            for _ in range(2)]
    worker = start_worker(adapter_settings, pool="prefork", env={
        # the soft limit must land in training, after the fresh pool process has imported torch, transformers
        # and peft (7-10 s here): a SoftTimeLimitExceeded raised inside a library's `except Exception` during
        # import is swallowed, and only the hard kill ends the job. The gap lets the handler fail the job cleanly.
        "DOCSBOT_TRAINING_SOFT_TIME_LIMIT": "20", "DOCSBOT_TRAINING_HARD_TIME_LIMIT": "35",
        # the limits are what is tested here, not the priority: a busy CI box must not starve the pool process
        "DOCSBOT_WORKER_NICE": "0",
        # the first job to run hangs where signals cannot reach Python: only the hard kill ends it
        "DOCSBOT_TRAINING_FAULT": f"stall:300:{tmp_path / 'stalled'}"})
    try:
        done = [wait_for(finished(job), worker, f"job {job.pk} to reach a time limit") for job in jobs]
    finally:
        log = stop(worker)
    hard, soft = sorted(done, key=lambda job: "soft time limit" in job.error)
    assert hard.status == "failed" and "hard time limit of 35 s" in hard.error, hard.error + log
    # the next job ran in a fresh pool process and stopped itself at the soft limit
    assert soft.status == "failed" and "soft time limit of 20 s" in soft.error, soft.error + log
    assert soft.attempts == 1 and soft.started > hard.started
    assert not AdapterVersion.objects.filter(team=team).exists()
