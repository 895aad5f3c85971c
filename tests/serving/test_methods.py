"""IA3, prompt tuning, prefix tuning and bottleneck adapters in the embedded engine: each answers as
PEFT (or training/bottleneck.py) does for the same adapter, and mixed traffic all completes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from serving.adapters import AdapterError, load_adapter
from serving.engine import Engine
from serving.methods import GroupAdapter
from tests.serving.helpers import make_adapter, run_greedy

METHODS = ("ia3", "prompt_tuning", "prefix_tuning", "bottleneck")
PROMPTS = ["How do I deploy a widget?", "Rotate the API key", "Install the package, configure the cache, then run it."]
NEW_TOKENS = 6


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Trained-looking weights: every trainable value moved (a fresh adapter is the identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.5)


def build(base: Path, out: Path, method: str, seed: int = 0):
    """An adapter of ``method`` saved to ``out``, and the reference model that computes it."""
    from peft import IA3Config, PrefixTuningConfig, PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from training.bottleneck import BottleneckModel

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    if method == "bottleneck":
        adapted = BottleneckModel.wrap(model, size=8, base_name=str(base))
    else:
        config = {"ia3": IA3Config(task_type="CAUSAL_LM"),
                  "prompt_tuning": PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=5),
                  "prefix_tuning": PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)}[method]
        adapted = get_peft_model(model, config)
    _perturb(adapted, seed)
    adapted.save_pretrained(out)
    return adapted.eval()


def reference_tokens(model, prompt: list[int]) -> list[tuple[int, float]]:
    """Greedy (token, logprob) pairs, each from a full forward pass (no cache)."""
    ids, out = list(prompt), []
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].float(), -1)
            token = int(logprobs.argmax())
            ids.append(token)
            out.append((token, float(logprobs[token])))
    return out


def same(got: list[list[tuple[int, float]]], expected: list[list[tuple[int, float]]]) -> bool:
    """The same tokens with the same log-probabilities (float32, to 1e-4)."""
    return all(len(a) == len(b) and all(x[0] == y[0] and abs(x[1] - y[1]) < 1e-4 for x, y in zip(a, b))
               for a, b in zip(got, expected, strict=True))


def generate(engine: Engine, jobs: list[tuple[list[int], object]]) -> list[list[tuple[int, float]]]:
    """Greedy (token, logprob) pairs for each (prompt, adapter); all jobs are submitted at once."""
    return [[(t.token, t.logprob) for t in r.token_logprobs]
            for r in run_greedy(engine, jobs, max_tokens=NEW_TOKENS, logprobs=0)]


@pytest.fixture(scope="module")
def engine(tiny_base_model):
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=2, max_lora_rank=16, dtype="float32")
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def built(tiny_base_model, tmp_path_factory, engine):
    root = tmp_path_factory.mktemp("methods")
    adapters = {}
    for seed, method in enumerate(METHODS, start=1):
        reference = build(tiny_base_model, root / method, method, seed=seed)
        adapters[method] = (reference, load_adapter(method, root / method, engine.base_info))
    return adapters


@pytest.mark.parametrize("method", METHODS)
def test_it_serves_each_method_as_its_reference_implementation(engine, built, method):
    reference, adapter = built[method]
    assert isinstance(adapter, GroupAdapter) and adapter.method == method
    prompts = [engine.tokenizer(text)["input_ids"] for text in PROMPTS]
    expected = [reference_tokens(reference, p) for p in prompts]
    assert same([generate(engine, [(p, adapter)])[0] for p in prompts], expected)  # alone
    assert same(generate(engine, [(p, adapter) for p in prompts]), expected)  # batched, left-padded together
    assert not same(generate(engine, [(p, None) for p in prompts]), expected)  # the adapter changes the model


def test_it_completes_mixed_method_traffic_with_each_answer_as_alone(engine, built, tiny_base_model, tmp_path):
    lora = load_adapter("lora", make_adapter(tiny_base_model, tmp_path / "lora", rank=8, seed=9), engine.base_info)
    adapters = [None, lora, *(adapter for _, adapter in built.values())]
    prompts = [engine.tokenizer(text)["input_ids"] for text in PROMPTS]
    jobs = [(prompts[i % len(prompts)], adapter) for i, adapter in enumerate(adapters * 2)]
    alone = [generate(engine, [job])[0] for job in jobs]
    before = engine.stats["prefills"]
    assert same(generate(engine, jobs), alone)
    assert engine.stats["prefills"] - before == 1 + len(built)  # one shared LoRA/base batch + one per adapter
    assert engine._batches == {} and engine._slot_users == [0, 0, 0]


def test_it_refuses_a_prefix_for_another_base_model(engine, built, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(Path(built["prefix_tuning"][1].path), tmp_path / "bad")
    weights = load_file(str(tmp_path / "bad" / "adapter_model.safetensors"))
    save_file({k: v[:, :-1].contiguous() for k, v in weights.items()}, str(tmp_path / "bad" /
                                                                           "adapter_model.safetensors"))
    with pytest.raises(AdapterError, match="another base model"):
        load_adapter("bad", tmp_path / "bad", engine.base_info)
