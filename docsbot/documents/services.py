"""Writes for documents: the one ingestion service behind the admin page, the API and the CLI."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from docsbot.core import leases
from docsbot.documents import dedup
from docsbot.documents.chunking import ChunkDraft, chunk_document
from docsbot.documents.models import Chunk, Document, IndexState, IngestRun
from docsbot.documents.parsing import ParseError, parse_document
from docsbot.documents.sources import (
    MAX_PATH_CHARS,
    ExpansionBudget,
    Source,
    SourceError,
    SourceFailure,
    SourceFile,
    expand_inputs,
    expand_local,
    expand_uploads,
)
from docsbot.documents.timelimit import ParseTimeout, time_limit
from docsbot.teams.models import Team

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (processed, total, phase)
EMBED_GROUP = 256  # chunks gathered across documents before one embedding pass


@dataclass
class _Pending:
    source: SourceFile
    size: int
    content_hash: str
    title: str
    fmt: str
    fingerprint: list[int]
    drafts: list[ChunkDraft]


@dataclass
class _Tally:
    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    duplicates: int = 0
    removed: int = 0
    embedded: int = 0
    failed: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    resolved: dict[int, int] = field(default_factory=dict)  # this run's temporary keys -> ids

    def fail(self, path: str, error: str) -> None:
        self.failed.append({"path": path, "error": error})
        self.items.append({"path": path, "status": "failed", "chunks": 0, "error": error})


# --- runs ----------------------------------------------------------------------------

def ingest_run_create(*, team: Team, origin: str, inputs: list[dict], sync: bool = False) -> IngestRun:
    _retrain_baseline_ensure(team)
    return IngestRun.objects.create(team=team, origin=origin, inputs=inputs, sync=sync)


def _retrain_baseline_ensure(team: Team) -> None:
    """Retrain on change counts chunk changes against a baseline: record one before the first run."""
    try:
        from docsbot.adapters.retrain import retrain_baseline_ensure
    except ImportError:  # adapters app not installed
        return
    retrain_baseline_ensure(team=team)


def _retrain_check(run: IngestRun) -> None:
    """After a successful run: the team's retrain check (docsbot.adapters.retrain) runs in a worker."""
    try:
        from docsbot.adapters.retrain import retrain_check_enqueue
    except ImportError:  # adapters app not installed
        return
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


def upload_rejection(*, name: str, head: bytes) -> tuple[int, str] | None:
    """(status, message) refusing an upload before it is stored, from its name and first bytes.

    Only what the request itself shows is judged here; what needs the whole file (archive
    members, PDF bodies) is reported per file by the ingestion run.
    """
    from docsbot.documents.parsing import detect_format
    from docsbot.documents.sources import is_archive

    fmt = "archive" if is_archive(name) else detect_format(name)
    if fmt is None:
        return 415, (f"{name}: unsupported file type; expected Markdown, reStructuredText, HTML, plain text, "
                     "PDF or a .zip/.tar.gz archive")
    magic = _MAGIC.get(fmt) or (_MAGIC[".zip"] if name.lower().endswith(".zip") else None)
    if magic and not head.startswith(magic[0]):
        return 400, f"{name}: {magic[1]} (its content does not match its extension)"
    return None


def upload_head(upload) -> bytes:
    """The first bytes of a Django UploadedFile, leaving it rewound."""
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    return head


MAX_UPLOAD_FILES = 200


class UploadRefused(Exception):
    """An upload refused before anything was stored, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def upload_ingest(*, team: Team, files: list, origin: str, sync: bool) -> IngestRun:
    """The one upload path (API and admin page): refuse what the request itself shows is wrong (no file, too
    many, one over the size limit, an unsupported type, content that does not match its extension) before
    anything is stored; else store the files and start an ingestion run."""
    if not files:
        raise UploadRefused(400, "send at least one file (the 'files' field)")
    if len(files) > MAX_UPLOAD_FILES:
        raise UploadRefused(400, f"at most {MAX_UPLOAD_FILES} files per upload")
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    too_big = [f.name for f in files if f.size > limit]
    if too_big:
        raise UploadRefused(413, f"{', '.join(too_big)}: over the {settings.MAX_UPLOAD_MB} MB upload limit")
    for upload in files:
        rejection = upload_rejection(name=upload.name or "", head=upload_head(upload))
        if rejection:
            raise UploadRefused(*rejection)
    inputs = upload_store(team=team, files=[(f.name or "upload", f) for f in files])
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
        if item["kind"] == "path":
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
        tally = _ingest(run, progress, owner)
    except leases.LeaseLost as exc:
        logger.warning("ingest run %s: lease lost, stopping: %s", run_id, exc)
        return {}
    except Exception as exc:
        logger.exception("ingest run %s failed", run_id)
        leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.FAILED,
                            error=str(exc)[:2000], finished=timezone.now())
        uploads_prune(team=run.team)
        raise
    summary = {
        "run": run.pk, "documents": tally.documents, "chunks": tally.chunks, "unchanged": tally.unchanged,
        "duplicates": tally.duplicates, "removed": tally.removed, "embedded_chunks": tally.embedded,
        "failed": tally.failed, "seconds": round(time.monotonic() - started, 3), "attempts": run.attempts,
    }
    leases.lease_finish(IngestRun, pk=run_id, owner=owner, running=running, status=IngestRun.Status.SUCCEEDED,
                        phase="done", summary=summary, items=tally.items, finished=timezone.now(),
                        processed=F("total"))
    uploads_prune(team=run.team)
    _retrain_check(run)
    return summary


def ingest_runs_recover() -> list[int]:
    """Requeue ingest runs whose worker is gone (lease expired, or its process on this host is dead)."""
    from docsbot.documents.tasks import ingest

    recovered = []
    for pk, owner, _ in leases.runs_to_recover(IngestRun, running=IngestRun.Status.RUNNING):
        logger.warning("ingest run %s: worker %r is gone; requeued", pk, owner)
        ingest.apply_async(args=[pk], queue="default")
        recovered.append(pk)
    return recovered


def ingest_paths(*, team: Team, items: list[str], sync: bool = False, origin: str = "cli",
                 progress: Progress | None = None) -> dict:
    """Foreground ingestion of local paths and URLs (the CLI door)."""
    run = ingest_run_create(team=team, origin=origin, inputs=cli_inputs(items), sync=sync)
    return ingest_run_execute(run_id=run.pk, progress=progress)


def _report(run: IngestRun, tally: _Tally, processed: int, total: int, phase: str,
            progress: Progress | None, last: list[float], owner: str) -> None:
    now = time.monotonic()
    if progress is not None:
        progress(processed, total, phase)
    # Throttled: the admin page polls this row, a write per document would be wasteful on big runs.
    # Each write renews the lease; LeaseLost stops a worker whose run another one took over.
    if now - last[0] >= 0.5 or processed == total:
        last[0] = now
        leases.lease_renew(IngestRun, pk=run.pk, owner=owner, running=IngestRun.Status.RUNNING,
                           processed=processed, total=total, phase=phase, items=tally.items)


def _ingest(run: IngestRun, progress: Progress | None, owner: str) -> _Tally:
    from docsbot.documents.embedding import count_tokens, embedding_model_name, max_tokens

    team = run.team
    tally = _Tally()
    last = [0.0]
    sources = _expand(run.inputs)
    total = len(sources)
    leases.lease_renew(IngestRun, pk=run.pk, owner=owner, running=IngestRun.Status.RUNNING, total=total,
                       phase="parsing")
    state, _ = IndexState.objects.get_or_create(team=team)
    model_name = embedding_model_name()
    model_changed = bool(state.embedding_model) and state.embedding_model != model_name
    existing = {d.source_path: d for d in Document.objects.filter(team=team)
                .only("id", "source_path", "content_hash", "status", "fingerprint", "duplicate_of")}
    known = [(d.pk, d.fingerprint) for d in existing.values()
             if d.status == Document.Status.INDEXED and d.duplicate_of_id is None and d.fingerprint]
    count_tokens(["warm up"])  # the tokenizer loads once here, not inside the first file's parse time limit
    accepted: dict[str, int] = {}  # fingerprint row key -> temp id for this run's new docs
    seen: set[str] = set()
    pending: list[_Pending] = []

    for processed, source in enumerate(sources, start=1):
        if source.path in seen:
            # Two files given one by one under the same name ("a/views.html", "b/views.html"): the second would
            # silently replace the first. Its folder keeps both apart ("tutorial/views.html").
            error = f"another file in this run is also named {source.path!r}; ingest the folder that holds both"
            tally.fail(source.path, error)
            _report(run, tally, processed, total, "indexing", progress, last, owner)
            continue
        seen.add(source.path)
        if isinstance(source, SourceFailure):
            if source.member:  # refused inside its archive: the indexed version keeps serving
                seen.add(source.member)
            _fail(team, tally, source.path, source.error, existing, document_path=source.member)
        elif len(source.path) > MAX_PATH_CHARS or "\x00" in source.path:
            # No document can be stored under this path: this file fails, not the run.
            shown = source.path.replace("\x00", "\N{REPLACEMENT CHARACTER}")
            tally.fail(shown if len(shown) <= 200 else shown[:200] + "…",
                       "its path holds a NUL character" if "\x00" in source.path else
                       f"its path is {len(source.path):,} characters long, over the limit of {MAX_PATH_CHARS:,}")
        else:
            # Read now, one file at a time (archive members from the archive on disk), and let go of
            # once parsed: only the parsed chunks wait for the next embedding batch.
            try:
                data = source.read()
            except SourceError as exc:
                _fail(team, tally, source.path, str(exc), existing)
                _report(run, tally, processed, total, "indexing", progress, last, owner)
                continue
            content_hash = hashlib.sha256(data).hexdigest()
            current = existing.get(source.path)
            if (current is not None and current.content_hash == content_hash and not model_changed
                    and current.status == Document.Status.INDEXED):
                tally.unchanged += 1
                tally.items.append({"path": source.path, "status": "unchanged", "chunks": None, "error": ""})
            else:
                limit = settings.PARSE_TIME_LIMIT
                try:
                    with time_limit(limit):
                        parsed = parse_document(source.path, data, fmt=source.fmt)
                        # room for [CLS] and [SEP]
                        drafts = chunk_document(parsed, max_tokens=max_tokens() - 2, count=count_tokens)
                except ParseError as exc:
                    _fail(team, tally, source.path, str(exc), existing)
                except ParseTimeout:
                    _fail(team, tally, source.path, f"parsing took longer than the per-file limit of {limit:g} s "
                          "(DOCSBOT_PARSE_TIME_LIMIT); split the file or raise the limit", existing)
                else:
                    print_ = dedup.fingerprint(parsed.plain_text())
                    others = [(k, fp) for k, fp in known if current is None or k != current.pk]
                    twin = dedup.find_near_duplicate(print_, others)
                    if twin is not None and twin < 0:
                        # Its twin is earlier in this run and not stored yet: store it first.
                        _commit(team, pending, tally, model_name, known, accepted)
                        pending = []
                        twin = tally.resolved.get(twin)
                    if twin is not None:
                        _record_duplicate(team, source, len(data), content_hash, parsed.title, parsed.format, twin)
                        tally.duplicates += 1
                        tally.items.append({"path": source.path, "status": "duplicate", "chunks": 0,
                                            "error": ""})
                    else:
                        key = -(len(accepted) + 1)
                        accepted[source.path] = key
                        known.append((key, print_))
                        pending.append(_Pending(source, len(data), content_hash, parsed.title, parsed.format,
                                                print_, drafts))
                        if sum(len(p.drafts) for p in pending) >= EMBED_GROUP:
                            _commit(team, pending, tally, model_name, known, accepted)
                            pending = []
        _report(run, tally, processed, total, "indexing", progress, last, owner)
    if pending:
        _commit(team, pending, tally, model_name, known, accepted)
    # An archive, folder or site that could not be read at all would make every document in it look
    # "missing": sync then removes nothing rather than wiping the team's documents.
    unreadable = [s.path for s in sources if isinstance(s, SourceFailure) and s.unreadable_input]
    if run.sync and not unreadable:
        tally.removed = _remove_missing(team, seen, tally)
    elif run.sync:
        tally.items.append({"path": ", ".join(unreadable), "status": "failed", "chunks": 0,
                            "error": "sync skipped: nothing was removed because an input could not be read"})
    IndexState.objects.filter(team=team).update(embedding_model=model_name)
    _report(run, tally, total, total, "building index", progress, [0.0], owner)
    from docsbot.documents.search import index_get

    index_get(team_id=team.pk)  # rebuilt and persisted now if anything changed, not at the first query
    return tally


def _fail(team: Team, tally: _Tally, path: str, error: str, existing: dict[str, Document],
          document_path: str = "") -> None:
    tally.fail(path, error)
    current = existing.get(document_path or path)
    if current is None:
        Document.objects.update_or_create(team=team, source_path=path[:1000], defaults={
            "status": Document.Status.FAILED, "error": error, "url": "", "content_hash": ""})
    else:
        # A previously indexed version keeps serving; the error is kept for the admin to see.
        Document.objects.filter(pk=current.pk).update(error=error)


def _record_duplicate(team: Team, source: SourceFile, size: int, content_hash: str, title: str, fmt: str,
                      twin: int) -> None:
    with transaction.atomic():
        document, _ = Document.objects.select_for_update().get_or_create(team=team, source_path=source.path)
        deleted, _ = document.chunks.all().delete()
        document.duplicate_of_id = twin if twin > 0 else None
        document.status = Document.Status.INDEXED
        document.content_hash, document.title, document.format = content_hash, title[:500], fmt
        document.url = source.url or source.path
        document.size, document.error, document.fingerprint = size, "", []
        document.save()
        if deleted:
            _bump(team)


def _commit(team: Team, pending: list[_Pending], tally: _Tally, model_name: str,
            known: list[tuple[int, list[int]]], accepted: dict[str, int]) -> None:
    """Embed a group of documents' chunks in one pass, then replace each document atomically."""
    from docsbot.documents.embedding import embed_texts

    texts = [draft.text for p in pending for draft in p.drafts]
    hashes = [draft.content_hash for p in pending for draft in p.drafts]
    # Chunks whose exact text is already embedded for this team (e.g. an edit elsewhere in the
    # page) reuse the stored vector instead of being embedded again.
    reusable = dict(Chunk.objects.filter(team=team, content_hash__in=set(hashes), embedding__isnull=False)
                    .values_list("content_hash", "embedding")) if model_name else {}
    todo = [i for i, h in enumerate(hashes) if h not in reusable]
    vectors = embed_texts([texts[i] for i in todo]) if todo else np.zeros((0, 0), dtype=np.float32)
    fresh = {i: vectors[row].tobytes() for row, i in enumerate(todo)}
    tally.embedded += len(todo)
    position = 0
    for item in pending:
        rows = []
        for ordinal, draft in enumerate(item.drafts):
            blob = fresh.get(position) or bytes(reusable[hashes[position]])
            position += 1
            rows.append((ordinal, draft, blob))
        with transaction.atomic():
            document, _ = Document.objects.select_for_update().get_or_create(
                team=team, source_path=item.source.path)
            document.chunks.all().delete()
            Chunk.objects.bulk_create([
                Chunk(team=team, document=document, ordinal=ordinal, heading_path=draft.heading_path,
                      anchor=draft.anchor[:300], text=draft.text, token_count=draft.token_count,
                      content_hash=draft.content_hash, embedding=blob)
                for ordinal, draft, blob in rows
            ], batch_size=500)
            document.title, document.format = item.title[:500], item.fmt
            document.url = (item.source.url or item.source.path)[:1000]
            document.content_hash, document.status, document.error = item.content_hash, Document.Status.INDEXED, ""
            document.duplicate_of, document.fingerprint, document.size = None, item.fingerprint, item.size
            document.save()
            _bump(team)
        key = accepted.get(item.source.path)
        if key is not None:  # later pages of this run now point at the real id
            known[:] = [(document.pk if k == key else k, fp) for k, fp in known]
            tally.resolved[key] = document.pk
        tally.documents += 1
        tally.chunks += len(rows)
        tally.items.append({"path": item.source.path, "status": "indexed", "chunks": len(rows), "error": ""})


def _remove_missing(team: Team, seen: set[str], tally: _Tally) -> int:
    missing = list(Document.objects.filter(team=team).exclude(source_path__in=seen)
                   .values_list("pk", "source_path"))
    if not missing:
        return 0
    with transaction.atomic():
        Document.objects.filter(team=team, pk__in=[pk for pk, _ in missing]).delete()
        _bump(team)
    tally.items.extend({"path": path, "status": "removed", "chunks": 0, "error": ""} for _, path in missing)
    return len(missing)


def _bump(team: Team) -> None:
    IndexState.objects.filter(team=team).update(version=uuid.uuid4().hex)


def document_delete(*, team: Team, document_id: int) -> bool:
    with transaction.atomic():
        deleted, _ = Document.objects.filter(team=team, pk=document_id).delete()
        if deleted:
            IndexState.objects.get_or_create(team=team)
            _bump(team)
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
