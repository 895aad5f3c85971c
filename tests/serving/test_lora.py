"""The batched LoRA path computes what PEFT computes, row by row, for LoRA and DoRA adapters."""
from __future__ import annotations

import pytest
import torch

from serving.adapters import AdapterError, BaseModelInfo, load_adapter
from serving.lora import GATHERS_KEPT, THIN_TOKENS, BatchedLoRA
from tests.serving.helpers import make_adapter


@pytest.fixture(scope="module")
def adapters(tiny_base_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("lora-math")
    return {
        "a": make_adapter(tiny_base_model, root / "a", rank=4, seed=1),
        "b": make_adapter(tiny_base_model, root / "b", rank=8, seed=2),
        "d": make_adapter(tiny_base_model, root / "d", rank=4, seed=3, dora=True),
        "u": make_adapter(tiny_base_model, root / "u", rank=4, seed=4, layers=[1]),  # the upper layer only
    }


def _batched(base_path, max_rank=8):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_path).eval()
    lora = BatchedLoRA(model, slots=5, max_rank=max_rank)
    info = BaseModelInfo(served_name=str(base_path), model_path=str(base_path), module_shapes=lora.module_shapes(),
                         base_weight=lora.base_weight, max_rank=max_rank)
    return model, lora, info


def _peft_logits(base_path, adapter_path, ids):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), adapter_path).eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_it_matches_peft_for_every_row_of_a_mixed_batch(tiny_base_model, adapters):
    model, lora, info = _batched(tiny_base_model)
    for slot, key in enumerate(["a", "b", "d", "u"], start=1):
        lora.assign(slot, load_adapter(key, adapters[key], info))
    ids = torch.randint(10, 200, (1, 9), generator=torch.Generator().manual_seed(0))
    batch = ids.repeat(5, 1)
    lora.route([0, 1, 2, 3, 4], "cpu")
    with torch.no_grad():
        mixed = model(input_ids=batch).logits
        lora.route([0], "cpu")
        base = model(input_ids=ids).logits
    assert torch.allclose(mixed[0], base[0], atol=1e-5)
    for row, key in enumerate(["a", "b", "d", "u"], start=1):
        expected = _peft_logits(tiny_base_model, adapters[key], ids)[0]
        assert not torch.allclose(expected, base[0], atol=1e-3)  # the adapter changes something
        assert torch.allclose(mixed[row], expected, atol=1e-4), key


def test_new_routings_gather_into_evicted_tensors_and_still_match_peft(tiny_base_model, adapters):
    model, lora, info = _batched(tiny_base_model)
    for slot, key in enumerate(["a", "b", "u"], start=1):
        lora.assign(slot, load_adapter(key, adapters[key], info))
    ids = torch.randint(10, 200, (1, 9), generator=torch.Generator().manual_seed(1))
    layer = next(iter(lora.layers.values()))
    routings = [[3, 0, 1, 2], [1, 2, 3, 0], [2, 3, 0, 1], [0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 2, 0]]
    assert len(routings) > GATHERS_KEPT  # the later ones evict the first ones' gathers
    seen: list[torch.Tensor] = []
    reused = False
    with torch.no_grad():
        for rows in routings:
            lora.route(rows, "cpu")
            logits = model(input_ids=ids.repeat(len(rows), 1)).logits
            state = lora.state
            current = layer._gathered[(state.slots, state.rank, state.weights)][:2]  # this routing's gather
            reused |= any(tensor is earlier for tensor in current for earlier in seen)
            seen += current
            for row, slot in enumerate(rows):
                expected = _peft_logits(tiny_base_model, adapters["abu"[slot - 1]], ids)[0] if slot else None
                if expected is not None:
                    assert torch.allclose(logits[row], expected, atol=1e-4), (rows, row, slot)
    assert reused  # a later gather filled the very tensors an evicted one had held, not newly allocated ones


def test_it_rejects_a_rank_above_the_maximum(tiny_base_model, adapters):
    _, _, info = _batched(tiny_base_model, max_rank=4)
    with pytest.raises(AdapterError) as caught:
        load_adapter("b", adapters["b"], info)
    assert caught.value.status == 400
    assert "greater than max_lora_rank 4" in caught.value.message


def test_it_uses_the_full_rank_of_a_higher_rank_adapter_put_in_a_slot_the_same_rows_used(tiny_base_model, adapters):
    model, lora, info = _batched(tiny_base_model)  # as with --max-loras 1: one adapter slot, reused
    ids = torch.randint(10, 200, (1, 9), generator=torch.Generator().manual_seed(1))
    for key in ["a", "b"]:  # r=4, then r=8 in the same slot, for the same rows
        lora.assign(1, load_adapter(key, adapters[key], info))
        lora.route([1], "cpu")
        with torch.no_grad():
            served = model(input_ids=ids).logits[0]
        expected = _peft_logits(tiny_base_model, adapters[key], ids)[0]
        error = float((served - expected).abs().max())
        assert error < 1e-4, (key, error)


@pytest.fixture(scope="module")
def biased_base_model(tmp_path_factory):
    """A tiny Qwen2-shaped model: biases in the q/k/v projections (set non-zero), none elsewhere."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0.0, 1.0)
    path = tmp_path_factory.mktemp("qwen2-shaped") / "base"
    model.save_pretrained(path)
    return path


def test_it_leaves_the_base_bias_out_of_the_dora_magnitude_scaling(biased_base_model, tmp_path):
    adapter = make_adapter(biased_base_model, tmp_path / "dora", rank=4, seed=3, dora=True, magnitude_spread=0.3)
    model, lora, info = _batched(biased_base_model)
    lora.assign(1, load_adapter("dora", adapter, info))
    ids = torch.randint(10, 200, (1, 9), generator=torch.Generator().manual_seed(2))
    lora.route([1], "cpu")
    with torch.no_grad():
        served = model(input_ids=ids).logits[0]
    expected = _peft_logits(biased_base_model, adapter, ids)[0]
    error = float((served - expected).abs().max())
    assert error < 1e-4, error


def test_a_bfloat16_base_on_a_cpu_multiplies_lora_in_float32_and_still_matches_peft(tiny_base_model, adapters):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base_model, dtype=torch.bfloat16).eval()
    lora = BatchedLoRA(model, slots=3, max_rank=8)
    info = BaseModelInfo(served_name=str(tiny_base_model), model_path=str(tiny_base_model),
                         module_shapes=lora.module_shapes(), base_weight=lora.base_weight, max_rank=8,
                         dtype=torch.bfloat16, lora_dtype=lora.dtype)
    loaded = {key: load_adapter(key, adapters[key], info) for key in ["a", "b"]}
    assert lora.dtype == torch.float32
    assert all(w.a.dtype == w.b.dtype == torch.float32 for w in loaded["a"].modules.values())
    for slot, key in enumerate(["a", "b"], start=1):
        lora.assign(slot, loaded[key])
    # A decode-sized pass (float32 LoRA) and a prefill-sized one (bfloat16); each row its own adapter, and one
    # adapter for the whole batch.
    for length, slots in [(length, slots) for length in (9, THIN_TOKENS + 8) for slots in ([1, 2], [2])]:
        ids = torch.randint(10, 200, (1, length), generator=torch.Generator().manual_seed(length))
        lora.route(slots, "cpu")
        with torch.no_grad():
            served = model(input_ids=ids.repeat(len(slots), 1)).logits.float()
            base = AutoModelForCausalLM.from_pretrained(tiny_base_model).eval()(input_ids=ids).logits[0]
        for row, slot in enumerate(slots):
            expected = _peft_logits(tiny_base_model, adapters["ab"[slot - 1]], ids)[0]
            effect = float((expected - base).abs().max())  # what the adapter changes, in float32
            error = float((served[row] - expected).abs().max())  # bfloat16 rounding, and nothing else
            assert error < 0.05 * effect, (length, slots, row, error, effect)
