"""Real Celery worker subprocesses on the gpu queue, for the worker and fault tests."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests import waiting

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The TEST database (pytest-django switched settings to it), for a worker process."""
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("a worker process needs a shared database (PostgreSQL); set DATABASE_URL")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(adapter_settings, *, pool: str = "solo", env: dict[str, str] | None = None) -> subprocess.Popen:
    """A worker on the gpu queue. ``prefork`` (concurrency 1) is production's pool: time limits
    and child replacement only exist there."""
    full_env = {**os.environ, "DATABASE_URL": database_url(), "DOCSBOT_DATA_DIR": str(adapter_settings.DATA_DIR),
                "DOCSBOT_ADAPTER_DIR": str(adapter_settings.ADAPTER_DIR), "DOCSBOT_AUTO_PROMOTE": "1",
                "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1", **(env or {})}
    full_env.pop("DOCSBOT_SERVING_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "gpu", "--pool", pool,
         *(["--concurrency", "1"] if pool == "prefork" else []),
         "-n", f"train-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.stdout.read().decode(errors="replace")[-3000:]


def wait_for(condition, worker: subprocess.Popen, what: str, timeout: float = 180):
    """tests.waiting.wait_for on a Celery worker: a failure stops it and shows its output."""
    return waiting.wait_for(condition, what, seconds=timeout, process=worker, describe=stop)


def purge_queues() -> None:
    """Drop messages an earlier, interrupted test run left in this Redis db: job ids restart with
    every test database, so an old message would otherwise run a new test's job."""
    from docsbot.celery import app

    app.control.purge()
