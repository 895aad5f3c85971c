"""The per-team search index: a dense matrix plus a BM25 matrix, fused by reciprocal rank.

Why not pgvector: docsbot must run the same on SQLite (a laptop checkout) and
PostgreSQL. The database stays the source of truth (chunk text and embedding
bytes); this index is a derived, disposable artefact persisted per team under
DATA_DIR/index/ and rebuilt from the database when missing or stale. Queries
are vectorised: the dense side is one matrix-vector product, BM25 adds up the
query terms' columns of a precomputed weight matrix, then ``argpartition`` picks
the top candidates.

The dense pass is memory-bound (100k x 384 float32 is 154 MB per query). On CPUs
with native bf16 units (AMX / AVX512-BF16) it scans a bf16 copy through torch
(half the bytes, oneDNN kernels: ~3x faster) and re-scores the best
``RESCORE_FACTOR * depth`` rows exactly in float32, so the ranking is the float32
one. The float32 matrix is memory-mapped from disk: only re-scored rows are read.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60
CANDIDATES = 50
RESCORE_FACTOR = 4  # bf16 scores are within ~1e-3 of float32; 4x the depth leaves ample margin

_TOKEN = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it", "its", "of", "on", "or", "so", "that", "the", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your"]
)


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens; identifiers like url_for also yield their parts (url, for)."""
    tokens: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if token not in _STOP:
            tokens.append(token)
        if "_" in token:
            tokens.extend(part for part in token.split("_") if part and part not in _STOP)
    return tokens


def bf16_scan_available() -> bool:
    """True where a bf16 matrix-vector product beats float32 (native bf16 units) and torch is present."""
    return _bf16_scan_available()


@lru_cache(maxsize=1)
def _bf16_scan_available() -> bool:
    if os.environ.get("DOCSBOT_INDEX_SCAN", "auto").lower() == "float32":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
        import torch  # noqa: F401
    except (OSError, ImportError):
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


@dataclass
class SearchIndex:
    chunk_ids: np.ndarray  # int64, one per row
    vectors: np.ndarray  # float32 (n, dim), L2-normalised; memory-mapped once saved and loaded
    bm25: sparse.csc_matrix  # (n, vocab) precomputed BM25 term weights
    vocab: dict[str, int]
    version: str = ""
    scan: str = "auto"  # dense first pass: auto (bf16 where fast), bf16 or float32
    _bf16: Any = field(default=None, init=False, repr=False)  # torch bf16 copy of vectors, built lazily

    @classmethod
    def build(cls, *, chunk_ids: np.ndarray, texts: list[str], vectors: np.ndarray,
              version: str = "") -> SearchIndex:
        vocab: dict[str, int] = {}
        # array('i') keeps 4 bytes per token occurrence; Python int lists would take ~10x that.
        rows, cols = array("i"), array("i")
        for row, text in enumerate(texts):
            ids = [vocab.setdefault(token, len(vocab)) for token in tokenize(text)]
            cols.extend(ids)
            rows.extend([row] * len(ids))
        n = len(texts)
        tf = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32),
             (np.frombuffer(rows, dtype=np.int32), np.frombuffer(cols, dtype=np.int32))),
            shape=(n, max(len(vocab), 1)))
        tf.sum_duplicates()
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if n else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = (BM25_K1 * (1 - BM25_B + BM25_B * lengths / max(avg, 1e-9))).astype(np.float32)
        row_of_entry = np.repeat(np.arange(n), np.diff(tf.indptr))
        data = tf.data * (BM25_K1 + 1) / (tf.data + norm[row_of_entry]) * idf[tf.indices]
        weights = sparse.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape)
        return cls(np.asarray(chunk_ids, dtype=np.int64), np.ascontiguousarray(vectors, dtype=np.float32),
                   weights.tocsc(), vocab, version)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    # --- queries -------------------------------------------------------------
    def uses_bf16_scan(self) -> bool:
        return self.scan == "bf16" or (self.scan == "auto" and bf16_scan_available())

    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> np.ndarray:
        n = len(self)
        if not n:
            return np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(query_vector, dtype=np.float32)
        if not self.uses_bf16_scan() or n <= depth * RESCORE_FACTOR:
            return _top(self.vectors @ query, depth)
        candidates = _top(self._bf16_scores(query), depth * RESCORE_FACTOR)
        candidates.sort()  # ascending rows: sequential reads from the memory-mapped matrix
        exact = self.vectors[candidates] @ query
        return candidates[_top(exact, depth)]

    def prepare(self) -> SearchIndex:
        """Build the bf16 copy now (where it is used) so the first query does not pay for it."""
        if self.uses_bf16_scan() and self._bf16 is None and len(self):
            import torch

            copy = torch.empty(self.vectors.shape, dtype=torch.bfloat16)
            for start in range(0, len(self), 8192):  # blockwise: never a second full float32 copy
                copy[start:start + 8192] = torch.from_numpy(np.array(self.vectors[start:start + 8192]))
            self._bf16 = copy
        return self

    def _bf16_scores(self, query: np.ndarray) -> np.ndarray:
        import torch

        bf16 = self.prepare()._bf16
        with torch.inference_mode():
            scores = torch.nn.functional.linear(torch.from_numpy(query).to(torch.bfloat16)[None], bf16)
            return scores[0].float().numpy()

    def bm25_ranking(self, query: str, depth: int) -> np.ndarray:
        columns = [self.vocab[t] for t in set(tokenize(query)) if t in self.vocab]
        if not columns or not len(self):
            return np.zeros(0, dtype=np.int64)
        # Adding the columns' stored entries in place: no sliced sparse copy per query.
        scores = np.zeros(len(self), dtype=np.float32)
        indptr, indices, data = self.bm25.indptr, self.bm25.indices, self.bm25.data
        for column in columns:
            start, end = indptr[column], indptr[column + 1]
            scores[indices[start:end]] += data[start:end]  # rows are unique within a column
        top = _top(scores, depth)
        return top[scores[top] > 0]

    def search(self, *, query: str, query_vector: np.ndarray | None, k: int,
               mode: str = "hybrid") -> list[tuple[int, float]]:
        """(chunk_id, score) best first. mode: hybrid (RRF of both), dense or bm25."""
        depth = max(CANDIDATES, k)
        rankings = []
        if mode in ("hybrid", "dense") and query_vector is not None:
            rankings.append(self.dense_ranking(query_vector, depth))
        if mode in ("hybrid", "bm25"):
            rankings.append(self.bm25_ranking(query, depth))
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, row in enumerate(ranking.tolist()):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [(int(self.chunk_ids[row]), score) for row, score in best]

    # --- persistence ------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write into a fresh folder, then swap it in, so readers never see half an index."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = directory.parent / f".{directory.name}.{uuid.uuid4().hex}"
        staging.mkdir()
        np.save(staging / "chunk_ids.npy", self.chunk_ids)
        np.save(staging / "vectors.npy", self.vectors)
        sparse.save_npz(staging / "bm25.npz", self.bm25.tocsc(), compressed=False)
        (staging / "vocab.json").write_text(json.dumps(self.vocab))
        (staging / "meta.json").write_text(json.dumps({"version": self.version, "rows": len(self)}))
        old = directory.parent / f".{directory.name}.old.{uuid.uuid4().hex}"
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> SearchIndex | None:
        """The saved index; vectors are memory-mapped (the page cache holds them, shared by processes).

        A later save renames the folder away and deletes it: on POSIX the mapping stays valid.
        """
        try:
            meta = json.loads((directory / "meta.json").read_text())
            return cls(
                np.load(directory / "chunk_ids.npy"),
                np.load(directory / "vectors.npy", mmap_mode="r"),
                sparse.load_npz(directory / "bm25.npz").tocsc(),
                json.loads((directory / "vocab.json").read_text()),
                str(meta["version"]),
            )
        except (OSError, ValueError, KeyError):
            return None


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    depth = min(depth, len(scores))
    if depth == len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, depth - 1)[:depth]
    return part[np.argsort(-scores[part], kind="stable")]
