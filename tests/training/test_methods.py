"""Every method through the same config, recipe and artifacts: trains, saves, reloads the same."""
from __future__ import annotations

import json

import pytest
import torch

from tests.training.pairs import fixture_examples
from training.artifacts import export_merged, read_manifest
from training.config import AUTO_VIRTUAL_TOKENS, METHODS, PROMPT_METHODS, TrainConfig
from training.methods import load_trained
from training.recipe import Recipe

TRAIN, _ = fixture_examples(distractors=1)
NEW_METHODS = ("ia3", "prompt_tuning", "prefix_tuning", "bottleneck")


def _train(base, tmp_path, method: str, **values) -> tuple[Recipe, object]:
    config = TrainConfig(method=method, rank=4, max_steps=3, checkpoint_every=2, batch_size=1, max_length=512,
                         **values)
    recipe = Recipe(base_model=str(base), config=config, train_examples=TRAIN[:6], work_dir=tmp_path / "work")
    recipe.setup()
    return recipe, recipe.train()


@pytest.mark.parametrize("method", NEW_METHODS)
def test_it_trains_saves_and_reloads_each_method(tiny_base_model, tmp_path, method):
    from transformers import AutoModelForCausalLM

    recipe, result = _train(tiny_base_model, tmp_path, method)
    try:
        assert result.steps == 3 and all(point["loss"] > 0 for point in result.curve)
        path = recipe.save_adapter(tmp_path / "adapter", dataset_hash="h")
        ids = torch.tensor([[5, 17, 42, 99, 7]])
        recipe.model.eval()
        with torch.no_grad():
            trained = recipe.model(input_ids=ids).logits[:, -ids.shape[1]:]
    finally:
        recipe.cleanup()
    manifest = read_manifest(path)
    assert manifest["method"] == method
    assert manifest["trainable_parameters"] > 0 and manifest["size_bytes"] > manifest["trainable_parameters"]
    assert "vllm" not in manifest["servable_by"] and manifest["serving_note"].startswith("vLLM cannot serve")
    base = AutoModelForCausalLM.from_pretrained(tiny_base_model).eval()
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        reloaded = load_trained(base, str(path), method=method).eval()(input_ids=ids).logits[:, -ids.shape[1]:]
    torch.testing.assert_close(reloaded, trained, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(reloaded, plain, atol=1e-4)  # the adapter changed the model


def test_it_resumes_a_bottleneck_run_from_its_checkpoint(tiny_base_model, tmp_path):
    recipe, first = _train(tiny_base_model, tmp_path, "bottleneck")
    recipe.cleanup()
    again, second = _train(tiny_base_model, tmp_path, "bottleneck")
    again.cleanup()
    assert second.resumed_from == 3 and second.curve == first.curve


def test_it_resolves_method_specific_auto_values():
    rates = {m: TrainConfig(method=m).resolve(num_examples=1000, longest_example=100).learning_rate for m in METHODS}
    assert rates["lora"] < rates["bottleneck"] < rates["ia3"] < rates["prefix_tuning"] < rates["prompt_tuning"]
    for method in PROMPT_METHODS:
        assert TrainConfig(method=method).resolve(num_examples=10, longest_example=100).num_virtual_tokens == \
            AUTO_VIRTUAL_TOKENS[method]
    assert TrainConfig(method="bottleneck", rank=128).rank == 128  # a bottleneck width, not a LoRA rank


@pytest.mark.parametrize("values, message", [
    ({"method": "lora", "num_virtual_tokens": 8}, "num_virtual_tokens: only for"),
    ({"method": "prompt_tuning", "num_virtual_tokens": 0}, "num_virtual_tokens: must be a positive"),
    ({"method": "prefix_tuning", "num_virtual_tokens": 10_000}, "num_virtual_tokens: at most"),
    ({"method": "prompt_tuning", "batching": "pack"}, "cannot be packed"),
    ({"method": "adapterhub"}, "method: must be one of"),
])
def test_it_refuses_bad_method_values(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_it_refuses_to_merge_a_method_that_cannot_be_merged(tmp_path):
    (tmp_path / "docsbot.json").write_text(json.dumps({"method": "prompt_tuning", "base_model": "x"}))
    with pytest.raises(ValueError, match="cannot be merged"):
        export_merged(tmp_path, tmp_path / "out")
