"""Ingest runs whose worker dies: the lease-and-recover treatment training jobs have."""
from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from docsbot.core.tasks import ping, recover_interrupted
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


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(), "DOCSBOT_DATA_DIR": str(data_dir),
            "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1", **extra}


def _default_worker(data_dir: Path, *, beat: list[str] = (), **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "default", "--pool", "solo", *beat,
         "-n", f"docs-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=_env(data_dir, **env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _answering(worker: subprocess.Popen) -> None:
    """Wait until ``worker`` runs tasks (its start-up recovery is behind it)."""
    token = uuid.uuid4().hex
    ping.apply_async(args=[token], queue="default")
    wait_for(lambda: cache.get(f"ping:{token}"), "the worker to answer a ping", process=worker, describe=stop)


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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_worker_finishes_a_cli_ingest_that_was_killed(team, data_dir, tmp_path):
    purge_queues()
    archive = tmp_path / "guide.zip"
    archive.write_bytes(_archive(60))
    worker = _default_worker(data_dir, beat=["--beat", "--schedule", str(tmp_path / "beat-schedule")],
                             DOCSBOT_RECOVERY_SWEEP_SECONDS="1")
    try:
        _answering(worker)  # so the run below is found by the beat's sweep, not by the worker's start
        cli = subprocess.Popen([sys.executable, "manage.py", "ingest", "--team", team.slug, str(archive)],
                               cwd=ROOT, env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run = wait_for(lambda: IngestRun.objects.filter(team=team, lease_owner__endswith=f":{cli.pid}",
                                                            processed__gt=0).first(),
                           "the command to index its first page", seconds=120, process=cli)
        finally:
            cli.kill()
            cli.wait()
        done = wait_for(lambda: IngestRun.objects.filter(pk=run.pk, status__in=("succeeded", "failed")).first(),
                        "the worker to finish the killed command's run", seconds=240, process=worker, describe=stop)
    finally:
        log = stop(worker)
    assert done.status == "succeeded", done.error + log
    assert done.attempts == 2 and done.origin == "cli"
    assert Document.objects.filter(team=team, status="indexed").count() == 60


@pytest.mark.django_db
def test_the_sweep_puts_a_run_whose_process_died_back_in_the_queue_once(team, docs_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process now: a command killed on this host
    dead_here = f"{socket.gethostname()}:{gone.pid}"
    run = IngestRun.objects.create(team=team, inputs=[{"kind": "path", "name": "docs", "value": str(docs_dir)}],
                                   status="running", lease_owner=dead_here, attempts=1,
                                   lease_expires=timezone.now() + timedelta(minutes=5))  # its lease still runs
    purge_queues()
    assert recover_interrupted() == {"ingest_runs_recover": [run.pk]}
    run.refresh_from_db()
    assert run.status == "queued" and run.lease_owner == "" and run.attempts == 1
    assert recover_interrupted() == {}  # requeued once, not once a sweep
    purge_queues()  # no worker here; this test runs the task itself
    ingest_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 2


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
