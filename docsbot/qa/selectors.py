"""Reads for question-answer pairs: listings, counts, training datasets and JSONL export."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from docsbot.core.prompts import NO_ANSWER, ContextChunk, build_messages, format_context
from docsbot.documents.excerpts import prompt_contexts
from docsbot.documents.models import Chunk
from docsbot.qa.models import Generator, QAPair
from docsbot.teams.models import Team

# RAFT: in this share of training examples the source chunk is left out of the contexts.
# The target is then NO_ANSWER, not the reference answer (RAFT's choice), because the system
# prompt tells the model to answer only from the documents: training it to answer from memory
# there would teach it to ignore its own instructions in production.
SOURCE_LEFT_OUT = 0.1
# In this share of the examples the prompt holds fewer documents (down to one): chat drops hits far
# below the best one, so its prompts often hold one or two documents, and an adapter that only ever
# saw full prompts answered those with a bare "[1]".
FEWER_DOCUMENTS = 1 / 3
HELDOUT_K = 4  # chunks per held-out prompt: chat's default DOCSBOT_CHAT_TOP_K
# A team with few pairs gets each pair several times, with other distractors in other places (RAFT
# resampling), up to this many training examples: ~20 examples seen over and over taught SmolLM2
# where the source had stood, not to find it (it answered every question with the not-covered reply).
MIN_TRAIN_EXAMPLES = 100
MAX_VARIANTS = 4
# The gate wants this many held-out pairs; a team whose hash split gives fewer lends training
# pairs to the held-out set, up to HELDOUT_MAX_SHARE of its pairs.
HELDOUT_TARGET = 50
HELDOUT_MAX_SHARE = 0.25
WITHHELD_EVERY = 2  # every 2nd held-out pair also gets a withheld-source example (not-covered accuracy)


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
    heldout_pairs: int = 0
    note: str = ""
    # The held-out pairs as training examples, for a team with fewer pairs than HELDOUT_TARGET
    # held out: once the gate has judged the recipe on the split, the version is trained again on
    # train + refit (adapters.runner), so a small team's served adapter learns every pair.
    refit: list[dict] = field(default_factory=list)
    # Pairs from user feedback (chat corrections and answered unanswered questions): total, per kind, held out.
    feedback_pairs: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The dataset as the job's snapshot file holds it (adapters.services.dataset_snapshot_write)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict) -> TrainingDataset:
        """A snapshot or a ``--dataset`` file read back; only ``train`` is required, the rest defaults."""
        if not isinstance(values, dict) or not isinstance(values.get("train"), list):
            raise ValueError("a dataset is an object with a 'train' list of examples")  # noqa: TRY004 - bad input, not a bug
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"heldout": [], "dataset_hash": "", "pair_ids": [],
                      **{key: value for key, value in values.items() if key in known}})


def _context(chunk_title: str, section: str, text: str, url: str) -> ContextChunk:
    return ContextChunk(title=chunk_title, section=section, text=text, url=url)


def _source_context(chunk: Chunk) -> ContextChunk:
    return _context(chunk.document.title, chunk.section, chunk.text, chunk.link)


def _cited(answer: str, index: int | None) -> str:
    return f"{answer} [{index}]" if index else answer


def _example(*, team: Team, pair: QAPair, contexts: list[ContextChunk], target: str,
             source_number: int | None = None) -> dict:
    """The pair as a prompt with ``contexts`` cut to their excerpts (chat's); a training example's
    source (``source_number``, its place in ``contexts`` from 1) stays whole when its excerpt lost the answer the
    target quotes, so no target teaches the model to say what its documents do not."""
    excerpts = prompt_contexts(pair.question, contexts)
    if source_number is not None:
        whole, cut = contexts[source_number - 1], excerpts[source_number - 1]
        if _answers_in(whole.text, pair.answer) and not _answers_in(cut.text, pair.answer):
            excerpts[source_number - 1] = whole
    messages = build_messages(team=team.name or team.slug, question=pair.question, contexts=excerpts)
    messages.append({"role": "assistant", "content": target})
    return {"id": pair.pk, "question": pair.question, "answer": pair.answer,
            "context": format_context(excerpts), "messages": messages}


def heldout_pair_ids(pairs: list[QAPair]) -> set[int]:
    """The split's held-out pairs, topped up from training pairs (in a stable hash order) towards
    HELDOUT_TARGET, never beyond HELDOUT_MAX_SHARE of the team's pairs."""
    chosen = {p.pk for p in pairs if p.split == QAPair.Split.HELDOUT}
    room = min(HELDOUT_TARGET, int(len(pairs) * HELDOUT_MAX_SHARE)) - len(chosen)
    if room > 0:
        lendable = sorted((p for p in pairs if p.pk not in chosen and p.chunk_id is not None),
                          key=lambda p: hashlib.sha256(p.question.encode()).hexdigest())
        chosen.update(p.pk for p in lendable[:room])
    return chosen


def _answers_in(text: str, answer: str) -> bool:
    return " ".join(answer.split())[:80].lower() in " ".join(text.split()).lower()


def _heldout_examples(*, team: Team, pair: QAPair, with_withheld: bool) -> list[dict]:
    """Production-shaped held-out examples: the top-k retrieval hits as chat would send them, with
    the source chunk put in the last place when retrieval missed it (the reference cites it); and,
    when asked, the same question with the source (and any chunk holding the answer) withheld, whose
    reference is the not-covered reply."""
    from docsbot.documents.selectors import chunk_search

    source = pair.chunk
    hits = chunk_search(team=team, query=pair.question, k=HELDOUT_K + 1)
    contexts = [_context(h.title, h.section, h.text, h.url) for h in hits]
    if source is None:
        return [_example(team=team, pair=pair, contexts=contexts[:HELDOUT_K], target=pair.answer)]
    is_source = [h.chunk_id == source.pk or h.text == source.text for h in hits]
    covered = contexts[:HELDOUT_K]
    if not any(is_source[:HELDOUT_K]):
        covered = covered[:HELDOUT_K - 1] + [_source_context(source)]
    position = next(i for i, c in enumerate(covered, start=1) if c.text == source.text)
    examples = [_example(team=team, pair=pair, contexts=covered, target=_cited(pair.answer, position))]
    if with_withheld:
        others = [c for c, own in zip(contexts, is_source, strict=True)
                  if not own and not _answers_in(c.text, pair.answer)][:HELDOUT_K]
        if others:
            withheld = _example(team=team, pair=pair, contexts=others, target=NO_ANSWER)
            withheld["withheld"] = True
            examples.append(withheld)
    return examples


def dataset_build(*, team: Team, distractors: int = 3, seed: int = 0) -> TrainingDataset:
    """RAFT training examples and production-shaped held-out examples, deterministic per seed.

    Train: the source chunk plus ``distractors`` hard negatives (the retrieval hits for the
    question that are not the source), shuffled; in SOURCE_LEFT_OUT of them the source is
    left out and the target is NO_ANSWER. The target quotes the answer and cites the source's
    document number. Held-out: see ``_heldout_examples``.
    Pairs without a source chunk (imports, corrections) are trained with retrieved contexts.
    Refit: the held-out pairs' training examples, for a team with fewer held-out pairs than
    HELDOUT_TARGET (see TrainingDataset.refit).
    """
    train: list[dict] = []
    heldout: list[dict] = []
    refit: list[dict] = []
    pairs = list(pairs_trainable(team=team))
    heldout_ids = heldout_pair_ids(pairs)
    heldout_count = 0
    training_pairs = len(pairs) - len(heldout_ids)
    variants = min(MAX_VARIANTS, max(1, -(-MIN_TRAIN_EXAMPLES // max(1, training_pairs))))
    page_variants = _variants_per_page([p for p in pairs if p.pk not in heldout_ids], variants)
    for pair in pairs:
        if pair.pk in heldout_ids:
            heldout.extend(_heldout_examples(team=team, pair=pair,
                                             with_withheld=heldout_count % WITHHELD_EVERY == WITHHELD_EVERY - 1))
            heldout_count += 1
            if len(heldout_ids) < HELDOUT_TARGET:
                refit.extend(_training_examples(team=team, pair=pair, distractors=distractors,
                                                variants=page_variants(pair), seed=seed))
            continue
        train.extend(_training_examples(team=team, pair=pair, distractors=distractors, variants=page_variants(pair),
                                        seed=seed))
    note = "" if heldout_count >= HELDOUT_TARGET else (
        f"only {heldout_count} held-out pairs (the gate wants {HELDOUT_TARGET}; at most "
        f"{HELDOUT_MAX_SHARE:.0%} of the team's {len(pairs)} pairs are held out): the significance test has "
        "little power at this size; add documents or pairs")
    digest = hashlib.sha256(json.dumps([train, heldout, *([refit] if refit else [])], sort_keys=True).encode()
                            ).hexdigest()
    return TrainingDataset(train=train, heldout=heldout, dataset_hash=digest, pair_ids=[p.pk for p in pairs],
                           heldout_pairs=heldout_count, note=note, refit=refit,
                           feedback_pairs=feedback_pair_counts(pairs, heldout_ids=heldout_ids))


def _variants_per_page(training_pairs: list[QAPair], variants: int) -> Callable[[QAPair], int]:
    """How many RAFT variants a pair gets: ``variants`` on a page with the median number of training pairs, fewer
    (down to one) on a page with many more. A small team's pairs often come mostly from one page (a table of
    settings: 17 of the demo's 30), and repeated four times its answers' form became the adapter's: it opened every
    answer with that page's backtick. A team with enough pairs for one variant each is unchanged."""
    per_page = Counter(pair.document_id for pair in training_pairs)
    typical = statistics.median(per_page.values()) if per_page else 1

    def for_pair(pair: QAPair) -> int:
        return max(1, min(variants, round(variants * typical / per_page.get(pair.document_id, typical))))

    return for_pair


def _training_examples(*, team: Team, pair: QAPair, distractors: int, variants: int, seed: int) -> list[dict]:
    """One pair's RAFT examples (``variants`` draws of distractors); a pair without a source chunk
    (imports, corrections) is trained with its retrieved contexts."""
    from docsbot.documents.selectors import chunk_search

    source = pair.chunk
    if source is None:
        hits = chunk_search(team=team, query=pair.question, k=HELDOUT_K)
        contexts = [_context(h.title, h.section, h.text, h.url) for h in hits]
        return [_example(team=team, pair=pair, contexts=contexts, target=pair.answer)]
    hits = chunk_search(team=team, query=pair.question, k=distractors + 2 + (variants > 1) * distractors)
    negatives = [_context(h.title, h.section, h.text, h.url) for h in hits
                 if h.chunk_id != source.pk and h.text != source.text
                 and not _answers_in(h.text, pair.answer)]
    examples = []
    for variant in range(variants):
        rng = random.Random(f"{seed}:{pair.pk}" if variant == 0 else f"{seed}:{pair.pk}:{variant}")
        examples.append(_raft_example(team=team, pair=pair, rng=rng, negatives=negatives[:distractors] if
                                      variant == 0 else rng.sample(negatives, min(distractors, len(negatives)))))
    return examples


def _raft_example(*, team: Team, pair: QAPair, rng: random.Random, negatives: list[ContextChunk]) -> dict:
    """The source among the distractors in a random place, the answer citing it; or, in SOURCE_LEFT_OUT of
    them, the distractors alone and the not-covered reply. In FEWER_DOCUMENTS of either kind the prompt holds
    fewer documents (some distractors, none down to the source alone), so how many a prompt holds says
    nothing about whether it answers."""
    size = len(negatives) + 1
    fewer = rng.random() < FEWER_DOCUMENTS and size > 1
    if fewer:
        size = rng.randint(1, size - 1)
    if rng.random() < SOURCE_LEFT_OUT and negatives:
        contexts = rng.sample(negatives, min(size, len(negatives)))
        return _example(team=team, pair=pair, contexts=contexts, target=NO_ANSWER)
    contexts = rng.sample(negatives, size - 1) if fewer else list(negatives)
    contexts.insert(rng.randrange(len(contexts) + 1), _source_context(pair.chunk))
    position = next(i for i, c in enumerate(contexts, start=1) if c.text == pair.chunk.text)
    return _example(team=team, pair=pair, contexts=contexts, target=_cited(pair.answer, position),
                    source_number=position)


def feedback_pair_counts(pairs: list[QAPair], *, heldout_ids: set[int]) -> dict:
    """How many of a dataset's pairs came from user feedback: an admin's correction of a thumbs-down
    answer ("correction") or answer to a question the docs did not cover ("unanswered")."""
    from_feedback = [p for p in pairs if p.generator == Generator.CORRECTION]
    kinds: dict[str, int] = {}
    for pair in from_feedback:
        kinds[pair.kind or "correction"] = kinds.get(pair.kind or "correction", 0) + 1
    return {"total": len(from_feedback), "kinds": kinds,
            "heldout": sum(1 for p in from_feedback if p.pk in heldout_ids)}


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
