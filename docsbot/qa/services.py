"""Writes for question-answer pairs: generation runs, review, import, corrections."""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from docsbot.core import leases
from docsbot.core.errors import AppError
from docsbot.documents.models import Chunk, DocumentStructure
from docsbot.documents.parsing import Block
from docsbot.qa.generators import (
    ChunkInput,
    ChunkResult,
    PairGenerator,
    generator_get,
    vocabulary,
)
from docsbot.qa.generators.inputs import SourceChunk, chunk_inputs, learn_vocabulary
from docsbot.qa.generators.sections import sections_of
from docsbot.qa.models import ChunkRejection, GenerationRun, Generator, QAPair, QATeamSettings
from docsbot.qa.screening import Draft, normalise_question, screen
from docsbot.teams.models import Team

GENERATED = (Generator.STRUCTURAL, Generator.LLM)
TRANSIENT = {"llm_timeout", "llm_error"}  # retried by the next run
Progress = Callable[[int, int], None]


def qa_settings_get(*, team: Team) -> QATeamSettings:
    settings, _ = QATeamSettings.objects.get_or_create(team=team)
    return settings


def split_for(question: str, *, heldout_percent: int) -> str:
    """Stable across runs and machines: a hash of the normalised question, not a random draw."""
    bucket = int(hashlib.sha256(normalise_question(question).encode()).hexdigest()[:8], 16) % 100
    return QAPair.Split.HELDOUT if bucket < heldout_percent else QAPair.Split.TRAIN


@dataclass
class GenerationReport:
    pairs: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    heldout: int = 0
    seconds: float = 0.0
    chunks: int = 0
    chunks_unchanged: int = 0
    chunks_generated: int = 0
    removed_stale: int = 0
    chunk_rejections: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"pairs": self.pairs, "kept": self.kept, "rejected": dict(sorted(self.rejected.items())),
                "heldout": self.heldout, "seconds": round(self.seconds, 2), "chunks": self.chunks,
                "chunks_unchanged": self.chunks_unchanged, "chunks_generated": self.chunks_generated,
                "removed_stale": self.removed_stale, "chunk_rejections": self.chunk_rejections[:20]}


def _source_chunks(chunks: list[Chunk], *, with_structure: bool = True) -> list[SourceChunk]:
    """``chunks`` (their documents selected with them) as generation reads them; a document without a stored
    structure (ingested before it was kept) gives its chunks none."""
    structures = {row.document_id: [Block.from_json(block) for block in row.blocks] for row in
                  DocumentStructure.objects.filter(document_id__in={chunk.document_id for chunk in chunks})} \
        if with_structure else {}
    return [SourceChunk(
        chunk_id=chunk.pk, page=chunk.document_id, heading_path=tuple(chunk.heading_path), text=chunk.text,
        title=chunk.document.title or chunk.document.source_path, structure=structures.get(chunk.document_id, []),
        cut=chunk.cut, span=None if chunk.first_block is None else (chunk.first_block, chunk.end_block))
        for chunk in chunks]


def team_vocabulary_refresh(*, team: Team) -> vocabulary.Vocabulary:
    """Learn the names the team's documents use from all its chunks and store them (after each ingestion)."""
    chunks = list(Chunk.objects.filter(team=team).select_related("document").defer("embedding")
                  .order_by("document_id", "ordinal"))
    learned = learn_vocabulary(_source_chunks(chunks, with_structure=False))
    QATeamSettings.objects.update_or_create(team=team, defaults={"vocabulary": learned.as_json()})
    return learned


def _chunk_inputs(chunks: list[Chunk], names: vocabulary.Vocabulary | None = None) -> list[ChunkInput]:
    return chunk_inputs(_source_chunks(chunks), names)


def _run_generator(generator: PairGenerator, inputs: list[ChunkInput], needed: set[int], progress: Progress | None
                   ) -> dict[int, ChunkResult]:
    """Results for the ``needed`` chunks of ``inputs``: the generator reads every section that holds one of them
    whole, its unchanged chunks included; as many sections at once as the generator's ``concurrency``."""
    todo = [section for section in sections_of(inputs) if any(item.chunk_id in needed for item in section)]
    results: dict[int, ChunkResult] = {}
    with ThreadPoolExecutor(max_workers=getattr(generator, "concurrency", 1)) as pool:
        for section, section_results in zip(todo, pool.map(generator.generate_section, todo)):
            results.update((item.chunk_id, result) for item, result in zip(section, section_results)
                           if item.chunk_id in needed)
            if progress:  # the caller throttles its writes
                progress(len(results), len(needed))
    return results


def qa_generate(*, team: Team, generator: str | None = None, progress: Progress | None = None,
                run: GenerationRun | None = None) -> GenerationReport:
    """Generate, filter and store pairs for the team's chunks that changed since the last run.

    The team's dataset is replaced in one transaction at the end: a failed run changes nothing.
    Pairs of unchanged chunks (same content hash) are kept; generated pairs of chunks that no
    longer exist are removed unless a person approved or edited them.
    """
    started = time.monotonic()
    team_settings = qa_settings_get(team=team)
    name = generator or team_settings.generator
    pair_generator = generator_get(name)
    chunks = list(Chunk.objects.filter(team=team).select_related("document").order_by("document_id", "ordinal"))
    if not chunks:
        raise AppError(f"team {team.slug!r} has no documents; ingest some first")
    report = GenerationReport(chunks=len(chunks))
    current_hashes = {chunk.content_hash for chunk in chunks}
    existing = QAPair.objects.filter(team=team, generator=name)
    done_hashes = set(existing.values_list("chunk_hash", flat=True)) | set(
        ChunkRejection.objects.filter(team=team, generator=name).exclude(reason__in=TRANSIENT)
        .values_list("chunk_hash", flat=True))
    by_id = {chunk.pk: chunk for chunk in chunks}
    # A vocabulary stored by an older docsbot lacks what this one learns (its nouns): learned again.
    names = vocabulary.Vocabulary.from_json(team_settings.vocabulary) \
        if set(vocabulary.EMPTY.as_json()) <= set(team_settings.vocabulary or {}) else team_vocabulary_refresh(team=team)
    # Sections never cross documents: only a document holding a chunk not generated yet is read (and its structure
    # loaded).
    touched = {chunk.document_id for chunk in chunks if chunk.content_hash not in done_hashes}
    all_inputs = _chunk_inputs([chunk for chunk in chunks if chunk.document_id in touched], names)
    # A section is read whole, and a pair may go to any of its chunks: a changed chunk regenerates its section, the
    # unchanged chunks' pairs included. One generation per distinct text: identical chunks on several pages would
    # give duplicate pairs.
    todo: dict[str, ChunkInput] = {}
    for section in sections_of(all_inputs):
        if any(by_id[item.chunk_id].content_hash not in done_hashes for item in section):
            for item in section:
                todo.setdefault(by_id[item.chunk_id].content_hash, item)
    regenerated = set(todo) & done_hashes
    replaced = existing.filter(chunk_hash__in=regenerated).exclude(status=QAPair.Status.APPROVED).exclude(edited=True)
    report.chunks_unchanged = len({c.content_hash for c in chunks} & done_hashes - regenerated)
    report.chunks_generated = len(todo)
    inputs = list(todo.values())
    todo_chunks = [by_id[item.chunk_id] for item in inputs]
    if run is not None:
        GenerationRun.objects.filter(pk=run.pk).update(total=len(inputs), status=GenerationRun.Status.RUNNING)

    results = _run_generator(pair_generator, all_inputs, {item.chunk_id for item in inputs}, progress)
    drafts: list[Draft] = []
    chunk_rejections = []
    for item in inputs:
        result = results[item.chunk_id]
        if result.rejection:
            chunk = by_id[item.chunk_id]
            chunk_rejections.append(ChunkRejection(team=team, chunk=chunk, chunk_hash=chunk.content_hash,
                                                   generator=name, reason=result.rejection,
                                                   detail=result.detail[:1000]))
            report.rejected[result.rejection] += 1
            if len(report.chunk_rejections) < 200:
                report.chunk_rejections.append({"chunk_id": item.chunk_id, "reason": result.rejection,
                                                "detail": result.detail})
        drafts.extend(Draft(by_id[item.chunk_id], candidate) for candidate in result.candidates)
    report.pairs = len(drafts)

    surviving = QAPair.objects.filter(team=team).exclude(status=QAPair.Status.REJECTED)
    stale = _stale_pairs(team=team, current_hashes=current_hashes)
    staying = surviving.exclude(pk__in=stale.values("pk")).exclude(pk__in=replaced.values("pk"))
    existing_questions = list(staying.values_list("question", flat=True))
    unchanged = staying.exclude(chunk_id__in={d.chunk.pk for d in drafts})
    kept_per_document = dict(Counter(unchanged.values_list("document_id", flat=True)))
    pairs_before = dict(Counter(surviving.values_list("document_id", flat=True)))  # stale ones included
    screen(drafts, team=team, existing_questions=existing_questions,
            include_changelog=team_settings.include_changelog, generator=name, kept_per_document=kept_per_document,
            pairs_before_per_document=pairs_before)

    pairs = []
    for draft in drafts:
        kept = not draft.reason
        split = split_for(draft.candidate.question, heldout_percent=team_settings.heldout_percent)
        if kept:
            report.kept += 1
            report.heldout += split == QAPair.Split.HELDOUT
        else:
            report.rejected[draft.reason] += 1
        pairs.append(QAPair(
            team=team, document_id=draft.chunk.document_id, chunk=draft.chunk, chunk_hash=draft.chunk.content_hash,
            question=draft.candidate.question, answer=draft.candidate.answer, generator=name,
            kind=draft.candidate.kind, status=QAPair.Status.PENDING if kept else QAPair.Status.REJECTED,
            split=split, scores=draft.scores, reject_reason=draft.reason,
        ))

    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one writer per team at a time
        stale = _stale_pairs(team=team, current_hashes=current_hashes)
        report.removed_stale = stale.count()
        stale.delete()
        replaced.delete()
        ChunkRejection.objects.filter(team=team, generator=name).filter(
            models.Q(chunk_hash__in=[c.content_hash for c in todo_chunks]) | ~models.Q(chunk_hash__in=current_hashes)
        ).delete()
        ChunkRejection.objects.bulk_create(chunk_rejections, batch_size=500)
        QAPair.objects.bulk_create(pairs, batch_size=500)
        _relink(team=team, chunks=chunks)
    report.seconds = time.monotonic() - started
    return report


def _stale_pairs(*, team: Team, current_hashes: set[str]):
    """Generated pairs whose chunk text no longer exists, except those a person approved or edited."""
    return (QAPair.objects.filter(team=team, generator__in=GENERATED).exclude(chunk_hash__in=current_hashes)
            .exclude(status=QAPair.Status.APPROVED).exclude(edited=True))


def _relink(*, team: Team, chunks: list[Chunk]) -> None:
    """Point kept pairs at the current row of their chunk: re-ingestion may recreate rows."""
    current = {chunk.content_hash: chunk for chunk in chunks}
    for pair in QAPair.objects.filter(team=team).exclude(chunk_hash="").only("id", "chunk_id", "chunk_hash"):
        chunk = current.get(pair.chunk_hash)
        if chunk is not None and pair.chunk_id != chunk.pk:
            QAPair.objects.filter(pk=pair.pk).update(chunk=chunk, document_id=chunk.document_id)


# --- runs (Celery) ------------------------------------------------------------------------

def generation_run_start(*, team: Team, generator: str | None = None) -> GenerationRun:
    """Queue a generation run; the task starts after the transaction commits."""
    from docsbot.qa.tasks import generate_qa_run

    name = generator or qa_settings_get(team=team).generator
    if name not in (Generator.STRUCTURAL, Generator.LLM):
        raise AppError(f"unknown generator {name!r}; use structural or llm")
    run = GenerationRun.objects.create(team=team, generator=name)
    transaction.on_commit(lambda: generate_qa_run.delay(run.pk))
    return run


def generation_run_execute(*, run_id: int, owner: str | None = None) -> GenerationRun:
    """Claim the run with a lease (``docsbot.core.leases``) and run it. A redelivered message runs
    nothing while a live worker holds the run, and takes it over once that worker is gone (lease
    expired, or its process on this host is dead): the pairs are written in one transaction at
    the end, so the run starts over."""
    owner = owner or leases.worker_identity()
    running = GenerationRun.Status.RUNNING
    if not leases.lease_claim(GenerationRun, pk=run_id, owner=owner, queued=GenerationRun.Status.QUEUED,
                              running=running):
        return GenerationRun.objects.get(pk=run_id)
    run = GenerationRun.objects.select_related("team").get(pk=run_id)
    if run.attempts > settings.RUN_MAX_ATTEMPTS:
        leases.lease_finish(GenerationRun, pk=run_id, owner=owner, running=running,
                            status=GenerationRun.Status.FAILED, finished=timezone.now(),
                            error=f"its worker died {run.attempts - 1} times while running it (last at "
                                  f"{run.done}/{run.total}); not tried again (DOCSBOT_RUN_MAX_ATTEMPTS)")
        run.refresh_from_db()
        return run
    last = [0.0]

    def progress(done: int, total: int) -> None:
        # Throttled; each write renews the lease, and LeaseLost stops a worker whose run was taken over.
        keeper.check()
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            leases.lease_renew(GenerationRun, pk=run_id, owner=owner, running=running, done=done, total=total)

    try:
        with leases.lease_kept(lambda: leases.lease_renew(GenerationRun, pk=run_id, owner=owner, running=running),
                               lease_seconds=settings.RUN_LEASE_SECONDS, name=f"generation run {run_id}") as keeper:
            report = qa_generate(team=run.team, generator=run.generator, progress=progress, run=run)
    except leases.LeaseLost:
        run.refresh_from_db()
        return run
    except AppError as exc:
        leases.lease_finish(GenerationRun, pk=run_id, owner=owner, running=running,
                            status=GenerationRun.Status.FAILED, error=str(exc), finished=timezone.now())
    except Exception as exc:
        leases.lease_finish(GenerationRun, pk=run_id, owner=owner, running=running,
                            status=GenerationRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}",
                            finished=timezone.now())
        raise
    else:
        leases.lease_finish(GenerationRun, pk=run_id, owner=owner, running=running,
                            status=GenerationRun.Status.DONE, summary={**report.as_dict(), "attempts": run.attempts},
                            finished=timezone.now())
    run.refresh_from_db()
    return run


def generation_runs_recover() -> list[int]:
    """Requeue generation runs whose worker is gone (lease expired, or its process here is dead)."""
    from docsbot.qa.tasks import generate_qa_run

    recovered = leases.runs_requeue(GenerationRun, running=GenerationRun.Status.RUNNING,
                                    queued=GenerationRun.Status.QUEUED)
    for pk in recovered:
        generate_qa_run.delay(pk)
    return recovered


# --- review ---------------------------------------------------------------------------

def pairs_set_status(*, team: Team, pair_ids: Iterable[int], status: str) -> int:
    if status not in QAPair.Status.values:
        raise AppError(f"unknown status {status!r}")
    reason = "reviewer" if status == QAPair.Status.REJECTED else ""
    return QAPair.objects.filter(team=team, pk__in=list(pair_ids)).update(status=status, reject_reason=reason)


def pair_create_from_correction(*, team: Team, question: str, answer: str,
                                source_chunk_id: int | None = None, kind: str = "correction") -> QAPair:
    """An approved pair from an admin's answer to a chat question: a correction of a thumbs-down
    answer (kind "correction") or an answer to a question the docs did not cover ("unanswered")."""
    if not question.strip() or not answer.strip():
        raise AppError("a correction needs a question and an answer")
    chunk = Chunk.objects.filter(team=team, pk=source_chunk_id).first() if source_chunk_id else None
    if source_chunk_id and chunk is None:
        raise AppError(f"chunk {source_chunk_id} does not belong to team {team.slug!r}")
    settings = qa_settings_get(team=team)
    return QAPair.objects.create(
        team=team, chunk=chunk, document_id=chunk.document_id if chunk else None,
        chunk_hash=chunk.content_hash if chunk else "", question=question.strip(), answer=answer.strip(),
        generator=Generator.CORRECTION, kind=kind, status=QAPair.Status.APPROVED,
        split=split_for(question, heldout_percent=settings.heldout_percent), edited=True,
    )


# --- JSONL import -------------------------------------------------------------------------

@dataclass
class ImportReport:
    imported: int = 0
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "errors": self.errors}


def _pair_from_messages(record: object) -> tuple[str, str]:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise ValueError('expected an object with a "messages" list')  # noqa: TRY004 - a bad line, reported
    messages = record["messages"]
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
               for m in messages):
        raise ValueError('each message needs string "role" and "content"')
    users = [m["content"] for m in messages if m["role"] == "user"]
    assistants = [m["content"] for m in messages if m["role"] == "assistant"]
    if not users or not assistants or messages[-1]["role"] != "assistant":
        raise ValueError("needs a user message and ends with an assistant message")
    question = users[-1]
    # Our own exports carry the documents in the user turn: keep only the question.
    marker = question.rfind("\nQuestion: ")
    if marker != -1:
        question = question[marker + len("\nQuestion: "):]
    question, answer = question.strip(), assistants[-1].strip()
    if not question or not answer:
        raise ValueError("empty question or answer")
    return question, answer


def pairs_import_jsonl(*, team: Team, lines: Iterable[str | bytes], status: str = QAPair.Status.APPROVED
                       ) -> ImportReport:
    """Import OpenAI chat fine-tuning JSONL. Good lines are imported together; bad lines are
    reported by line number and skipped."""
    report = ImportReport()
    settings = qa_settings_get(team=team)
    pairs = []
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        try:
            question, answer = _pair_from_messages(json.loads(line))
        except json.JSONDecodeError as exc:
            report.errors.append({"line": number, "error": f"invalid JSON: {exc.msg}"})
            continue
        except ValueError as exc:
            report.errors.append({"line": number, "error": str(exc)})
            continue
        pairs.append(QAPair(team=team, question=question, answer=answer, generator=Generator.IMPORT, kind="import",
                            status=status, edited=True,
                            split=split_for(question, heldout_percent=settings.heldout_percent)))
    with transaction.atomic():
        QAPair.objects.bulk_create(pairs, batch_size=500)
    report.imported = len(pairs)
    return report
