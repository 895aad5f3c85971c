"""Which generated drafts are kept: the filters in order (boilerplate, length, grounding, form,
near-duplicates, answerability), a retry of unroutable questions about their page, and the soft
filters balanced so no page is left without pairs. ``screen`` sets each draft's ``reason`` (empty:
kept) and ``scores``; qa.services.qa_generate stores the result."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from docsbot.documents.models import Chunk
from docsbot.qa import filters
from docsbot.qa.generators import Candidate, chunk_body
from docsbot.qa.generators.base import MODEL_WRITTEN
from docsbot.teams.models import Team


def normalise_question(question: str) -> str:
    return re.sub(r"\W+", " ", question.lower()).strip()


@dataclass
class Draft:
    chunk: Chunk
    candidate: Candidate
    scores: dict = field(default_factory=dict)
    reason: str = ""


def screen(drafts: list[Draft], *, team: Team, existing_questions: list[str], include_changelog: bool,
            generator: str, kept_per_document: dict[int, int],
            pairs_before_per_document: dict[int, int] | None = None) -> None:
    """Score every draft; set reason on the first filter it fails. Cheap filters run first so
    retrieval runs only for pairs that could still be kept."""
    from docsbot.documents.embedding import embed_texts

    boilerplate_cache: dict[int, str] = {}
    for draft in drafts:
        chunk, candidate = draft.chunk, draft.candidate
        if chunk.pk not in boilerplate_cache:
            boilerplate_cache[chunk.pk] = filters.boilerplate_kind(
                title=chunk.document.title, heading_path=chunk.heading_path, text=chunk.text,
                include_changelog=include_changelog)
        kind = boilerplate_cache[chunk.pk]
        draft.scores["boilerplate"] = kind or "no"
        if kind:
            draft.reason = "boilerplate"
            continue
        draft.scores["length"] = [len(candidate.question), len(candidate.answer)]
        if not filters.length_ok(candidate.question, candidate.answer):
            draft.reason = "length"
            continue
        draft.scores["grounding"] = filters.grounding_score(candidate.answer, chunk.text)
        if draft.scores["grounding"] < filters.GROUNDING_MIN:
            draft.reason = "grounding"
            continue
        if candidate.kind != MODEL_WRITTEN:  # the forms' precision was measured on the structural rules' pairs
            draft.scores["form"] = filters.weak_form(candidate.question, candidate.answer) or "ok"

    alive = [d for d in drafts if not d.reason]
    if not alive:
        return
    # One embedding call per run, new and existing questions together: per-call overhead and
    # the model's batching make several small calls much slower than one large one.
    texts = [d.candidate.question for d in alive] + list(existing_questions)
    embedded = embed_texts(texts)
    vectors, existing = embedded[:len(alive)], embedded[len(alive):]
    names = [filters.code_names(text) for text in texts]
    for draft, verdict in zip(alive, filters.near_duplicates(vectors, existing if len(existing) else None,
                                                             names_new=names[:len(alive)],
                                                             names_existing=names[len(alive):])):
        draft.scores["duplicate"] = verdict.similarity
        if verdict.duplicate:
            draft.reason = "duplicate"

    # Answerability: the same hybrid ranking as chunk_search, on the team's cached index, with the
    # question vectors computed above.
    from docsbot.documents.search import index_get

    index = index_get(team_id=team.pk)
    # The same text under another page's headings is the same source: Git's man pages include one option list in
    # several pages (`git log --merges` is git-rev-list's `--merges` too).
    same_text: dict[str, set[int]] = {}
    for chunk_id, text, heading_path in Chunk.objects.filter(team=team).values_list("id", "text", "heading_path"):
        same_text.setdefault(body_key(text, heading_path), set()).add(chunk_id)

    def source_rank(draft: Draft, question: str, vector) -> int | None:
        ranked = index.search(query=question, query_vector=vector, k=filters.ANSWERABILITY_K)
        sources = same_text.get(body_key(draft.chunk.text, draft.chunk.heading_path), set()) | {draft.chunk.pk}
        return next((i for i, (chunk_id, _) in enumerate(ranked, start=1) if chunk_id in sources), None)

    for draft, vector in zip(alive, vectors):
        if draft.reason:
            continue
        rank = source_rank(draft, draft.candidate.question, vector)
        draft.scores["answerability"] = filters.answerability_score(rank)
        if rank is None and filters.names_qualified_entry(draft.candidate.question):
            draft.scores["answerability_exempt"] = "qualified name"
        elif rank is None:
            draft.reason = "answerability"
    balance_soft_filters(alive, kept_per_document, pairs_before_per_document)


# Filters whose pairs are often good (hand labels: weak forms about half, questions retrieval could not route back
# about three quarters): held back for review, not dropped.
SOFT_REASONS = ("weak_form", "answerability")


def balance_soft_filters(drafts: list[Draft], kept_per_document: dict[int, int],
                         pairs_before_per_document: dict[int, int] | None = None) -> None:
    """Pairs of a weak form (filters.weak_form) are held back for review, like those retrieval cannot route back.
    Held-back pairs are not kept to fill a thin page: blind readers rejected half of those (8 of 16 over five
    corpora, 2 of 9 off Flask). Only a page that an edit changed (``pairs_before_per_document``) keeps as many pairs
    as it had before from its best held-back ones (routed back first, then weak forms before unroutable questions):
    its stale pairs went, and what changed must not go unlearned because the new pairs fall to a soft filter where
    the old ones did not; and each chunk regenerated there keeps its best held-back pair when none passed, since
    an edited chunk holds a change to teach ("What happens if REQUESTS_CA_FILE is not set?"). A pair kept so
    records which filter it failed in scores["kept_for_coverage"]."""
    before = pairs_before_per_document or {}
    for draft in drafts:
        if not draft.reason and draft.scores.get("form", "ok") != "ok":
            draft.reason = "weak_form"
    by_document: dict[int, list[Draft]] = {}
    for draft in drafts:
        if before.get(draft.chunk.document_id) and (not draft.reason or draft.reason in SOFT_REASONS):
            by_document.setdefault(draft.chunk.document_id, []).append(draft)
    for document_id, drafts_of_page in by_document.items():
        kept = sum(1 for d in drafts_of_page if not d.reason) + kept_per_document.get(document_id, 0)
        held = sorted((d for d in drafts_of_page if d.reason),
                      key=lambda d: (d.reason == "answerability", -d.scores.get("answerability", 0.0)))
        chosen = held[:max(0, before[document_id] - kept)]
        chosen += _best_of_each_bare_chunk(drafts_of_page, held, chosen)
        for draft in chosen:
            draft.scores["kept_for_coverage"] = draft.reason
            draft.reason = ""


def _best_of_each_bare_chunk(drafts: list[Draft], held: list[Draft], chosen: list[Draft]) -> list[Draft]:
    """Per chunk with no kept pair (nor one already ``chosen``), the first of its pairs in ``held``, which is in
    the order the page's held-back pairs are taken."""
    covered = {d.chunk.pk for d in drafts if not d.reason} | {d.chunk.pk for d in chosen}
    best: dict[int, Draft] = {}
    for draft in held:
        if draft.chunk.pk not in covered:
            best.setdefault(draft.chunk.pk, draft)
    return list(best.values())


def body_key(text: str, heading_path: list[str]) -> str:
    """A chunk's text without its heading path, whitespace collapsed, as a short digest (a team may have 100k)."""
    return hashlib.sha1(" ".join(chunk_body(text, heading_path).split()).encode()).hexdigest()
