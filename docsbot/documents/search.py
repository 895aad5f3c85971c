"""Loading, caching and rebuilding the per-team search index (see index.py for why this design).

Loaded indexes stay in process memory, least recently used first out
(DOCSBOT_INDEX_CACHE_TEAMS, default 16 teams), keyed by team and checked against
``IndexState.version`` with one small query per search: a query never re-reads
an index from disk unless another process changed it.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from django.conf import settings

from docsbot.documents.index import SearchIndex
from docsbot.documents.models import Chunk, IndexState

logger = logging.getLogger(__name__)
_cache: OrderedDict[int, SearchIndex] = OrderedDict()
_lock = threading.Lock()


def _cache_put(team_id: int, index: SearchIndex) -> None:
    """Under _lock."""
    _cache[team_id] = index
    _cache.move_to_end(team_id)
    while len(_cache) > settings.INDEX_CACHE_TEAMS:
        _cache.popitem(last=False)


def index_dir(team_id: int) -> Path:
    return Path(settings.DATA_DIR) / "index" / f"team-{team_id}"


def _version(team_id: int) -> str:
    return IndexState.objects.filter(team_id=team_id).values_list("version", flat=True).first() or ""


def _build_from_db(team_id: int, version: str) -> SearchIndex:
    rows = list(Chunk.objects.filter(team_id=team_id, embedding__isnull=False)
                .order_by("id").values_list("id", "text", "embedding"))
    if rows:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype=np.float32).reshape(len(rows), -1)
    else:
        ids, vectors = np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return SearchIndex.build(chunk_ids=ids, texts=[r[1] for r in rows], vectors=vectors, version=version)


def index_get(*, team_id: int) -> SearchIndex:
    """The current index: from memory, else from disk, else rebuilt from the database."""
    version = _version(team_id)
    cached = _cache.get(team_id)
    if cached is not None and cached.version == version:  # the hot path takes no lock
        try:
            _cache.move_to_end(team_id)
        except KeyError:  # evicted meanwhile by another thread; this caller still has it
            pass
        return cached
    with _lock:  # one build at a time; a second caller then finds it cached
        cached = _cache.get(team_id)
        if cached is not None and cached.version == version:
            return cached
        index = SearchIndex.load(index_dir(team_id))
        if index is None or index.version != version:
            index = _build_from_db(team_id, version)
            try:
                index.save(index_dir(team_id))
                index = SearchIndex.load(index_dir(team_id)) or index
            except OSError as exc:  # a read-only data dir still serves from memory
                logger.warning("could not persist the search index for team %s: %s", team_id, exc)
        _cache_put(team_id, index.prepare())
        return index
