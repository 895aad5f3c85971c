"""For the serving tests (and the benchmark): small PEFT adapters built against a base model, greedy runs of
the engine, waiting on it."""
from __future__ import annotations

import json
from pathlib import Path


def make_adapter(base_model: Path, out_dir: Path, *, rank: int = 8, seed: int = 0, dora: bool = False,
                 boost_token: int | None = None, base_name: str | None = None, magnitude_spread: float = 0.0,
                 modules_to_save: list[str] | None = None, layers: list[int] | None = None) -> Path:
    """A PEFT LoRA (or DoRA) adapter on all linear layers, saved with save_pretrained.

    With ``boost_token`` the last decoder layer's MLP is rewritten so that the adapter
    makes the model emit that token whatever the input: gate and up projections put
    ``+c*z`` and ``-c*z`` (z = a·x) in two intermediate channels, SiLU(y)*y summed over
    the pair is ``y**2 >= 0``, and down_proj maps those channels onto the token's
    (tied) embedding. Otherwise the LoRA weights are random (``init_lora_weights=False``).
    With ``magnitude_spread`` each DoRA magnitude is scaled by ``1 + spread * N(0, 1)`` per output
    row, as training moves it away from the weight norm it starts at. With ``layers`` only those
    decoder layers are adapted (training's ``adapted_layers``).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from training.methods import linear_module_names

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    targets = linear_module_names(model) if layers else "all-linear"
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, lora_dropout=0.0,
                        init_lora_weights=False, use_dora=dora, modules_to_save=modules_to_save,
                        layers_to_transform=layers)
    peft_model = get_peft_model(model, config)
    if boost_token is not None:
        _boost(peft_model, boost_token, rank, seed)
    if magnitude_spread:
        _spread_magnitudes(peft_model, magnitude_spread)
    peft_model.save_pretrained(out_dir)
    if base_name is not None:
        config_file = out_dir / "adapter_config.json"
        data = json.loads(config_file.read_text())
        data["base_model_name_or_path"] = base_name
        config_file.write_text(json.dumps(data, indent=2))
    (out_dir / "docsbot.json").write_text(json.dumps({
        "base_model": str(base_name or base_model), "method": "dora" if dora else "lora", "rank": rank,
        "dataset_hash": f"test-{seed}", "metrics": {}, "boost_token": boost_token,
    }, indent=2))
    return out_dir


def _boost(peft_model, token: int, rank: int, seed: int) -> None:
    import torch

    generator = torch.Generator().manual_seed(seed)
    scaling = 2.0  # lora_alpha / r
    layers = peft_model.base_model.model.model.layers
    with torch.no_grad():
        for layer in layers:  # everything else off, so only the boost acts
            for module in [*layer.self_attn.children(), *layer.mlp.children()]:
                if hasattr(module, "lora_B"):
                    module.lora_B["default"].weight.zero_()
        mlp = layers[-1].mlp
        hidden = mlp.gate_proj.in_features
        direction = torch.randn(hidden, generator=generator)
        direction /= direction.norm()
        c = 12.0
        for proj in (mlp.gate_proj, mlp.up_proj):
            proj.lora_A["default"].weight.zero_()
            proj.lora_A["default"].weight[0] = direction
            proj.lora_B["default"].weight.zero_()
            proj.lora_B["default"].weight[0, 0] = c / scaling
            proj.lora_B["default"].weight[1, 0] = -c / scaling
        embedding = peft_model.base_model.model.get_input_embeddings().weight[token]
        mlp.down_proj.lora_A["default"].weight.zero_()
        mlp.down_proj.lora_A["default"].weight[0, 0] = 1.0
        mlp.down_proj.lora_A["default"].weight[0, 1] = 1.0
        mlp.down_proj.lora_B["default"].weight.zero_()
        mlp.down_proj.lora_B["default"].weight[:, 0] = embedding / embedding.norm() * 50.0 / scaling


def _spread_magnitudes(peft_model, spread: float) -> None:
    import torch

    with torch.no_grad():
        for module in peft_model.modules():
            vectors = getattr(module, "lora_magnitude_vector", None)
            if vectors is not None and "default" in vectors:
                magnitude = vectors["default"].weight
                magnitude.mul_(1 + spread * torch.randn_like(magnitude))


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (tests.waiting.wait_for: the test fails past the scaled deadline)."""
    from tests import waiting

    return bool(waiting.wait_for(condition, "the engine to get there", seconds=timeout))


def run_greedy(engine, jobs: list[tuple[list[int], object]], *, max_tokens: int = 8, logprobs: int | None = None
               ) -> list:
    """Greedy requests for each (prompt ids, adapter or None), submitted to ``engine`` together; returns the
    requests once every one has ended, and fails the test if any ended in an error."""
    import threading

    from serving.engine import Request, SamplingParams

    done = threading.Semaphore(0)
    errors: list[str] = []

    def emit(event) -> None:
        if event.kind != "delta":
            if event.kind == "error":
                errors.append(event.text)
            done.release()

    requests = [Request(prompt_ids=ids, adapter=adapter, emit=emit,
                        params=SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True,
                                              logprobs=logprobs))
                for ids, adapter in jobs]
    engine.submit(*requests)
    for _ in requests:
        assert done.acquire(timeout=120), "a request never ended"
    assert not errors, errors
    return requests
