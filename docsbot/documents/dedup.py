"""Near-duplicate detection: MinHash over word 5-shingles, compared in one numpy pass."""
from __future__ import annotations

import hashlib
import re

import numpy as np

PERMUTATIONS = 64
SHINGLE = 5
THRESHOLD = 0.85
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20240601)
_A = _rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"[a-z0-9]+")


def fingerprint(text: str) -> list[int]:
    words = _WORD.findall(text.lower())
    if not words:
        return []
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    hashes = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=7).digest(), "big")
                       for s in shingles], dtype=np.uint64)
    # Modular arithmetic on uint64 wraps; that keeps it a valid (if not textbook) hash family.
    mixed = (hashes[:, None] * _A[None, :] + _B[None, :]) % np.uint64(_PRIME)
    return mixed.min(axis=0).astype(np.int64).tolist()


def find_near_duplicate(candidate: list[int], known: list[tuple[int, list[int]]]) -> int | None:
    """The key of the first known fingerprint estimated at Jaccard >= THRESHOLD, if any."""
    rows = [(key, fp) for key, fp in known if len(fp) == PERMUTATIONS]
    if len(candidate) != PERMUTATIONS or not rows:
        return None
    matrix = np.array([fp for _, fp in rows], dtype=np.int64)
    similarity = (matrix == np.array(candidate, dtype=np.int64)).mean(axis=1)
    best = int(similarity.argmax())
    return rows[best][0] if similarity[best] >= THRESHOLD else None
