"""The per-team search index: a dense matrix plus a BM25 matrix, fused by reciprocal rank.

Why not pgvector: docsbot must run the same on SQLite (a laptop checkout) and
PostgreSQL. The database stays the source of truth (chunk text and embedding
bytes); this index is a derived, disposable artefact persisted per team under
DATA_DIR/index/ and rebuilt from the database when missing or stale. Queries
are vectorised: the dense side is one matrix-vector product, BM25 adds up the
query terms' columns of a precomputed weight matrix, then ``argpartition`` picks
the top candidates.

The dense pass is the cost at scale (100k x 384 float32 is 154 MB per query).
Where torch's int8 weight-only kernel is there (``_weight_int8pack_mm``, AVX512) it
scans an int8 copy with a per-row scale (a quarter of the bytes: ~3x faster than
numpy's float32 product) and re-scores the best ``RESCORE_FACTOR * depth`` rows
exactly in float32, so the ranking is the float32 one (int8 scores are within
~0.005 of it). The float32 matrix is memory-mapped from disk: only re-scored rows
are read per query. DOCSBOT_INDEX_SCAN=float32 turns the int8 pass off.
"""
from __future__ import annotations

import json
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
RESCORE_FACTOR = 4  # 4x the depth: a gap far wider than the int8 error before a true top row is lost

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


def int8_scan_available(dim: int) -> bool:
    """torch's int8 kernel is present and safe for this width (it needs a multiple of 16: we ask 32)."""
    return dim % 32 == 0 and dim > 0 and _int8_kernel()


@lru_cache(maxsize=1)
def _int8_kernel() -> bool:
    from django.conf import settings

    if settings.INDEX_SCAN == "float32":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
        import torch

        torch.ops.aten._weight_int8pack_mm  # noqa: B018  (private op: absent in some builds)
    except (OSError, ImportError, AttributeError, RuntimeError):
        return False
    return "avx512f" in flags  # without AVX512 the kernel's scalar path is no faster than numpy


@dataclass
class SearchIndex:
    chunk_ids: np.ndarray  # int64, one per row
    vectors: np.ndarray  # float32 (n, dim), L2-normalised; memory-mapped once saved and loaded
    bm25: sparse.csc_matrix  # (n, vocab) precomputed BM25 term weights
    vocab: dict[str, int]
    version: str = ""
    scan: str = "auto"  # dense first pass: auto (int8 where available) or float32
    _int8: Any = field(default=None, init=False, repr=False)  # (int8 rows, bf16 row scales) as torch tensors

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
    def uses_int8_scan(self) -> bool:
        return self.scan == "auto" and len(self) > 0 and int8_scan_available(self.vectors.shape[1])

    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> np.ndarray:
        n = len(self)
        if not n:
            return np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(query_vector, dtype=np.float32)
        if n <= depth * RESCORE_FACTOR or not self.uses_int8_scan():
            return _top(self.vectors @ query, depth)
        candidates = _top(self._int8_scores(query), depth * RESCORE_FACTOR)
        candidates.sort()  # ascending rows: sequential reads from the memory-mapped matrix
        exact = self.vectors[candidates] @ query
        return candidates[_top(exact, depth)]

    def cosine(self, chunk_ids: list[int], query_vector: np.ndarray) -> dict[int, float]:
        """Exact cosine similarity of the query to each of these chunks (vectors are unit length)."""
        wanted = np.asarray(chunk_ids, dtype=np.int64)
        rows = np.flatnonzero(np.isin(self.chunk_ids, wanted))
        scores = self.vectors[rows] @ np.ascontiguousarray(query_vector, dtype=np.float32)
        return {int(self.chunk_ids[row]): float(score) for row, score in zip(rows, scores)}

    def prepare(self) -> SearchIndex:
        """Quantise now (where the int8 scan is used) so the first query does not pay for it."""
        if self._int8 is None and self.uses_int8_scan():
            import torch

            rows = torch.empty(self.vectors.shape, dtype=torch.int8)
            scales = torch.empty(len(self), dtype=torch.float32)
            for start in range(0, len(self), 8192):  # blockwise: never a second full float32 copy
                block = np.array(self.vectors[start:start + 8192], dtype=np.float32)
                scale = np.maximum(np.abs(block).max(axis=1), 1e-12) / 127.0
                rows[start:start + 8192] = torch.from_numpy(np.rint(block / scale[:, None]).astype(np.int8))
                scales[start:start + 8192] = torch.from_numpy(scale.astype(np.float32))
            self._int8 = (rows, scales.to(torch.bfloat16))
            probe = np.array(self.vectors[0], dtype=np.float32)
            if np.abs(self._int8_scores(probe) - self.vectors @ probe).max() > 0.05:  # a kernel gone wrong
                self.scan, self._int8 = "float32", None
        return self

    def _int8_scores(self, query: np.ndarray) -> np.ndarray:
        import torch

        rows, scales = self._int8 if self._int8 is not None else self.prepare()._int8
        with torch.inference_mode():
            activation = torch.from_numpy(query).to(torch.bfloat16)[None]
            return torch.ops.aten._weight_int8pack_mm(activation, rows, scales)[0].float().numpy()

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
