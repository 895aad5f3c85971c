"""Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020), self-contained.

After each decoder layer's MLP a small residual block is inserted::

    h = mlp(x);  h' = h + up(act(down(h)))

``down``: hidden -> size, ``up``: size -> hidden, ``up`` initialised to zero so training starts
from the base model exactly (Pfeiffer's placement: once per layer, after the feed-forward block).

Why not a library: the AdapterHub ``adapters`` package pins transformers ~=4.57 (we run 5.x), and
PEFT 0.21 has no bottleneck adapter. The format is our own, next to PEFT's in an adapter folder:
``adapter_config.json`` (``peft_type`` ``BOTTLENECK`` plus the fields of ``BottleneckConfig``) and
``adapter_model.safetensors`` with ``layers.{i}.down.weight|bias`` and ``layers.{i}.up.weight|bias``.
The serving engine reads the same files (serving/methods.py; the two never import each other).
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

PEFT_TYPE = "BOTTLENECK"
ACTIVATIONS = {"relu": nn.functional.relu, "silu": nn.functional.silu, "gelu": nn.functional.gelu}


@dataclass(frozen=True)
class BottleneckConfig:
    size: int  # the bottleneck width
    hidden_size: int
    num_layers: int
    activation: str = "relu"
    base_model_name_or_path: str = ""
    peft_type: str = PEFT_TYPE
    format: int = 1

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if min(self.size, self.hidden_size, self.num_layers) < 1:
            raise ValueError("size, hidden_size and num_layers must be positive")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BottleneckConfig:
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**known)


class Bottleneck(nn.Module):
    """down -> activation -> up, added to its input."""

    def __init__(self, hidden_size: int, size: int, activation: str):
        super().__init__()
        self.down = nn.Linear(hidden_size, size)
        self.up = nn.Linear(size, hidden_size)
        self.activation = activation
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(ACTIVATIONS[self.activation](self.down(hidden)))


class AdaptedMLP(nn.Module):
    """A decoder layer's MLP followed by its bottleneck (skipped while the adapter is disabled)."""

    def __init__(self, mlp: nn.Module, bottleneck: Bottleneck):
        super().__init__()
        self.mlp = mlp
        self.bottleneck = bottleneck
        self.enabled = True

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.mlp(hidden)
        return self.bottleneck(out) if self.enabled else out


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of a transformers causal LM (``model.model.layers``)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList) or not all(hasattr(layer, "mlp") for layer in layers):
        raise ValueError(f"{type(model).__name__}: bottleneck adapters need decoder layers with an .mlp")
    return layers


class BottleneckModel(nn.Module):
    """A base causal LM with a bottleneck after every layer's MLP; only the bottlenecks train.

    It offers the part of PEFT's ``PeftModel`` interface the recipe and evaluation use:
    ``get_base_model``, ``disable_adapter``, ``save_pretrained``, ``generate`` and the adapter
    state dict for checkpoints."""

    def __init__(self, model: nn.Module, config: BottleneckConfig):
        super().__init__()
        self.base_model = model
        self.adapter_config = config
        self.peft_type = PEFT_TYPE
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        reference = next(model.parameters())
        self.blocks = nn.ModuleList()
        for layer in decoder_layers(model):
            block = Bottleneck(config.hidden_size, config.size, config.activation).to(reference.device)
            layer.mlp = AdaptedMLP(layer.mlp, block)
            self.blocks.append(block)

    @classmethod
    def wrap(cls, model: nn.Module, *, size: int, activation: str = "relu", base_name: str = "") -> BottleneckModel:
        layers = decoder_layers(model)
        config = BottleneckConfig(size=size, hidden_size=model.config.hidden_size, num_layers=len(layers),
                                  activation=activation, base_model_name_or_path=base_name)
        return cls(model, config)

    @classmethod
    def from_pretrained(cls, model: nn.Module, path: str | Path) -> BottleneckModel:
        config = BottleneckConfig.from_dict(json.loads((Path(path) / "adapter_config.json").read_text()))
        wrapped = cls(model, config)
        from safetensors.torch import load_file

        wrapped.load_adapter_state_dict(load_file(str(Path(path) / "adapter_model.safetensors")))
        return wrapped

    @property
    def config(self):
        return self.base_model.config

    def get_base_model(self) -> nn.Module:
        return self.base_model

    def forward(self, *args: Any, **kwargs: Any):
        return self.base_model(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any):
        return self.base_model.generate(*args, **kwargs)

    @contextlib.contextmanager
    def disable_adapter(self) -> Iterator[None]:
        adapted = [layer.mlp for layer in decoder_layers(self.base_model)]
        for mlp in adapted:
            mlp.enabled = False
        try:
            yield
        finally:
            for mlp in adapted:
                mlp.enabled = True

    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        return {f"layers.{i}.{name}": tensor for i, block in enumerate(self.blocks)
                for name, tensor in block.state_dict().items()}

    def load_adapter_state_dict(self, weights: dict[str, torch.Tensor]) -> None:
        expected = set(self.adapter_state_dict())
        if set(weights) != expected:
            raise ValueError(f"bottleneck weights: expected {len(expected)} tensors "
                             f"({sorted(expected)[:2]}...), got {sorted(weights)[:4]}")
        for i, block in enumerate(self.blocks):
            prefix = f"layers.{i}."
            block.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})

    def save_pretrained(self, out_dir: str | Path, safe_serialization: bool = True) -> None:
        from safetensors.torch import save_file

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in self.adapter_state_dict().items()}
        save_file(weights, str(out_dir / "adapter_model.safetensors"), metadata={"format": "pt"})
        (out_dir / "adapter_config.json").write_text(json.dumps(asdict(self.adapter_config), indent=2))
