"""Ingest runs whose worker dies: the lease-and-recover treatment training jobs have."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from docsbot.documents.models import Document, IngestRun
from docsbot.documents.services import ingest_run_execute, ingest_run_start, upload_store
from tests.adapters.workers import database_url, purge_queues, stop
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _archive(pages: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(pages):
            sections = "\n\n".join(f"## Section {s} of page {number}\n\n" + f"Page {number} explains setting {s}. " * 40
                                   for s in range(6))
            archive.writestr(f"guide/page-{number:03d}.md", f"# Page {number}\n\n{sections}\n")
    return buffer.getvalue()


def _default_worker(data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "DOCSBOT_DATA_DIR": str(data_dir),
           "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "default", "--pool", "solo",
         "-n", f"docs-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_finishes_an_ingest_run_whose_worker_was_killed_with_sigkill(team, data_dir):
    purge_queues()
    earlier = upload_store(team=team, files=[("old.md", b"# Old\n\nAn earlier upload.\n")])
    ingest_run_execute(run_id=IngestRun.objects.create(team=team, origin="api", inputs=earlier).pk)
    inputs = upload_store(team=team, files=[("guide.zip", SimpleUploadedFile("guide.zip", _archive(60)))])
    run = ingest_run_start(team=team, origin="api", inputs=inputs)  # queued at once: no transaction here
    first = _default_worker(data_dir)
    try:
        wait_for(lambda: IngestRun.objects.filter(pk=run.pk, status="running").exclude(lease_owner="").exists(),
                 "the worker to claim the run", process=first, describe=stop)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    killed = IngestRun.objects.get(pk=run.pk)
    assert killed.status == "running" and killed.attempts == 1

    second = _default_worker(data_dir)  # its start requeues the run whose worker is gone
    try:
        done = wait_for(lambda: IngestRun.objects.filter(pk=run.pk, status__in=("succeeded", "failed")).first(),
                        "the run to finish", seconds=240, process=second, describe=stop)
    finally:
        log = stop(second)
    assert done.status == "succeeded", done.error + log
    assert done.attempts == 2 and done.summary["attempts"] == 2 and done.lease_expires is None
    assert Document.objects.filter(team=team, status="indexed", source_path__startswith="guide/").count() == 60
    uploads = Path(data_dir) / "uploads" / f"team-{team.pk}"
    assert [p.name for p in uploads.iterdir()] == [Path(inputs[0]["value"]).parent.name]  # the finished run's pruned


@pytest.mark.django_db
def test_it_takes_over_a_run_whose_lease_expired(team, docs_dir):
    run = IngestRun.objects.create(team=team, inputs=[{"kind": "path", "name": "docs", "value": str(docs_dir)}],
                                   status="running", lease_owner="gone-host:4242", attempts=1,
                                   lease_expires=timezone.now() - timedelta(seconds=1))
    summary = ingest_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 2 and summary["documents"] == 4


@pytest.mark.django_db
def test_it_leaves_a_run_held_by_a_live_lease_alone(team, docs_dir):
    run = IngestRun.objects.create(team=team, inputs=[{"kind": "path", "name": "docs", "value": str(docs_dir)}],
                                   status="running", lease_owner="other-host:4242", attempts=1,
                                   lease_expires=timezone.now() + timedelta(minutes=5))
    ingest_run_execute(run_id=run.pk)  # a duplicate delivery
    run.refresh_from_db()
    assert run.status == "running" and run.attempts == 1 and not Document.objects.exists()


@pytest.mark.django_db
def test_it_fails_a_run_whose_worker_died_too_often(team, docs_dir, settings):
    settings.RUN_MAX_ATTEMPTS = 2
    run = IngestRun.objects.create(team=team, inputs=[{"kind": "path", "name": "docs", "value": str(docs_dir)}],
                                   status="running", lease_owner="gone-host:4242", attempts=2, processed=3, total=4,
                                   phase="indexing", lease_expires=timezone.now() - timedelta(seconds=1))
    ingest_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "died 2 times" in run.error and run.finished is not None
