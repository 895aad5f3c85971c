"""The API door end to end: a real Celery worker on the default queue runs the ingestion."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import DOCS

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, data_dir):
    env = {**os.environ, "DATABASE_URL": _database_url(), "DOCSBOT_DATA_DIR": str(data_dir),
           "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "default", "-c", "1", "--pool", "solo",
         "-n", f"docs-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.slow
def test_it_ingests_an_api_upload_in_a_real_worker(worker, api):
    with open(DOCS / "deploying.rst", "rb") as handle:
        response = api.post("/api/v1/documents", data={"files": [handle]}, multipart=True)
    assert response.status_code == 202
    run_id = response.json()["id"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/ingest-runs/{run_id}").json()
        if body["status"] in ("succeeded", "failed"):
            break
        assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
        time.sleep(0.5)
    assert body["status"] == "succeeded", body
    assert body["summary"]["documents"] == 1
    hits = api.get("/api/v1/search", data={"q": "roll back a deployment", "k": 1}).json()
    assert hits[0]["url"] == "deploying.rst#rolling-back"
