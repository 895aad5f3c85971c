"""Reads for documents: hybrid retrieval and listings, always filtered to one team."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from docsbot.core.prompts import ContextChunk
from docsbot.documents.models import Chunk, Document, IngestRun
from docsbot.teams.models import Team

SEARCH_MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: int
    title: str
    section: str
    url: str
    score: float  # rank fusion: orders hits, says nothing about absolute relevance
    text: str
    similarity: float | None = None  # cosine to the query, where the dense side ran

    def context(self) -> ContextChunk:
        """The hit as a prompt's document."""
        return ContextChunk(title=self.title, section=self.section, text=self.text, url=self.url)

    def as_json(self) -> dict:
        return {"document": self.document_id, "chunk": self.chunk_id, "title": self.title,
                "section": self.section, "url": self.url, "score": round(self.score, 6), "text": self.text,
                "similarity": None if self.similarity is None else round(self.similarity, 6)}


def chunk_search(*, team: Team, query: str, k: int = 5, mode: str = "hybrid") -> list[SearchHit]:
    """The team's k best chunks for a query: BM25 and dense rankings fused by reciprocal rank."""
    from docsbot.documents.search import index_get

    if mode not in SEARCH_MODES:
        raise ValueError(f"mode must be one of {SEARCH_MODES}")
    query = query.strip()
    if not query or k <= 0:
        return []
    index = index_get(team_id=team.pk)
    if not len(index):
        return []
    similarities: dict[int, float] = {}
    if mode == "bm25":
        ranked = index.search(query=query, query_vector=None, k=k, mode=mode)
    else:
        from docsbot.documents.embedding import embed_query, single_threaded

        with single_threaded():  # one thread for the query embedding and the dense scan (see there)
            vector = embed_query(query)
            if index.vectors.shape[1] != vector.shape[0]:  # index built with another model: lexical only
                vector = None
            ranked = index.search(query=query, query_vector=vector, k=k, mode=mode)
            if vector is not None:
                similarities = index.cosine([chunk_id for chunk_id, _ in ranked], vector)
    chunks = Chunk.objects.filter(team=team, pk__in=[cid for cid, _ in ranked]).select_related("document")
    by_id = {chunk.pk: chunk for chunk in chunks}
    hits = []
    for chunk_id, score in ranked:
        chunk = by_id.get(chunk_id)
        if chunk is None:  # deleted since the index was built
            continue
        hits.append(SearchHit(chunk_id=chunk.pk, document_id=chunk.document_id,
                              title=chunk.document.title, section=chunk.section, url=chunk.link,
                              score=score, text=chunk.text, similarity=similarities.get(chunk.pk)))
    return hits


def document_list(*, team: Team) -> QuerySet[Document]:
    return Document.objects.filter(team=team).order_by("source_path")


def ingest_run_get(*, team: Team, run_id: int) -> IngestRun | None:
    return IngestRun.objects.filter(team=team, pk=run_id).first()
