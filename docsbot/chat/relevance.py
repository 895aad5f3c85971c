"""How relevant retrieved chunks are to a question, as cosine similarity.

chunk_search ranks by reciprocal-rank fusion, whose scores say nothing about absolute
relevance; the "docs don't cover it" decision needs a similarity with a fixed scale.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def hit_similarities(*, query: str, hits: Sequence[Any]) -> list[float]:
    """Each hit's cosine to the query: the index's own when retrieval computed it, else embedded
    here (an index built with another model, searched lexically)."""
    if not hits:
        return []
    if all(getattr(hit, "similarity", None) is not None for hit in hits):
        return [float(hit.similarity) for hit in hits]
    from docsbot.documents.embedding import embed_texts

    vectors = embed_texts([query, *[hit.text for hit in hits]])
    return [float(score) for score in vectors[1:] @ vectors[0]]
