"""One ingest run's pass over its sources, in named steps.

``IngestPass(run, progress, owner).run()`` takes each source in turn (``_take``): a name clash, a
source refused while expanding, an unreadable file or one that fails to parse is a failure of that
file only (``_fail``: a previously indexed version keeps serving); an unchanged file is skipped; a
near-duplicate of another document is recorded as such (``_record_duplicate``); the rest wait in
``pending`` until ``EMBED_GROUP`` chunks are gathered and ``_commit`` embeds them in one pass and
replaces each document atomically. Then a sync run removes what it did not see
(``_remove_missing``), and the search index is rebuilt. The ``Tally`` is what the run reports.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from docsbot.core import leases
from docsbot.documents import dedup
from docsbot.documents.chunking import ChunkDraft, chunk_document
from docsbot.documents.models import Chunk, Document, DocumentStructure, IndexState, IngestRun
from docsbot.documents.parsing import ParsedDocument, ParseError, parse_document
from docsbot.documents.sources import MAX_PATH_CHARS, Source, SourceError, SourceFailure, SourceFile
from docsbot.documents.timelimit import ParseTimeout, time_limit
from docsbot.teams.models import Team

Progress = Callable[[int, int, str], None]  # (processed, total, phase)
EMBED_GROUP = 256  # chunks gathered across documents before one embedding pass
Fingerprints = list[tuple[int, list[int]]]  # (document id, or this run's temporary key < 0; fingerprint)


@dataclass
class Pending:
    """A parsed document waiting for its group's embedding pass."""
    source: SourceFile
    size: int
    content_hash: str
    title: str
    fmt: str
    fingerprint: list[int]
    drafts: list[ChunkDraft]
    structure: list[dict]


@dataclass
class Tally:
    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    duplicates: int = 0
    updated: int = 0  # of ``documents``: pages that replaced the stored text of the same path
    removed: int = 0
    embedded: int = 0
    failed: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    resolved: dict[int, int] = field(default_factory=dict)  # this run's temporary keys -> ids

    def fail(self, path: str, error: str) -> None:
        self.failed.append({"path": path, "error": error})
        self.items.append({"path": path, "status": "failed", "chunks": 0, "error": error})

    def item(self, path: str, status: str, chunks: int | None = 0, note: str = "") -> None:
        self.items.append({"path": path, "status": status, "chunks": chunks, "error": "",
                           **({"note": note} if note else {})})


class IngestPass:
    def __init__(self, run: IngestRun, progress: Progress | None, owner: str, sources: list[Source]):
        from docsbot.documents.embedding import embedding_model_name

        self.run_row, self.team, self.progress, self.owner = run, run.team, progress, owner
        self.sources = sources
        self.tally = Tally()
        self.last_report = 0.0
        self.processed = 0  # sources taken so far: what an embedding pass in the middle of the run reports
        state, _ = IndexState.objects.get_or_create(team=self.team)
        self.model_name = embedding_model_name()
        self.model_changed = bool(state.embedding_model) and state.embedding_model != self.model_name
        # A document indexed before its structure was kept is parsed again even when unchanged.
        self.existing = {d.source_path: d for d in Document.objects.filter(team=self.team)
                         .only("id", "source_path", "content_hash", "status", "fingerprint", "duplicate_of")
                         .annotate(structured=Exists(DocumentStructure.objects.filter(document=OuterRef("pk"))))}
        # Fingerprints of indexed documents, and of this run's accepted ones under temporary keys.
        self.known: Fingerprints = [(d.pk, d.fingerprint) for d in self.existing.values()
                                    if d.status == Document.Status.INDEXED and d.duplicate_of_id is None
                                    and d.fingerprint]
        self.accepted: dict[str, int] = {}  # path -> temporary key of this run's new documents
        self.seen: set[str] = set()
        self.pending: list[Pending] = []

    def run(self) -> Tally:
        from docsbot.documents.embedding import count_tokens

        total = len(self.sources)
        leases.lease_renew(IngestRun, pk=self.run_row.pk, owner=self.owner, running=IngestRun.Status.RUNNING,
                           total=total, phase="parsing")
        count_tokens(["warm up"])  # the tokenizer loads once here, not inside the first file's parse time limit
        for processed, source in enumerate(self.sources, start=1):
            self._take(source)
            self.processed = processed
            self._report(processed, total, "indexing")
        self._flush()
        self._sync()
        IndexState.objects.filter(team=self.team).update(embedding_model=self.model_name)
        self.last_report = 0.0
        self._report(total, total, "building index")
        from docsbot.documents.search import index_get

        index_get(team_id=self.team.pk)  # rebuilt and persisted now if anything changed, not at the first query
        return self.tally

    # --- one source ------------------------------------------------------------------------
    def _take(self, source: Source) -> None:
        if source.path in self.seen:
            # Two files given one by one under the same name ("a/views.html", "b/views.html"): the second would
            # silently replace the first. Its folder keeps both apart ("tutorial/views.html").
            self.tally.fail(source.path, f"another file in this run is also named {source.path!r}; ingest the "
                                         "folder that holds both")
            return
        self.seen.add(source.path)
        if isinstance(source, SourceFailure):
            if source.member:  # refused inside its archive: the indexed version keeps serving
                self.seen.add(source.member)
            if source.unreadable_input and not source.member:
                # A path that is not there or an archive, folder or site that cannot be read is no document:
                # the run's items name it, and the team's documents stay the documents it has.
                self.tally.fail(source.path, source.error)
            else:
                self._fail(source.path, source.error, document_path=source.member)
            return
        if len(source.path) > MAX_PATH_CHARS or "\x00" in source.path:
            # No document can be stored under this path: this file fails, not the run.
            shown = source.path.replace("\x00", "\N{REPLACEMENT CHARACTER}")
            self.tally.fail(shown if len(shown) <= 200 else shown[:200] + "…",
                            "its path holds a NUL character" if "\x00" in source.path else
                            f"its path is {len(source.path):,} characters long, over the limit of {MAX_PATH_CHARS:,}")
            return
        # Read now, one file at a time (archive members from the archive on disk), and let go of once
        # parsed: only the parsed chunks wait for the next embedding batch.
        try:
            data = source.read()
        except SourceError as exc:
            self._fail(source.path, str(exc))
            return
        content_hash = hashlib.sha256(data).hexdigest()
        current = self.existing.get(source.path)
        if (current is not None and current.content_hash == content_hash and not self.model_changed
                and current.status == Document.Status.INDEXED
                and (current.structured or current.duplicate_of_id is not None)):
            self.tally.unchanged += 1
            self.tally.item(source.path, "unchanged", chunks=None)
            return
        parsed = self._parse(source, data)
        if parsed is not None:
            self._place(source, data, content_hash, *parsed)

    def _parse(self, source: SourceFile, data: bytes) -> tuple[ParsedDocument, list[ChunkDraft]] | None:
        from docsbot.documents.embedding import count_tokens, max_tokens

        limit = settings.PARSE_TIME_LIMIT
        try:
            with time_limit(limit):
                parsed = parse_document(source.path, data, fmt=source.fmt)
                drafts = chunk_document(parsed, max_tokens=max_tokens() - 2, count=count_tokens)  # room for CLS, SEP
        except ParseError as exc:
            self._fail(source.path, str(exc))
        except ParseTimeout:
            self._fail(source.path, f"parsing took longer than the per-file limit of {limit:g} s "
                                    "(DOCSBOT_PARSE_TIME_LIMIT); split the file or raise the limit")
        else:
            return parsed, drafts
        return None

    def _place(self, source: SourceFile, data: bytes, content_hash: str, parsed: ParsedDocument,
               drafts: list[ChunkDraft]) -> None:
        """A near-duplicate of a known document is recorded as such; anything else waits for embedding."""
        fingerprint = dedup.fingerprint(parsed.plain_text())
        current = self.existing.get(source.path)
        if current is not None:
            # Its stored text is being replaced: a later file of this run that matches the old text is no
            # duplicate of it (an archive's "configuration.md" had been taken for a copy of the page it replaced).
            self.known = [(k, fp) for k, fp in self.known if k != current.pk]
        others = self.known
        twin = dedup.find_near_duplicate(fingerprint, others)
        if twin is not None and twin < 0:
            self._flush()  # its twin is earlier in this run and not stored yet: store it first
            twin = self.tally.resolved.get(twin)
        if twin is not None:
            _record_duplicate(self.team, source, len(data), content_hash, parsed.title, parsed.format, twin)
            self.tally.duplicates += 1
            original = Document.objects.filter(pk=twin).values_list("source_path", flat=True).first()
            self.tally.item(source.path, "duplicate", note=f"the same text as {original}" if original else "")
            return
        key = -(len(self.accepted) + 1)
        self.accepted[source.path] = key
        self.known.append((key, fingerprint))
        self.pending.append(Pending(source, len(data), content_hash, parsed.title, parsed.format, fingerprint, drafts,
                                    [block.as_json() for block in parsed.blocks]))
        if sum(len(p.drafts) for p in self.pending) >= EMBED_GROUP:
            self._flush()

    def _fail(self, path: str, error: str, document_path: str = "") -> None:
        self.tally.fail(path, error)
        current = self.existing.get(document_path or path)
        if current is None:
            Document.objects.update_or_create(team=self.team, source_path=path[:1000], defaults={
                "status": Document.Status.FAILED, "error": error, "url": "", "content_hash": ""})
        else:
            # A previously indexed version keeps serving; the error is kept for the admin to see.
            Document.objects.filter(pk=current.pk).update(error=error)

    # --- the run's end ---------------------------------------------------------------------
    def _flush(self) -> None:
        if self.pending:
            shown = {"percent": -1}

            def embedded(done: int, todo: int) -> None:
                # A big file's chunks take minutes to embed: the run says so, not "parsing" all along.
                percent = done * 100 // todo
                if percent != shown["percent"]:
                    shown["percent"] = percent
                    self._report(self.processed, len(self.sources), f"embedding {percent}%")

            _commit(self.team, self.pending, self.tally, self.model_name, self.known, self.accepted,
                    progress=embedded)
            self.pending = []

    def _sync(self) -> None:
        """A sync run removes the documents it did not see; but an archive, folder or site that could not
        be read at all would make every document in it look missing: then it removes nothing."""
        if not self.run_row.sync:
            return
        unreadable = [s.path for s in self.sources if isinstance(s, SourceFailure) and s.unreadable_input]
        if unreadable:
            self.tally.items.append({"path": ", ".join(unreadable), "status": "failed", "chunks": 0,
                                     "error": "sync skipped: nothing was removed because an input could not be read"})
            return
        self.tally.removed = _remove_missing(self.team, self.seen, self.tally)

    def _report(self, processed: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if self.progress is not None:
            self.progress(processed, total, phase)
        # Throttled: the admin page polls this row, a write per document would be wasteful on big runs.
        # Each write renews the lease; LeaseLost stops a worker whose run another one took over.
        if now - self.last_report >= 0.5 or processed == total:
            self.last_report = now
            leases.lease_renew(IngestRun, pk=self.run_row.pk, owner=self.owner, running=IngestRun.Status.RUNNING,
                               processed=processed, total=total, phase=phase, items=self.tally.items)


def _record_duplicate(team: Team, source: SourceFile, size: int, content_hash: str, title: str, fmt: str,
                      twin: int) -> None:
    with transaction.atomic():
        document, _ = Document.objects.select_for_update().get_or_create(team=team, source_path=source.path)
        deleted, _ = document.chunks.all().delete()
        DocumentStructure.objects.filter(document=document).delete()
        document.duplicate_of_id = twin if twin > 0 else None
        document.status = Document.Status.INDEXED
        document.content_hash, document.title, document.format = content_hash, title[:500], fmt
        document.url = source.url or source.path
        document.size, document.error, document.fingerprint = size, "", []
        document.save()
        if deleted:
            index_version_bump(team)


def _commit(team: Team, pending: list[Pending], tally: Tally, model_name: str, known: Fingerprints,
            accepted: dict[str, int], progress: Callable[[int, int], None] | None = None) -> None:
    """Embed a group of documents' chunks in one pass, then replace each document atomically."""
    from docsbot.documents.embedding import embed_texts

    texts = [draft.text for p in pending for draft in p.drafts]
    hashes = [draft.content_hash for p in pending for draft in p.drafts]
    # Chunks whose exact text is already embedded for this team (e.g. an edit elsewhere in the
    # page) reuse the stored vector instead of being embedded again.
    reusable = dict(Chunk.objects.filter(team=team, content_hash__in=set(hashes), embedding__isnull=False)
                    .values_list("content_hash", "embedding")) if model_name else {}
    todo = [i for i, h in enumerate(hashes) if h not in reusable]
    vectors = embed_texts([texts[i] for i in todo], progress=progress and (lambda done: progress(done, len(todo)))) \
        if todo else np.zeros((0, 0), dtype=np.float32)
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
            document, created = Document.objects.select_for_update().get_or_create(
                team=team, source_path=item.source.path)
            replaced = not created and document.status == Document.Status.INDEXED
            document.chunks.all().delete()
            Chunk.objects.bulk_create([
                Chunk(team=team, document=document, ordinal=ordinal, heading_path=draft.heading_path,
                      anchor=draft.anchor[:300], text=draft.text, token_count=draft.token_count,
                      first_block=draft.blocks[0], end_block=draft.blocks[1], cut=draft.cut,
                      content_hash=draft.content_hash, embedding=blob)
                for ordinal, draft, blob in rows
            ], batch_size=500)
            document.title, document.format = item.title[:500], item.fmt
            document.url = (item.source.url or item.source.path)[:1000]
            document.content_hash, document.status, document.error = item.content_hash, Document.Status.INDEXED, ""
            document.duplicate_of, document.fingerprint, document.size = None, item.fingerprint, item.size
            document.save()
            DocumentStructure.objects.update_or_create(document=document, defaults={"blocks": item.structure})
            index_version_bump(team)
        key = accepted.get(item.source.path)
        if key is not None:  # later pages of this run now point at the real id
            known[:] = [(document.pk if k == key else k, fp) for k, fp in known]
            tally.resolved[key] = document.pk
        tally.documents += 1
        tally.updated += replaced
        tally.chunks += len(rows)
        tally.item(item.source.path, "updated" if replaced else "indexed", chunks=len(rows),
                   note="replaced the earlier text of this path" if replaced else "")


def _remove_missing(team: Team, seen: set[str], tally: Tally) -> int:
    missing = list(Document.objects.filter(team=team).exclude(source_path__in=seen)
                   .values_list("pk", "source_path"))
    if not missing:
        return 0
    with transaction.atomic():
        Document.objects.filter(team=team, pk__in=[pk for pk, _ in missing]).delete()
        index_version_bump(team)
    tally.items.extend({"path": path, "status": "removed", "chunks": 0, "error": ""} for _, path in missing)
    return len(missing)


def index_version_bump(team: Team) -> None:
    """The team's documents changed: search indexes built before now are stale."""
    IndexState.objects.filter(team=team).update(version=uuid.uuid4().hex)
