"""Attention for decode steps on a CPU: one new token per row against its KV cache.

PyTorch's CPU scaled_dot_product_attention runs its blocked flash kernel even for a single query; in bfloat16
with a padding mask that costs ~0.7 ms a layer for 16 rows of ~500 cached tokens (SmolLM2: 9 query heads on 3 KV
heads, one thread), where two small batched matmuls and a softmax take ~0.3 ms (2.7x less at 1,500 tokens, the
same for a single row): ~12 ms of a ~76 ms decode step over 30 layers. In float32 the two are equal, so float32
stays with SDPA, as do prefill (several query tokens) and anything unusual (an additive float mask, a position
bias, soft-capping, attention sinks): transformers' own SDPA path, unchanged. Registered under ``NAME`` with transformers'
attention and mask interfaces; the engine asks for it on CPUs only."""
from __future__ import annotations

import torch

NAME = "docsbot_cpu_decode"


def decode_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                     **kwargs) -> tuple[torch.Tensor, None]:
    """query (batch, heads, 1, dim) against key/value (batch, kv heads, positions, dim); a boolean mask
    (batch, 1, 1, positions), True where a row may attend. Returns (batch, 1, heads, dim), like SDPA's path."""
    batch, heads, queries, dim = query.shape
    kv_heads = key.shape[1]
    plain_mask = attention_mask is None or (attention_mask.dtype == torch.bool and attention_mask.shape[1] == 1)
    if queries != 1 or query.dtype == torch.float32 or not plain_mask or dropout or heads % kv_heads or any(
            kwargs.get(name) is not None for name in ("position_bias", "softcap", "s_aux")):
        # Imported here, not on every decode step's call (nor with serving.engine, which stays free of transformers).
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    # Each KV head's query heads side by side (head h reads KV head h // group, as repeat_kv lays them out), so
    # the cache is read as it is, never repeated.
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    # K q^T, not q K^T: the cache's keys are views into buffers with room (serving.kv_cache), and bf16 matmul on
    # such a view is ~4x slower as the transposed operand (0.92 against 0.21 ms, 16 rows of 490 positions).
    scores = torch.matmul(key, grouped.transpose(-1, -2)).transpose(-1, -2)
    scores.mul_(dim ** -0.5 if scaling is None else scaling)
    if attention_mask is not None:
        scores.masked_fill_(~attention_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(value.dtype)
    out = torch.matmul(weights, value)  # (batch, kv heads, group, dim)
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``NAME`` an attention implementation transformers accepts (its masks are SDPA's); returns it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
