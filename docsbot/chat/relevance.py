"""How relevant retrieved chunks are to a question, as cosine similarity.

chunk_search ranks by reciprocal-rank fusion, whose scores say nothing about absolute
relevance; the "docs don't cover it" decision needs a similarity with a fixed scale.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docsbot.documents.selectors import SearchHit


def hit_similarities(*, query: str, hits: Sequence[SearchHit]) -> list[float]:
    """Each hit's cosine to the query: the index's own when retrieval computed it, else embedded
    here (an index built with another model, searched lexically)."""
    if not hits:
        return []
    if all(hit.similarity is not None for hit in hits):
        return [float(hit.similarity) for hit in hits]
    from docsbot.documents.embedding import embed_texts

    vectors = embed_texts([query, *[hit.text for hit in hits]])
    return [float(score) for score in vectors[1:] @ vectors[0]]


def prompt_hits(hits: Sequence[SearchHit], similarities: Sequence[float], *, min_score: float,
                margin: float) -> list[SearchHit]:
    """The hits a prompt holds, most similar first: those at ``min_score`` or above, and within ``margin`` of the
    best one. A small model handed a chunk far less similar than the best quotes it as readily as the best
    (``margin`` <= 0 keeps every relevant hit)."""
    scored = sorted(zip(similarities, range(len(hits))), reverse=True)
    if not scored:
        return []
    floor = max(min_score, scored[0][0] - margin) if margin > 0 else min_score
    return [hits[i] for score, i in scored if score >= floor]
