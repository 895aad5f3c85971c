"""How many tokens one training step may hold on a GPU, from its free memory.

Pure arithmetic (no torch): the recipe measures free memory after the base model is loaded
and asks here for the step's token cap, so a 7B job on auto settings never starts a step
that cannot fit, and a step that could never fit fails before training with a clear error.

The activation figures were measured per decoder layer at 7B dimensions (Qwen2.5-7B:
hidden 3584, MLP 18944), LoRA r16 on all linear layers, bf16: 361 KiB per token with
LoRA dropout, 245 KiB without (issue 21). Other widths scale with hidden + MLP width.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KIB = 1024
GIB = 1024**3
MEASURED_WIDTH = 3584 + 18944  # hidden + intermediate of the measured 7B shape
MEASURED_LAYER_BYTES = {False: 245 * KIB, True: 361 * KIB}  # per token per layer, by "dropout > 0"
BF16_BYTES = 2
# Logits are projected only where the loss is, but in bf16 plus a float32 copy for the loss
# and its gradient: 4 bytes per vocabulary entry per step token is a safe average.
LOGIT_BYTES_PER_VOCAB = 4
HEADROOM = 0.8  # the allocator's fragmentation, the optimizer's first step, kernels' workspaces
# Checkpointing goes off only with this much to spare: on the H200 a 0.5B step of short rows peaked
# ~20 % above this estimate (long rows: below it), and an out-of-memory step costs the whole job.
CHECKPOINTING_OFF_MARGIN = 1.5


class StepTooLarge(ValueError):
    """A step that cannot fit in the GPU memory that is free, said before training starts."""


@dataclass(frozen=True)
class ModelDims:
    layers: int
    hidden: int
    intermediate: int
    vocab: int

    @classmethod
    def from_config(cls, config: Any) -> ModelDims:
        text = getattr(config, "text_config", None) or config  # multimodal configs nest the LM's
        hidden = int(text.hidden_size)
        return cls(layers=int(text.num_hidden_layers), hidden=hidden,
                   intermediate=int(getattr(text, "intermediate_size", None) or 4 * hidden),
                   vocab=int(text.vocab_size))


def layer_bytes_per_token(dims: ModelDims, *, dropout: bool) -> float:
    """Activations one decoder layer keeps for the backward pass, per token."""
    return MEASURED_LAYER_BYTES[dropout] * (dims.hidden + dims.intermediate) / MEASURED_WIDTH


def bytes_per_token(dims: ModelDims, *, checkpointing: bool, dropout: bool) -> int:
    """Memory one step token costs: every layer's activations, or with gradient checkpointing each
    layer's bf16 input plus one layer recomputed at a time; and the logits."""
    layer = layer_bytes_per_token(dims, dropout=dropout)
    kept = dims.layers * dims.hidden * BF16_BYTES + layer if checkpointing else dims.layers * layer
    return int(kept + dims.vocab * LOGIT_BYTES_PER_VOCAB)


def step_token_cap(free_bytes: int, dims: ModelDims, *, checkpointing: bool, dropout: bool,
                   headroom: float = HEADROOM) -> int:
    """The most tokens (padding included) one step may hold with ``free_bytes`` free."""
    return int(free_bytes * headroom) // bytes_per_token(dims, checkpointing=checkpointing, dropout=dropout)


def needs_checkpointing(*, wanted: int, free_bytes: int, dims: ModelDims, dropout: bool) -> bool:
    """Gradient checkpointing only where a step of ``wanted`` tokens does not fit without it: on an
    H200 its recomputation cost a 0.5B model 35-40 % of its tokens/s for memory it did not need
    (bench/README.md, Training > gpu)."""
    return step_token_cap(free_bytes, dims, checkpointing=False, dropout=dropout) < wanted * CHECKPOINTING_OFF_MARGIN


def fit_step_tokens(*, wanted: int, longest: int, free_bytes: int | None, dims: ModelDims,
                    checkpointing: bool, dropout: bool) -> int:
    """``wanted`` tokens per step, lowered to what fits; StepTooLarge when the longest example
    alone does not fit. ``free_bytes`` None (a CPU) means no cap."""
    if free_bytes is None:
        return wanted
    cap = step_token_cap(free_bytes, dims, checkpointing=checkpointing, dropout=dropout)
    if longest > cap:
        need = longest * bytes_per_token(dims, checkpointing=checkpointing, dropout=dropout) / HEADROOM
        hints = ["lower max_length (longer examples are then left out)", "use method qlora"]
        if not checkpointing:
            hints.insert(0, "turn gradient_checkpointing on")
        if dropout:
            hints.append("set dropout 0")
        raise StepTooLarge(
            f"max_length: a step with the longest example ({longest} tokens) needs about {need / GIB:.1f} GiB "
            f"of GPU memory, {free_bytes / GIB:.1f} GiB are free (at most {cap} tokens per step fit); "
            + ", or ".join(hints))
    return min(wanted, cap)
