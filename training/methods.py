"""One adapter per method on a loaded base model, and its weights for checkpoints.

LoRA, QLoRA, DoRA, IA3, prompt and prefix tuning are PEFT's; bottleneck adapters are
training/bottleneck.py's. Everything else in the recipe is the same for every method.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from training.config import LORA_METHODS, TrainConfig


def peft_config(config: TrainConfig, *, num_layers: int | None = None,
                linear_names: list[str] | None = None) -> Any:
    """The PEFT config of a PEFT method (a resolved TrainConfig). Adapting some layers only
    (``config.adapted_layers``) needs the model's ``num_layers`` and, for "all-linear", its
    ``linear_names`` (PEFT takes explicit module names with ``layers_to_transform``)."""
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig

    target = config.target_modules
    targets = target if isinstance(target, str) else list(target)
    layers = config.layer_indices(num_layers) if num_layers else None
    if config.method in LORA_METHODS:
        if layers and isinstance(targets, str):
            targets = linear_names
        return LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                          target_modules=targets, bias="none", task_type="CAUSAL_LM",
                          use_dora=config.method == "dora", layers_to_transform=layers)
    if config.method == "ia3":
        # "all-linear" (the default) means PEFT's own choice for the architecture: keys, values and the
        # MLP's down projection for Llama-shaped models, as in the IA3 paper.
        if isinstance(target, str):
            return IA3Config(task_type="CAUSAL_LM")
        return IA3Config(task_type="CAUSAL_LM", target_modules=targets,
                         feedforward_modules=[name for name in targets if "down" in name or "fc2" in name])
    if config.method == "prompt_tuning":
        return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens)
    if config.method == "prefix_tuning":
        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens)
    raise ValueError(f"method {config.method!r} is not a PEFT method")


def add_adapter(model: Any, config: TrainConfig, *, base_name: str) -> Any:
    """``model`` with a fresh adapter of ``config.method``; only the adapter's parameters train."""
    if config.method == "bottleneck":
        from training.bottleneck import BottleneckModel

        return BottleneckModel.wrap(model, size=int(config.rank), base_name=base_name)
    from peft import get_peft_model

    num_layers = getattr(model.config, "num_hidden_layers", None)
    return get_peft_model(model, peft_config(config, num_layers=num_layers, linear_names=linear_module_names(model)))


def linear_module_names(model: Any) -> list[str]:
    """The names of the Linear layers inside the transformer layers ("all-linear" spelled out: PEFT's
    choice too, which leaves the output head out)."""
    import torch

    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not output and ".layers." in f".{name}"})


def adapter_state(model: Any) -> dict[str, Any]:
    """The adapter's weights (what a checkpoint keeps)."""
    if hasattr(model, "adapter_state_dict"):
        return model.adapter_state_dict()
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(model)


def load_adapter_state(model: Any, weights: dict[str, Any]) -> None:
    if hasattr(model, "load_adapter_state_dict"):
        model.load_adapter_state_dict(weights)
        return
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, weights)


def warm_start(model: Any, adapter_dir: Path) -> str | None:
    """Start ``model``'s fresh adapter from a trained one's weights (``adapter_dir``, of the same
    method and shape); None when it did, else why not (the adapter keeps its initialisation)."""
    from safetensors.torch import load_file

    path = Path(adapter_dir) / "adapter_model.safetensors"
    if not path.is_file():
        return f"{adapter_dir} holds no adapter weights"
    weights = load_file(str(path))
    ours = adapter_state(model)
    if {k: tuple(v.shape) for k, v in weights.items()} != {k: tuple(v.shape) for k, v in ours.items()}:
        return (f"the adapter in {adapter_dir} differs in shape from this job's (method, rank, target modules "
                "or adapted layers changed)")
    device = next(iter(ours.values())).device
    load_adapter_state(model, {k: v.to(device) for k, v in weights.items()})
    return None


def sequence_offset(model: Any) -> int:
    """Positions a prompt-tuned model puts before the input (its soft prompt); 0 for every other method."""
    config = getattr(model, "active_peft_config", None)
    peft_type = str(getattr(config, "peft_type", ""))
    return int(config.num_virtual_tokens) if peft_type.endswith("PROMPT_TUNING") else 0


def load_trained(model: Any, adapter_dir: str, *, method: str) -> Any:
    """A saved adapter of ``method`` on ``model`` (tests, evaluation, merging)."""
    if method == "bottleneck":
        from training.bottleneck import BottleneckModel

        return BottleneckModel.from_pretrained(model, adapter_dir)
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_dir)
