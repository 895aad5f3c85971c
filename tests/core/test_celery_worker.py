"""A real Celery worker process against the real broker, consuming both queues."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

from docsbot.celery import app
from docsbot.core.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


def test_it_configures_long_job_safety():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    from django.conf import settings

    assert conf.broker_transport_options["visibility_timeout"] > settings.TRAINING_HARD_TIME_LIMIT
    assert app.amqp.router.route({}, "docsbot.adapters.tasks.train_adapter")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "docsbot.documents.tasks.ingest")["queue"].name == "default"


@pytest.fixture
def worker():
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "default,gpu", "-c", "1",
         "--pool", "solo", "-n", f"test-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**os.environ, "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_it_runs_tasks_on_both_queues_in_a_real_worker(worker):
    tokens = {queue: uuid.uuid4().hex for queue in ("default", "gpu")}
    for queue, token in tokens.items():
        ping.apply_async(args=[token], queue=queue)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(cache.get(f"ping:{token}") for token in tokens.values()):
            # Background work yields the CPU to chat: the worker runs at DOCSBOT_WORKER_NICE (default 10).
            assert os.getpriority(os.PRIO_PROCESS, worker.pid) == max(10, os.getpriority(os.PRIO_PROCESS, 0))
            return
        assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
        time.sleep(0.2)
    pytest.fail("the worker did not answer on both queues within 60 s")
