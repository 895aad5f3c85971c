"""Decode-step attention on a CPU (serving.cpu_attention): the same numbers as SDPA, and what the engine runs."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from serving import cpu_attention
from serving.engine import Engine
from tests.serving.helpers import run_greedy


class _Grouped(torch.nn.Module):
    num_key_value_groups = 3  # 9 query heads on 3 KV heads, as SmolLM2's
    is_causal = True


def _inputs(queries: int, seed: int = 0, dtype: torch.dtype = torch.bfloat16):
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(4, 9, queries, 16, generator=generator).to(dtype)
    key, value = (torch.randn(4, 3, 12, 16, generator=generator).to(dtype) for _ in range(2))
    mask = torch.ones(4, 1, queries, 12, dtype=torch.bool)
    mask[1, ..., :5] = False  # left padding, as the engine's batches have
    mask[3, ..., :11] = False
    return query, key, value, mask


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_its_decode_step_equals_sdpa_on_grouped_heads_and_padding(masked, dtype):
    query, key, value, mask = _inputs(queries=1, dtype=dtype)
    mask = mask if masked else None
    ours, _ = cpu_attention.decode_attention(_Grouped(), query, key, value, mask, scaling=0.25)
    theirs, _ = sdpa_attention_forward(_Grouped(), query, key, value, mask, scaling=0.25)
    assert ours.shape == theirs.shape == (4, 1, 9, 16)
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-10  # bf16 keeps ~3 significant digits
    torch.testing.assert_close(ours, theirs, rtol=tolerance, atol=tolerance)


def test_it_leaves_prefill_float32_and_float_masks_to_sdpa():
    query, key, value, mask = _inputs(queries=3)
    ours, _ = cpu_attention.decode_attention(_Grouped(), query, key, value, mask)
    theirs, _ = sdpa_attention_forward(_Grouped(), query, key, value, mask)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    query, key, value, mask = _inputs(queries=1, dtype=torch.float32)
    ours, _ = cpu_attention.decode_attention(_Grouped(), query, key, value, mask)
    theirs, _ = sdpa_attention_forward(_Grouped(), query, key, value, mask)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    query, key, value, mask = _inputs(queries=1)
    additive = torch.zeros(mask.shape, dtype=query.dtype).masked_fill(~mask, float("-inf"))
    ours, _ = cpu_attention.decode_attention(_Grouped(), query, key, value, additive)
    theirs, _ = sdpa_attention_forward(_Grouped(), query, key, value, additive)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_the_engine_decodes_with_it_on_a_cpu_and_generates_what_transformers_generates(tiny_base_model):
    # bfloat16, where decode steps take the matmul path (float32 ones stay SDPA's); the rows are left-padded
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=1, max_lora_rank=8, dtype="bfloat16")
    try:
        assert engine.model.config._attn_implementation == cpu_attention.NAME
        prompts = [engine.tokenizer(text)["input_ids"] for text in
                   ["Deploy", "How do I rotate the API keys of a team?", "Install it, then run the migrations."]]
        batched = [request.generated for request in run_greedy(engine, [(p, None) for p in prompts], max_tokens=16)]
    finally:
        engine.shutdown()
    reference = AutoModelForCausalLM.from_pretrained(str(tiny_base_model), dtype=torch.bfloat16,
                                                     attn_implementation="sdpa").eval()
    reference.generation_config.eos_token_id = None  # the engine's requests ignore the end token
    for prompt, tokens in zip(prompts, batched):
        output = reference.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                    max_new_tokens=len(tokens), do_sample=False)
        assert output[0, len(prompt):].tolist() == tokens
