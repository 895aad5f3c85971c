"""The per-team search index: a dense matrix plus a BM25 matrix, fused by reciprocal rank.

Why not pgvector: docsbot must run the same on SQLite (a laptop checkout) and
PostgreSQL. The database stays the source of truth (chunk text and embedding
bytes); this index is a derived, disposable artefact persisted per team under
DATA_DIR/index/ and rebuilt from the database when missing or stale. Queries
are vectorised numpy/scipy: one matrix-vector product for the dense side, one
sparse column sum for BM25 (term weights are precomputed at build time, so a
query only adds up columns), then ``argpartition`` for the top candidates.
"""
from __future__ import annotations

import json
import re
import shutil
import uuid
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60
CANDIDATES = 50

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


@dataclass
class SearchIndex:
    chunk_ids: np.ndarray  # int64, one per row
    vectors: np.ndarray  # float32 (n, dim), L2-normalised
    bm25: sparse.csc_matrix  # (n, vocab) precomputed BM25 term weights
    vocab: dict[str, int]
    version: str = ""

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
    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> np.ndarray:
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        scores = self.vectors @ query_vector.astype(np.float32)
        return _top(scores, depth)

    def bm25_ranking(self, query: str, depth: int) -> np.ndarray:
        columns = [self.vocab[t] for t in set(tokenize(query)) if t in self.vocab]
        if not columns or not len(self):
            return np.zeros(0, dtype=np.int64)
        scores = np.asarray(self.bm25[:, columns].sum(axis=1)).ravel()
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
        try:
            meta = json.loads((directory / "meta.json").read_text())
            return cls(
                np.load(directory / "chunk_ids.npy"),
                np.load(directory / "vectors.npy"),
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
