"""Writes for documents: the one ingestion service behind the admin page, the API and the CLI."""
from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from docsbot.core import leases
from docsbot.core.errors import AppError, app_error
from docsbot.documents.ingest_pass import IngestPass, Progress, index_version_bump
from docsbot.documents.models import Document, IndexState, IngestRun
from docsbot.documents.sources import (
    ExpansionBudget,
    Source,
    SourceFailure,
    expand_inputs,
    expand_local,
    expand_uploads,
)
from docsbot.teams.models import Team

logger = logging.getLogger(__name__)



# --- runs ----------------------------------------------------------------------------

def ingest_run_create(*, team: Team, origin: str, inputs: list[dict], sync: bool = False) -> IngestRun:
    _retrain_baseline_ensure(team)
    return IngestRun.objects.create(team=team, origin=origin, inputs=inputs, sync=sync)


def _retrain_baseline_ensure(team: Team) -> None:
    """Retrain on change counts chunk changes against a baseline: record one before the first run."""
    from docsbot.adapters.retrain import retrain_baseline_ensure

    retrain_baseline_ensure(team=team)


def _vocabulary_refresh(run: IngestRun) -> None:
    """After a successful run: the names the team's documents use, for its questions (docsbot.qa)."""
    from docsbot.qa.services import team_vocabulary_refresh

    team_vocabulary_refresh(team=run.team)


def _retrain_check(run: IngestRun) -> None:
    """After a successful run: the team's retrain check (docsbot.adapters.retrain) runs in a worker."""
    from docsbot.adapters.retrain import retrain_check_enqueue

    retrain_check_enqueue(team=run.team, run_id=run.pk)


def ingest_run_start(*, team: Team, origin: str, inputs: list[dict], sync: bool = False) -> IngestRun:
    """Create a run and hand it to a worker on the default queue once the row is committed."""
    from docsbot.documents.tasks import ingest

    run = ingest_run_create(team=team, origin=origin, inputs=inputs, sync=sync)
    transaction.on_commit(lambda: ingest.apply_async(args=[run.pk], queue="default"))
    return run


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def upload_store(*, team: Team, files: list[tuple[str, bytes | object]]) -> list[dict]:
    """Save uploaded files (name, bytes or a Django UploadedFile) where workers can read them.

    The stored name is sanitised; the original name (path separators removed) is what the
    document is known by.
    """
    folder = Path(settings.DATA_DIR) / "uploads" / f"team-{team.pk}" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    inputs = []
    for number, (name, content) in enumerate(files):
        original = name.replace("\\", "/").replace("\x00", "").rsplit("/", 1)[-1] or f"upload-{number}"
        stored = folder / f"{number:04d}-{_SAFE_NAME.sub('_', original)[:150]}"
        with stored.open("wb") as handle:
            if isinstance(content, bytes):
                handle.write(content)
            else:
                for piece in content.chunks():
                    handle.write(piece)
        inputs.append({"kind": "upload", "name": original, "value": str(stored)})
    return inputs


_MAGIC = {"pdf": (b"%PDF-", "not a PDF"), ".zip": (b"PK", "not a zip archive")}


def upload_rejection(*, name: str, head: bytes) -> AppError | None:
    """The error refusing an upload before it is stored, from its name and first bytes.

    Only what the request itself shows is judged here; what needs the whole file (archive
    members, PDF bodies) is reported per file by the ingestion run.
    """
    from docsbot.documents.parsing import detect_format
    from docsbot.documents.sources import is_archive

    fmt = "archive" if is_archive(name) else detect_format(name)
    if fmt is None:
        return AppError(f"{name}: unsupported file type; expected Markdown, reStructuredText, HTML, plain text, "
                        "PDF or a .zip/.tar.gz archive", code="unsupported_type")
    magic = _MAGIC.get(fmt) or (_MAGIC[".zip"] if name.lower().endswith(".zip") else None)
    if magic and not head.startswith(magic[0]):
        return AppError(f"{name}: {magic[1]} (its content does not match its extension)")
    return None


def upload_head(upload) -> bytes:
    """The first bytes of a Django UploadedFile, leaving it rewound."""
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    return head


MAX_UPLOAD_FILES = 200


def upload_ingest(*, team: Team, files: list, origin: str, sync: bool) -> IngestRun:
    """The one upload path (API and admin page): refuse what the request itself shows is wrong (no file, too
    many, one over the size limit, only files of unsupported types or whose content does not match their
    extension) before anything is stored; else store the files and start an ingestion run, in which a file
    of an unsupported type or mismatched content is one failed item (never stored) and the rest go on."""
    if not files:
        raise AppError("send at least one file (the 'files' field)")
    if len(files) > MAX_UPLOAD_FILES:
        raise AppError(f"at most {MAX_UPLOAD_FILES} files per upload")
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    too_big = [f.name for f in files if f.size > limit]
    if too_big:
        raise AppError(f"{', '.join(too_big)}: over the {settings.MAX_UPLOAD_MB} MB upload limit", code="too_large")
    refused = {index: rejection for index, upload in enumerate(files)
               if (rejection := upload_rejection(name=upload.name or "", head=upload_head(upload))) is not None}
    if len(refused) == len(files):
        raise next(iter(refused.values()))
    inputs = [{"kind": "refused", "name": files[index].name or "upload",
               "error": app_error(rejection).message.removeprefix(f"{files[index].name}: ")}
              for index, rejection in refused.items()]
    inputs += upload_store(team=team, files=[(f.name or "upload", f) for i, f in enumerate(files) if i not in refused])
    return ingest_run_start(team=team, origin=origin, inputs=inputs, sync=sync)


def cli_inputs(items: list[str]) -> list[dict]:
    return [{"kind": "url" if i.startswith(("http://", "https://")) else "path", "name": i, "value": i}
            for i in items]


def _expand(inputs: list[dict]) -> list[Source]:
    sources: list[Source] = []
    budget = ExpansionBudget()  # all archives of the run together
    uploads = [(i["name"], Path(i["value"])) for i in inputs if i["kind"] == "upload"]
    if uploads:
        sources.extend(expand_uploads(uploads, budget))
    for item in inputs:
        if item["kind"] == "refused":  # refused at the upload, never stored: its document (if any) is kept
            sources.append(SourceFailure(item["name"], item["error"]))
        elif item["kind"] == "path":
            sources.extend(expand_local(Path(item["value"]).expanduser(), budget=budget))
        elif item["kind"] == "url":
            sources.extend(_crawl_failure_hides_pages(source) for source in expand_inputs([item["value"]]))
    return sources


def _crawl_failure_hides_pages(source: Source) -> Source:
    """A page the crawl could not read (network error, 5xx, 403, 429, too large) hides the pages only
    linked from it: sync must not take them for removed. A 404 or 410 is a page that is gone."""
    if isinstance(source, SourceFailure) and source.error not in ("HTTP 404", "HTTP 410"):
        return dataclasses.replace(source, unreadable_input=True)
    return source


def ingest_run_execute(*, run_id: int, progress: Progress | None = None, owner: str | None = None) -> dict:
    """Run an ingestion to the end; every per-document problem is recorded, never raised.

    The run is claimed with a lease (``docsbot.core.leases``): a message redelivered after its
    worker died takes the run over once the lease expired, or at once when the dead worker was on
    this host, and runs it again; documents already indexed by the first attempt are unchanged."""
    owner = owner or leases.worker_identity()
    running = IngestRun.Status.RUNNING
    if not leases.lease_claim(IngestRun, pk=run_id, owner=owner, queued=IngestRun.Status.QUEUED, running=running,
                              phase="reading"):
        run = IngestRun.objects.get(pk=run_id)
        logger.info("ingest run %s: not claimed (%s, held by %r)", run_id, run.status, run.lease_owner)
        return run.summary
    IngestRun.objects.filter(pk=run_id, started__isnull=True).update(started=timezone.now())
    run = IngestRun.objects.select_related("team").get(pk=run_id)
    if run.attempts > settings.RUN_MAX_ATTEMPTS:
        error = (f"its worker died {run.attempts - 1} times while running it (last at {run.processed}/{run.total}, "
                 f"{run.phase}); not tried again (DOCSBOT_RUN_MAX_ATTEMPTS)")
        leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.FAILED,
                            error=error, finished=timezone.now())
        uploads_prune(team=run.team)
        return run.summary
    if run.attempts > 1:
        logger.warning("ingest run %s: attempt %s, its earlier worker is gone", run_id, run.attempts)
    started = time.monotonic()
    try:
        tally = IngestPass(run, progress, owner, _expand(run.inputs)).run()
    except leases.LeaseLost as exc:
        logger.warning("ingest run %s: lease lost, stopping: %s", run_id, exc)
        return {}
    except KeyboardInterrupt:  # the ingest command stopped by Ctrl-C or SIGTERM: the run must not stay "running"
        leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.FAILED,
                            error="interrupted: the documents indexed before it are kept", finished=timezone.now())
        uploads_prune(team=run.team)
        raise
    except Exception as exc:
        logger.exception("ingest run %s failed", run_id)
        leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.FAILED,
                            error=str(exc)[:2000], finished=timezone.now())
        uploads_prune(team=run.team)
        raise
    summary = {
        "run": run.pk, "documents": tally.documents, "chunks": tally.chunks, "unchanged": tally.unchanged,
        "updated": tally.updated, "duplicates": tally.duplicates, "removed": tally.removed, "embedded_chunks": tally.embedded,
        "failed": tally.failed, "seconds": round(time.monotonic() - started, 3), "attempts": run.attempts,
    }
    leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.SUCCEEDED,
                        phase="done", summary=summary, items=tally.items, finished=timezone.now(),
                        processed=F("total"))
    uploads_prune(team=run.team)
    if tally.documents or tally.removed or tally.duplicates:  # the team's chunks changed
        _vocabulary_refresh(run)
    _retrain_check(run)
    return summary


def ingest_runs_recover() -> list[int]:
    """Requeue ingest runs whose worker is gone (lease expired, or its process on this host is dead)."""
    from docsbot.documents.tasks import ingest

    recovered = leases.runs_requeue(IngestRun, running=IngestRun.Status.RUNNING, queued=IngestRun.Status.QUEUED)
    for pk in recovered:
        logger.warning("ingest run %s: its worker is gone; requeued", pk)
        ingest.apply_async(args=[pk], queue="default")
    return recovered


def ingest_paths(*, team: Team, items: list[str], sync: bool = False, origin: str = "cli",
                 progress: Progress | None = None) -> dict:
    """Foreground ingestion of local paths and URLs (the CLI door)."""
    run = ingest_run_create(team=team, origin=origin, inputs=cli_inputs(items), sync=sync)
    return ingest_run_execute(run_id=run.pk, progress=progress)


def document_delete(*, team: Team, document_id: int) -> bool:
    with transaction.atomic():
        deleted, _ = Document.objects.filter(team=team, pk=document_id).delete()
        if deleted:
            IndexState.objects.get_or_create(team=team)
            index_version_bump(team)
    return bool(deleted)


RESYNC_ORIGINS = ("admin", "api")


def resync_source_run(*, team: Team) -> IngestRun | None:
    """The run whose inputs the admin's re-sync button ingests again: the team's latest upload.

    Re-sync removes missing documents only when that upload was itself a sync upload (declared
    complete by its sender). A plain upload may hold a few files among many uploaded before, which
    are no longer stored: re-syncing from it re-reads its files and removes nothing."""
    return IngestRun.objects.filter(team=team, origin__in=RESYNC_ORIGINS).exclude(inputs=[]).first()


def uploads_prune(*, team: Team) -> int:
    """Delete stored upload folders no run needs any more; returns how many were removed.

    Kept: the latest upload (re-sync reads it again) and those of queued or running runs.
    Only folders named by finished runs are touched, so a folder stored a moment ago for a run
    not yet created is never removed.
    """
    def folders(run: IngestRun) -> set[Path]:
        return {Path(i["value"]).parent for i in run.inputs if i.get("kind") == "upload"}

    keep: set[Path] = set()
    latest = resync_source_run(team=team)
    if latest is not None:
        keep |= folders(latest)
    active = (IngestRun.Status.QUEUED, IngestRun.Status.RUNNING)
    for run in IngestRun.objects.filter(team=team, status__in=active).only("inputs"):
        keep |= folders(run)
    root = (Path(settings.DATA_DIR) / "uploads" / f"team-{team.pk}").resolve()
    removed = 0
    for run in IngestRun.objects.filter(team=team, origin__in=RESYNC_ORIGINS).exclude(status__in=active).only("inputs"):
        for folder in folders(run) - keep:
            if folder.resolve().parent == root and folder.exists():  # never outside this team's uploads
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed
