"""Batched multi-adapter LoRA: every row of a batch uses its own adapter in one forward pass.

Each hooked ``nn.Linear`` keeps stacked per-slot weights ``A[slot]: (in, r)`` and
``B[slot]: (r, out)`` (LoRA scaling folded into B) and an optional DoRA magnitude
factor ``M[slot]: (out,)``. Before a forward the engine sets one slot index per row;
the layer computes ``y = (W x + (x @ A[idx]) @ B[idx]) * M[idx] + bias`` with a gather and
two ``bmm`` calls (the Punica-style path; PEFT's ``adapter_names`` loops over
adapters with masks and is several times slower). Slot 0 is the base model: zeros
in A and B and ones in M. A and B are kept in ``lora_dtype``: float32 under a
bfloat16 base on a CPU.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
from torch import nn

GATHERS_KEPT = 4  # routings whose gathered weights a LoRA layer keeps (batches decoded in one step)
THIN_TOKENS = 32  # up to this many tokens a matmul (per row, when each row has its own adapter) is thin


def _thin(x: torch.Tensor, a: torch.Tensor) -> bool:
    """Decode-sized: float32 wins below ~64 tokens on a CPU; a prefill's long matmuls are faster in bfloat16."""
    tokens = x.shape[-2] if a.dim() == 3 else x.numel() // x.shape[-1]
    return tokens <= THIN_TOKENS


def lora_dtype(base_dtype: torch.dtype, device: torch.device | str) -> torch.dtype:
    """The dtype LoRA's A and B are kept and multiplied in. Under a half-precision base on a CPU, float32:
    decoding, the LoRA matmuls are thin (rank 8-64, a token per row), and oneDNN's bfloat16 path costs a fixed
    overhead per call that makes them 2-4x slower than in float32, for one row and for sixteen alike; a
    prefill's long matmuls run in bfloat16 (``THIN_TOKENS``; bench/README, Serving). On a GPU, the base's dtype."""
    if torch.device(device).type == "cpu" and base_dtype in (torch.bfloat16, torch.float16):
        return torch.float32
    return base_dtype


@dataclass
class ModuleWeights:
    """One adapter's weights for one Linear: A (in, r), B (r, out) with scaling folded in."""

    a: torch.Tensor
    b: torch.Tensor
    magnitude: torch.Tensor | None = None  # DoRA: m / ||W + sBA|| per output row


_adapter_uids = itertools.count(1)


@dataclass
class AdapterWeights:
    """A loaded adapter version, independent of any slot; identity marks the version."""

    name: str
    path: str
    rank: int
    modules: dict[str, ModuleWeights]
    dora: bool = False
    version: int = 0
    nbytes: int = field(default=0)
    # Unique per loaded version (an id() may be reused after the object is freed): keys its prefix-cache blocks.
    uid: int = field(default_factory=lambda: next(_adapter_uids), compare=False)

    def __post_init__(self) -> None:
        self.nbytes = sum(
            w.a.numel() * w.a.element_size() + w.b.numel() * w.b.element_size()
            + (w.magnitude.numel() * w.magnitude.element_size() if w.magnitude is not None else 0)
            for w in self.modules.values()
        )


class BatchedLoRALinear(nn.Module):
    """Wraps a base Linear; reads the per-row slot indices from the shared ``state``."""

    def __init__(self, base: nn.Linear, state: SlotState, slots: int, max_rank: int):
        super().__init__()
        self.base = base
        self.state = state
        dtype, device = base.weight.dtype, base.weight.device
        low = lora_dtype(dtype, device)
        self.register_buffer("lora_a", torch.zeros(slots, base.in_features, max_rank, dtype=low, device=device),
                             persistent=False)
        self.register_buffer("lora_b", torch.zeros(slots, max_rank, base.out_features, dtype=low, device=device),
                             persistent=False)
        self.register_buffer("magnitude", torch.ones(slots, base.out_features, dtype=dtype, device=device),
                             persistent=False)
        self.active = [False] * slots  # slot has weights for this module
        self.scaled = [False] * slots  # slot has a DoRA magnitude for this module
        # Gathered weights per routing (rows' slots, rank, slot contents): a step that decodes the shared LoRA
        # batch and then a batch of another method routes twice, and each must find its gather again.
        self._gathered: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = {}
        self._spare: list[torch.Tensor] = []  # evicted gathers' tensors, for the next gather to fill

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.state
        if state.indices is None or not any(self.active[i] for i in state.used):
            return self.base(x)
        a, b, magnitude = self._gather()
        # DoRA scales W x + s B A x by its magnitude, not the bias (PEFT: m * (W x + s B A x) + b).
        bias = self.base.bias if magnitude is not None else None
        y = self.base(x) if bias is None else nn.functional.linear(x, self.base.weight)
        if a.dtype != y.dtype:  # float32 LoRA under a bfloat16 base (lora_dtype)
            if _thin(x, a):
                return self._finish(y + self._delta(x.to(a.dtype), a, b).to(y.dtype), magnitude, bias)
            a, b = a.to(y.dtype), b.to(y.dtype)
        if a.dim() == 2:  # every row uses the same adapter: two plain matmuls, no per-row copies
            y = torch.addmm(y.reshape(-1, y.shape[-1]), x.reshape(-1, x.shape[-1]) @ a, b).view(y.shape)
        else:  # x: (batch, seq, in) -> each row with its own adapter
            y = torch.baddbmm(y, torch.bmm(x, a), b)
        return self._finish(y, magnitude, bias)

    @staticmethod
    def _finish(y: torch.Tensor, magnitude: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        if magnitude is not None:
            y = y * magnitude
        return y if bias is None else y + bias

    @staticmethod
    def _delta(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """x A B: one adapter for every row (A 2-D), or each row its own (A and B stacked per row)."""
        if a.dim() == 2:
            return ((x.reshape(-1, x.shape[-1]) @ a) @ b).view(*x.shape[:-1], b.shape[-1])
        return torch.bmm(torch.bmm(x, a), b)

    def _gather(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """This batch's adapter weights, cached per routing while the slots' contents stay the same."""
        state = self.state
        key = (state.slots, state.rank, state.weights)
        cached = self._gathered.get(key)
        if cached is not None:
            return cached
        rank = state.rank
        scaled = any(self.scaled[i] for i in state.used)
        if len(state.used) == 1:
            slot = state.slots[0]
            a = self.lora_a[slot, :, :rank].contiguous()
            b = self.lora_b[slot, :rank, :].contiguous()
            magnitude = self.magnitude[slot] if scaled else None
        else:
            idx = state.indices  # the rank's columns only: the buffers hold max_rank of them
            rows = idx.shape[0]
            a = torch.index_select(self.lora_a[:, :, :rank], 0, idx,
                                   out=self._buffer((rows, self.lora_a.shape[1], rank)))
            b = torch.index_select(self.lora_b[:, :rank, :], 0, idx,
                                   out=self._buffer((rows, rank, self.lora_b.shape[2])))
            magnitude = self.magnitude.index_select(0, idx).unsqueeze(1) if scaled else None
        if len(self._gathered) >= GATHERS_KEPT or any(k[2] != state.weights for k in self._gathered):
            for old_key, (old_a, old_b, _) in self._gathered.items():
                if len(set(old_key[0])) > 1:  # gathered copies; a single slot's weights are views of the slots
                    self._spare.extend((old_a, old_b))
            self._gathered.clear()
        self._gathered[key] = (a, b, magnitude)
        return a, b, magnitude

    def _buffer(self, shape: tuple[int, ...]) -> torch.Tensor:
        """A tensor for a gather, reused from one evicted: freshly allocated ones of this size come from the OS as
        untouched pages, and faulting them in cost more than the copy itself (bench/lora_routing.py)."""
        for index, spare in enumerate(self._spare):
            if spare.shape == shape:
                return self._spare.pop(index)
        del self._spare[:-2 * GATHERS_KEPT]  # keep the newest few
        return torch.empty(shape, dtype=self.lora_a.dtype, device=self.lora_a.device)

    def set_slot(self, slot: int, weights: ModuleWeights | None) -> None:
        if weights is None:
            self.lora_a[slot].zero_()
            self.lora_b[slot].zero_()
            self.magnitude[slot].fill_(1.0)
            self.active[slot] = self.scaled[slot] = False
            return
        r = weights.a.shape[1]
        self.lora_a[slot].zero_()
        self.lora_b[slot].zero_()
        self.lora_a[slot, :, :r].copy_(weights.a)
        self.lora_b[slot, :r, :].copy_(weights.b)
        self.active[slot] = True
        if weights.magnitude is not None:
            self.magnitude[slot].copy_(weights.magnitude)
            self.scaled[slot] = True
        else:
            self.magnitude[slot].fill_(1.0)
            self.scaled[slot] = False


class SlotState:
    """Per-forward routing: which slot each row uses, and the largest rank among them."""

    def __init__(self) -> None:
        self.indices: torch.Tensor | None = None
        self.used: set[int] = set()
        self.rank: int = 0
        self.slots: tuple[int, ...] = ()
        self.weights = 0  # bumped when a slot's weights change


class BatchedLoRA:
    """Installs BatchedLoRALinear around every Linear of the decoder (not the LM head)."""

    def __init__(self, model: nn.Module, *, slots: int, max_rank: int):
        self.state = SlotState()
        self.slots = slots
        self.max_rank = max_rank
        self.slot_rank = [0] * slots
        self.layers: dict[str, BatchedLoRALinear] = {}
        targets = [
            (name, module) for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and not name.endswith("lm_head")
        ]
        for name, module in targets:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            wrapped = BatchedLoRALinear(module, self.state, slots, max_rank)
            setattr(parent, child, wrapped)
            self.layers[name] = wrapped
        # lora_dtype of the wrapped Linears
        self.dtype: torch.dtype | None = next(iter(self.layers.values())).lora_a.dtype if self.layers else None

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of every adaptable Linear, by module name."""
        return {name: (layer.base.in_features, layer.base.out_features) for name, layer in self.layers.items()}

    def base_weight(self, name: str) -> torch.Tensor:
        return self.layers[name].base.weight

    def assign(self, slot: int, adapter: AdapterWeights | None) -> None:
        """Copy an adapter's weights into a slot (None clears it back to the base model)."""
        if slot == 0:
            raise ValueError("slot 0 is the base model")
        for name, layer in self.layers.items():
            layer.set_slot(slot, adapter.modules.get(name) if adapter else None)
        self.slot_rank[slot] = adapter.rank if adapter else 0
        self.state.weights += 1

    def route(self, slots: list[int], device: torch.device | str) -> None:
        """Set the slot for each row of the next forward pass.

        The routing is kept when neither the rows' slots nor those slots' ranks changed; the rank is
        read afresh each time because ``assign`` may have put an adapter of another rank in a slot."""
        state = self.state
        key, used = tuple(slots), set(slots)
        rank = max((self.slot_rank[s] for s in used), default=0)
        if key == state.slots and rank == state.rank:
            return
        state.slots, state.used, state.rank = key, used, rank
        state.indices = torch.tensor(slots, dtype=torch.long, device=device) if rank else None
