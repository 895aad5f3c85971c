"""Adapters that are not LoRA: IA3, prompt tuning, prefix tuning and bottleneck adapters.

None of them can share a forward pass with other adapters the way LoRA slots do: a soft
prompt or a prefix changes the sequence (its length and KV cache), IA3 rescales activations
and a bottleneck adds a residual MLP after each layer's MLP. The engine therefore runs the
requests of one such adapter in a batch of their own (``serving.engine``), with the adapter
applied to the whole forward pass:

- IA3 (PEFT): ``y = W (x * l)`` on feed-forward modules, ``y = (W x) * l`` on the others;
- bottleneck (docsbot's format, written by training/bottleneck.py; serving never imports
  training, so the three lines of math are restated here): ``h + up(act(down(h)))`` after
  each decoder layer's MLP;
- prompt tuning (PEFT): ``num_virtual_tokens`` learned embeddings before the prompt;
- prefix tuning (PEFT): learned keys and values at the start of every layer's KV cache, the
  prompt's positions starting after them (as PEFT does).
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

_IA3_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.ia3_l(\.weight)?$")
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": nn.functional.relu, "silu": nn.functional.silu, "gelu": nn.functional.gelu}


@dataclass(frozen=True)
class ModelDims:
    """What a non-LoRA adapter must match in the served model."""

    hidden_size: int
    num_layers: int
    num_kv_heads: int
    head_dim: int

    @classmethod
    def from_config(cls, config) -> ModelDims:
        heads = config.num_attention_heads
        return cls(hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
                   num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
                   head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads)


@dataclass
class GroupAdapter:
    """A loaded non-LoRA adapter version; identity marks the version (as AdapterWeights)."""

    name: str
    path: str
    method: str  # ia3 | prompt_tuning | prefix_tuning | bottleneck
    version: int = 0
    scales: dict[str, tuple[torch.Tensor, bool]] = field(default_factory=dict)  # ia3: module -> (l, on input)
    blocks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    activation: str = "relu"
    prompt: torch.Tensor | None = None  # prompt tuning: (virtual tokens, hidden)
    prefix: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # per layer (kv heads, n, dim)
    nbytes: int = 0

    def __post_init__(self) -> None:
        tensors = [t for t, _ in self.scales.values()] + [t for block in self.blocks for t in block]
        tensors += [t for pair in self.prefix for t in pair] + ([self.prompt] if self.prompt is not None else [])
        self.nbytes = sum(t.numel() * t.element_size() for t in tensors)

    @property
    def virtual_tokens(self) -> int:
        """Positions before the prompt: the soft prompt's tokens or the prefix's length."""
        if self.prompt is not None:
            return int(self.prompt.shape[0])
        return int(self.prefix[0][0].shape[1]) if self.prefix else 0

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """The adapter's hooks on ``model`` for one forward pass (IA3 and bottleneck; none for prompts)."""
        handles = []
        try:
            for name, (scale, on_input) in self.scales.items():
                module = model.get_submodule(name)
                if on_input:
                    handles.append(module.register_forward_pre_hook(_scale_input(scale)))
                else:
                    handles.append(module.register_forward_hook(_scale_output(scale)))
            for layer, block in zip(model.model.layers, self.blocks):
                handles.append(layer.mlp.register_forward_hook(_bottleneck(block, _ACTIVATIONS[self.activation])))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def prefix_layers(self, rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The prefix's keys and values for ``rows`` rows: a KV cache to prefill after."""
        return [(k.unsqueeze(0).expand(rows, -1, -1, -1).contiguous(),
                 v.unsqueeze(0).expand(rows, -1, -1, -1).contiguous()) for k, v in self.prefix]


def _scale_input(scale: torch.Tensor):
    def hook(module, args):
        return (args[0] * scale, *args[1:])
    return hook


def _scale_output(scale: torch.Tensor):
    def hook(module, args, output):
        return output * scale
    return hook


def _bottleneck(block: tuple[torch.Tensor, ...], activation: Callable[[torch.Tensor], torch.Tensor]):
    down_w, down_b, up_w, up_b = block

    def hook(module, args, output):
        return output + nn.functional.linear(activation(nn.functional.linear(output, down_w, down_b)), up_w, up_b)
    return hook


def load_group_adapter(name: str, path: Path, config: dict, tensors: dict[str, torch.Tensor], *,
                       module_shapes: dict[str, tuple[int, int]], dims: ModelDims | None, dtype: torch.dtype,
                       version: int, error: Callable[[str], Exception]) -> GroupAdapter:
    """Validate a non-LoRA adapter's weights against the served model and load them (``error``
    builds the exception a bad adapter raises)."""
    peft_type = str(config.get("peft_type", "")).upper()
    method = peft_type.lower()
    common = {"name": name, "path": str(path), "method": method, "version": version}
    if peft_type == "IA3":
        return GroupAdapter(**common, scales=_ia3_scales(name, tensors, module_shapes, dtype, error))
    if dims is None:
        raise error(f"adapter {name!r}: {method} needs the served model's dimensions")
    if peft_type == "BOTTLENECK":
        return GroupAdapter(**common, blocks=_bottleneck_blocks(name, config, tensors, dims, dtype, error),
                            activation=str(config.get("activation", "relu")))
    weight = tensors.get("prompt_embeddings")
    if weight is None or weight.dim() != 2:
        raise error(f"adapter {name!r}: {method} lacks its prompt_embeddings")
    if peft_type == "PROMPT_TUNING":
        if weight.shape[1] != dims.hidden_size:
            raise error(f"adapter {name!r}: soft prompt of width {weight.shape[1]}, the served model's "
                        f"hidden size is {dims.hidden_size} - another base model?")
        return GroupAdapter(**common, prompt=weight.to(dtype))
    # Prefix tuning: (virtual tokens, layers * 2 * kv heads * head dim), laid out as PEFT's get_prompt reads it.
    width = dims.num_layers * 2 * dims.num_kv_heads * dims.head_dim
    if weight.shape[1] != width:
        raise error(f"adapter {name!r}: prefix of width {weight.shape[1]}, the served model needs {width} "
                    "(layers x 2 x key/value heads x head dim) - another base model?")
    per_layer = weight.to(dtype).view(weight.shape[0], dims.num_layers * 2, dims.num_kv_heads, dims.head_dim)
    per_layer = per_layer.permute(1, 2, 0, 3)  # (layers * 2, heads, tokens, dim)
    return GroupAdapter(**common, prefix=[(per_layer[2 * i].contiguous(), per_layer[2 * i + 1].contiguous())
                                          for i in range(dims.num_layers)])


def _ia3_scales(name: str, tensors: dict[str, torch.Tensor], module_shapes: dict[str, tuple[int, int]],
                dtype: torch.dtype, error: Callable[[str], Exception]) -> dict[str, tuple[torch.Tensor, bool]]:
    scales: dict[str, tuple[torch.Tensor, bool]] = {}
    for key, tensor in tensors.items():
        match = _IA3_KEY.match(key)
        if not match:
            raise error(f"adapter {name!r}: unsupported weight {key!r} (only IA3 vectors on Linear layers)")
        module = match["module"]
        if module not in module_shapes:
            raise error(f"adapter {name!r} targets {module!r}, which the served base model does not have")
        in_features, out_features = module_shapes[module]
        # PEFT: (1, in) scales a feed-forward module's input, (out, 1) any other module's output.
        on_input = tuple(tensor.shape) == (1, in_features)
        if not on_input and tuple(tensor.shape) != (out_features, 1):
            raise error(f"adapter {name!r}: {module} has an IA3 vector of shape {tuple(tensor.shape)}")
        scales[module] = (tensor.flatten().to(dtype), on_input)
    if not scales:
        raise error(f"adapter {name!r} has no IA3 weights")
    return scales


def _bottleneck_blocks(name: str, config: dict, tensors: dict[str, torch.Tensor], dims: ModelDims,
                       dtype: torch.dtype, error: Callable[[str], Exception]) -> list[tuple[torch.Tensor, ...]]:
    size, layers = int(config.get("size") or 0), int(config.get("num_layers") or 0)
    if int(config.get("hidden_size") or 0) != dims.hidden_size or layers != dims.num_layers:
        raise error(f"adapter {name!r}: bottlenecks for {layers} layers of width {config.get('hidden_size')}, the "
                    f"served model has {dims.num_layers} of width {dims.hidden_size} - another base model?")
    if config.get("activation", "relu") not in _ACTIVATIONS:
        raise error(f"adapter {name!r}: unknown activation {config.get('activation')!r}")
    shapes = {"down.weight": (size, dims.hidden_size), "down.bias": (size,),
              "up.weight": (dims.hidden_size, size), "up.bias": (dims.hidden_size,)}
    blocks = []
    for i in range(layers):
        found = [tensors.get(f"layers.{i}.{part}") for part in shapes]
        if any(t is None or tuple(t.shape) != shape for t, shape in zip(found, shapes.values())):
            raise error(f"adapter {name!r}: layer {i}'s bottleneck weights are missing or of the wrong shape")
        blocks.append(tuple(t.to(dtype) for t in found))
    return blocks
