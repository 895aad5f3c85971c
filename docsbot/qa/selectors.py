"""Reads for question-answer pairs: listings, counts, training datasets and JSONL export."""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from docsbot.core.prompts import NO_ANSWER, ContextChunk, build_messages, format_context
from docsbot.documents.models import Chunk
from docsbot.qa.models import QAPair
from docsbot.teams.models import Team

# RAFT: in this share of training examples the source chunk is left out of the contexts.
# The target is then NO_ANSWER, not the reference answer (RAFT's choice), because the system
# prompt tells the model to answer only from the documents: training it to answer from memory
# there would teach it to ignore its own instructions in production.
SOURCE_LEFT_OUT = 0.2
HELDOUT_K = 5


def pair_list(*, team: Team, status: str | None = None, generator: str | None = None, split: str | None = None,
              document_id: int | None = None, min_score: tuple[str, float] | None = None) -> QuerySet[QAPair]:
    pairs = QAPair.objects.filter(team=team).select_related("document")
    if status:
        pairs = pairs.filter(status=status)
    if generator:
        pairs = pairs.filter(generator=generator)
    if split:
        pairs = pairs.filter(split=split)
    if document_id:
        pairs = pairs.filter(document_id=document_id)
    if min_score:
        name, value = min_score
        pairs = pairs.filter(**{f"scores__{name}__gte": value})
    return pairs.order_by("id")


def pair_counts(*, team: Team) -> dict[str, int]:
    counts = {status: 0 for status in QAPair.Status.values}
    for row in QAPair.objects.filter(team=team).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def pairs_trainable(*, team: Team) -> QuerySet[QAPair]:
    """Pairs a dataset uses: kept by the filters or approved by a person, never rejected ones."""
    return QAPair.objects.filter(team=team, status__in=[QAPair.Status.PENDING, QAPair.Status.APPROVED]) \
        .select_related("chunk", "chunk__document").order_by("id")


@dataclass(frozen=True)
class TrainingDataset:
    train: list[dict]
    heldout: list[dict]
    dataset_hash: str
    pair_ids: list[int]


def _context(chunk_title: str, section: str, text: str, url: str) -> ContextChunk:
    return ContextChunk(title=chunk_title, section=section, text=text, url=url)


def _source_context(chunk: Chunk) -> ContextChunk:
    return _context(chunk.document.title, chunk.section, chunk.text, chunk.link)


def _cited(answer: str, index: int | None) -> str:
    return f"{answer} [{index}]" if index else answer


def _example(*, team: Team, pair: QAPair, contexts: list[ContextChunk], target: str) -> dict:
    messages = build_messages(team=team.name or team.slug, question=pair.question, contexts=contexts)
    messages.append({"role": "assistant", "content": target})
    return {"id": pair.pk, "question": pair.question, "answer": pair.answer,
            "context": format_context(contexts), "messages": messages}


def dataset_build(*, team: Team, distractors: int = 3, seed: int = 0) -> TrainingDataset:
    """RAFT training examples and production-shaped held-out examples, deterministic per seed.

    Train: the source chunk plus ``distractors`` hard negatives (the retrieval hits for the
    question that are not the source), shuffled; in SOURCE_LEFT_OUT of them the source is
    left out and the target is NO_ANSWER. The target quotes the answer and cites the source's
    document number. Held-out: the top-k retrieval hits, exactly as chat would send them.
    Pairs without a source chunk (imports, corrections) are trained with retrieved contexts.
    """
    from docsbot.documents.selectors import chunk_search

    train: list[dict] = []
    heldout: list[dict] = []
    pair_ids: list[int] = []
    for pair in pairs_trainable(team=team):
        rng = random.Random(f"{seed}:{pair.pk}")
        pair_ids.append(pair.pk)
        source = pair.chunk
        if pair.split == QAPair.Split.HELDOUT or source is None:
            hits = chunk_search(team=team, query=pair.question, k=HELDOUT_K)
            contexts = [_context(h.title, h.section, h.text, h.url) for h in hits]
            position = next((i for i, h in enumerate(hits, start=1)
                             if source is not None and (h.chunk_id == source.pk or h.text == source.text)), None)
            example = _example(team=team, pair=pair, contexts=contexts, target=_cited(pair.answer, position))
            (heldout if pair.split == QAPair.Split.HELDOUT else train).append(example)
            continue
        hits = chunk_search(team=team, query=pair.question, k=distractors + 2)
        negatives = [_context(h.title, h.section, h.text, h.url) for h in hits
                     if h.chunk_id != source.pk and h.text != source.text][:distractors]
        contexts = list(negatives)
        if rng.random() < SOURCE_LEFT_OUT and negatives:
            rng.shuffle(contexts)
            train.append(_example(team=team, pair=pair, contexts=contexts, target=NO_ANSWER))
            continue
        contexts.insert(rng.randrange(len(contexts) + 1), _source_context(source))
        position = next(i for i, c in enumerate(contexts, start=1) if c.text == source.text)
        train.append(_example(team=team, pair=pair, contexts=contexts, target=_cited(pair.answer, position)))
    digest = hashlib.sha256(json.dumps([train, heldout], sort_keys=True).encode()).hexdigest()
    return TrainingDataset(train=train, heldout=heldout, dataset_hash=digest, pair_ids=pair_ids)


def pairs_export_jsonl(*, team: Team, pairs: QuerySet[QAPair] | None = None, with_context: bool = False
                       ) -> Iterator[str]:
    """One OpenAI chat fine-tuning line per pair. Plain by default (system, question, answer);
    with_context puts the source chunk in the user turn, in the production prompt format."""
    pairs = pairs if pairs is not None else pairs_trainable(team=team)
    for pair in pairs.select_related("chunk", "chunk__document"):
        if with_context:
            contexts = [_source_context(pair.chunk)] if pair.chunk else []
            messages = build_messages(team=team.name or team.slug, question=pair.question, contexts=contexts)
            messages.append({"role": "assistant", "content": _cited(pair.answer, 1 if contexts else None)})
        else:
            messages = [{"role": "user", "content": pair.question}, {"role": "assistant", "content": pair.answer}]
        yield json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
