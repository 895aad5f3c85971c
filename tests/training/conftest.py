"""transformers' flash-attention code path on a CPU, with its kernels swapped for exact torch ones.

``emulated_flash`` registers an attention implementation that is transformers' own
``flash_attention_forward`` (and flash mask), so the model runs ``_flash_attention_forward``
as on a GPU: packed-sequence detection, ``cu_seq_lens`` handling, varlen vs plain calls. Only
the two kernels underneath are replaced, by per-sequence ``scaled_dot_product_attention``.
"""
from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F

EMULATED_FLASH = "emulated_flash_attention"  # "flash" in the name: transformers treats it as flash


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None, causal: bool) -> torch.Tensor:
    """One sequence, flash layout: [tokens, heads, head_dim] (fewer key/value heads allowed)."""
    out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1),
                                         is_causal=causal, scale=scale, enable_gqa=True)
    return out.transpose(0, 1)


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False):
    """flash_attn's batched kernel: every row is one whole sequence."""
    assert not dropout_p
    return torch.stack([_attend(q[i], k[i], v[i], softmax_scale, causal) for i in range(q.shape[0])])


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=None, max_seqlen_k=None,
                           dropout_p=0.0, softmax_scale=None, causal=False):
    """flash_attn's varlen kernel: sequences back to back, bounded by ``cu_seqlens``."""
    assert not dropout_p and torch.equal(cu_seqlens_q, cu_seqlens_k)
    bounds = cu_seqlens_q.tolist()
    assert max_seqlen_q == max(end - start for start, end in pairwise(bounds))
    return torch.cat([_attend(q[start:end], k[start:end], v[start:end], softmax_scale, causal)
                      for start, end in pairwise(bounds)])


@pytest.fixture
def emulated_flash(monkeypatch) -> Iterator[str]:
    """The name of the emulated flash-attention implementation, registered for this test."""
    import transformers.modeling_flash_attention_utils as flash_utils
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.integrations.flash_attention import flash_attention_forward
    from transformers.masking_utils import flash_attention_mask

    monkeypatch.setitem(AttentionInterface._global_mapping, EMULATED_FLASH, flash_attention_forward)
    monkeypatch.setitem(AttentionMaskInterface._global_mapping, EMULATED_FLASH, flash_attention_mask)
    real_imports = flash_utils._lazy_imports

    def lazy_imports(implementation, *args, **kwargs):
        if implementation == EMULATED_FLASH:
            return flash_attn_func, flash_attn_varlen_func, None, flash_utils._pad_input, flash_utils._unpad_input
        return real_imports(implementation, *args, **kwargs)

    monkeypatch.setattr(flash_utils, "_lazy_imports", lazy_imports)
    monkeypatch.setattr(flash_utils, "_loaded_implementation", None)
    yield EMULATED_FLASH
