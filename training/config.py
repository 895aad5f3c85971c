"""The one validated training configuration.

Every hyperparameter may be ``"auto"``; :meth:`TrainConfig.resolve` turns those
into numbers from the dataset size, so a job records both what was asked and
what ran. Bad values raise ``ValueError`` naming the field.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

AUTO = "auto"
LORA_METHODS = ("lora", "qlora", "dora")
PROMPT_METHODS = ("prompt_tuning", "prefix_tuning")  # learned virtual tokens: num_virtual_tokens
METHODS = (*LORA_METHODS, "ia3", *PROMPT_METHODS, "bottleneck")
LAYERED_METHODS = LORA_METHODS  # adapt chosen layers only: adapted_layers (PEFT's IA3 cannot)
# What can serve each method's adapter directory. vLLM serves LoRA natively; DoRA and IA3 fold into
# the weights (``export_adapter --merged``), served as a model of their own ("merged"; a LoRA can be
# merged too, but vLLM serves its folder as it is); soft prompts, prefixes and bottleneck layers only
# docsbot's embedded engine serves.
MERGEABLE = ("lora", "qlora", "dora", "ia3")
SERVABLE_BY = {
    "lora": ("vllm", "embedded"), "qlora": ("vllm", "embedded"),
    "dora": ("embedded", "merged"), "ia3": ("embedded", "merged"),
    "prompt_tuning": ("embedded",), "prefix_tuning": ("embedded",), "bottleneck": ("embedded",),
}
# The "auto" learning rate before the small-dataset factor, typical for each family: LoRA ~2e-4
# (QLoRA lower for its quantisation noise); IA3's scaling vectors 3e-3 (T-Few); soft prompts 3e-2
# (Lester et al.; PEFT's examples); prefixes 1e-2 (Li & Liang); bottleneck adapters 1e-3 (Houlsby,
# AdapterHub's default range 1e-4..1e-3 for small data).
AUTO_LEARNING_RATES = {"lora": 2e-4, "qlora": 1e-4, "dora": 2e-4, "ia3": 3e-3, "prompt_tuning": 3e-2,
                       "prefix_tuning": 1e-2, "bottleneck": 1e-3}
# "auto" virtual tokens: 20 soft-prompt tokens (Lester et al. saw little gain past 20 on large models),
# 10 prefix tokens per layer (Li & Liang's table-to-text setting).
LAYER_CHOICES = ("all", "upper-half")
AUTO_REHEARSAL = 0.2
MAX_REHEARSAL = 0.5
AUTO_VIRTUAL_TOKENS = {"prompt_tuning": 20, "prefix_tuning": 10}
MAX_VIRTUAL_TOKENS = 512
# vLLM's accepted --max-lora-rank values; a served adapter must not exceed the configured one.
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# "auto" epochs stop once this many example tokens have gone through the model: a dozen pairs
# would otherwise get 8 epochs, minutes on a CPU for no gain over ~3 at a high rate.
AUTO_TOKEN_BUDGET = 24_000
# ...but never fewer optimizer steps than this, so small datasets get more epochs up to this floor. A dozen
# pairs in 12 steps (loss 4.5) never got as far as producing answer text. On SmolLM2 (bench/sweep.py, batch 1,
# learning rate 2e-4, rank 16) the best held-out F1 came at ~250 steps on two corpora: Requests (129 steps an
# epoch) 0.486 after one epoch, 0.584 after two; DRF (260 an epoch) 0.455 after one, 0.472 after two but with
# general-text perplexity up 24 % (the gate refuses past 5 %).
AUTO_MIN_STEPS = 250


@dataclass(frozen=True)
class TrainConfig:
    method: str = "lora"
    rank: int | str = 16  # LoRA/DoRA rank; the bottleneck width for "bottleneck"; unused by ia3 and prompts
    alpha: int | float | str = AUTO  # auto: 2 * rank
    # 0: PEFT then skips the per-module copy of every input; on SmolLM2 (CPU, bf16) a 0.05 dropout
    # cost 40 % of the training speed (150 vs 260 tokens/s), more than it buys on a few hundred pairs.
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] = "all-linear"
    learning_rate: float | str = AUTO
    epochs: int | str = AUTO
    # step budget: batch_size * max_length tokens, padding included; on a GPU lowered to what its
    # free memory holds (training.memory)
    batch_size: int | str = AUTO
    max_length: int | str = AUTO  # the longest example kept (and the packed row length)
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # a cap, mainly for tests and benchmarks
    # A wall-clock budget: after the first steps are timed, the run is shortened to fit it, and
    # the learning-rate schedule to match (warmup and cosine decay end at the new last step).
    time_budget_s: float | None = None
    checkpoint_every: int = 50
    # auto: on a GPU, on only when the planned step does not fit the free memory without it (a 7B
    # step of ~11k tokens keeps ~100 GiB of activations; the recomputation costs 25-40 % of the
    # speed): resolve() says True there and the recipe turns it off once the model is loaded and
    # the free memory known. Off on a CPU, where RAM is rarely the limit.
    gradient_checkpointing: bool | str = AUTO
    batching: str = AUTO  # pack (with flash-attention) | group (length-grouped) | auto
    seed: int = 0
    max_rank: int = 64  # the serving side's --max-lora-rank
    num_virtual_tokens: int | str = AUTO  # prompt_tuning, prefix_tuning: learned tokens per prompt (or layer)
    # Which transformer layers get the adapter (LoRA family): "all" (auto), "upper-half", or the top N.
    # Backward stops at the lowest adapted layer, so the upper half makes steps faster: on Requests
    # (SmolLM2, float32 CPU, 8-minute budget) 113 steps instead of 74, but a held-out F1 gain of +0.084
    # (p=0.11) instead of +0.135 (p=0.023), forgetting x1.057 vs x1.077 (before rehearsal: commit 02816f3 of bench/README.md).
    adapted_layers: int | str = AUTO
    # The share of optimizer steps spent on text the base model writes itself, which holds back
    # forgetting (training.rehearsal); auto: AUTO_REHEARSAL. 0 turns it off.
    rehearsal: float | str = AUTO

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.max_rank not in VLLM_RANKS:
            raise ValueError(f"max_rank: must be one of {VLLM_RANKS}, got {self.max_rank}")
        _positive_int_or_auto("rank", self.rank)
        if self.method in LORA_METHODS and self.rank != AUTO and self.rank > self.max_rank:
            raise ValueError(f"rank: {self.rank} exceeds max_rank {self.max_rank} (the serving limit)")
        _positive_number_or_auto("alpha", self.alpha)
        _positive_number_or_auto("learning_rate", self.learning_rate)
        if self.learning_rate != AUTO and self.learning_rate > 1:
            raise ValueError(f"learning_rate: {self.learning_rate} is not a plausible learning rate (> 1)")
        _positive_int_or_auto("epochs", self.epochs)
        _positive_int_or_auto("batch_size", self.batch_size)
        _positive_int_or_auto("max_length", self.max_length)
        if self.max_length != AUTO and self.max_length < 16:
            raise ValueError(f"max_length: must be at least 16, got {self.max_length}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm: must be > 0, got {self.max_grad_norm}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"max_steps: must be a positive integer or None, got {self.max_steps!r}")
        if self.time_budget_s is not None and (isinstance(self.time_budget_s, bool) or not isinstance(
                self.time_budget_s, int | float) or not self.time_budget_s > 0 or not math.isfinite(self.time_budget_s)):
            raise ValueError(f"time_budget_s: must be a positive number of seconds or None, got {self.time_budget_s!r}")
        if self.gradient_checkpointing != AUTO and not isinstance(self.gradient_checkpointing, bool):
            raise ValueError(f"gradient_checkpointing: must be true, false or 'auto', "
                             f"got {self.gradient_checkpointing!r}")
        if self.batching not in (AUTO, "pack", "group"):
            raise ValueError(f"batching: must be 'auto', 'pack' or 'group', got {self.batching!r}")
        _positive_int_or_auto("num_virtual_tokens", self.num_virtual_tokens)
        if self.num_virtual_tokens != AUTO:
            if self.method not in PROMPT_METHODS:
                raise ValueError(f"num_virtual_tokens: only for {' and '.join(PROMPT_METHODS)}, not {self.method}")
            if self.num_virtual_tokens > MAX_VIRTUAL_TOKENS:
                raise ValueError(f"num_virtual_tokens: at most {MAX_VIRTUAL_TOKENS}, got {self.num_virtual_tokens}")
        if self.method in PROMPT_METHODS and self.batching == "pack":
            raise ValueError(f"batching: {self.method} prepends its virtual tokens to every row, so rows cannot "
                             "be packed; use 'group' or 'auto'")
        if self.adapted_layers not in (AUTO, *LAYER_CHOICES) and (
                isinstance(self.adapted_layers, bool) or not isinstance(self.adapted_layers, int)
                or self.adapted_layers < 1):
            raise ValueError(f"adapted_layers: 'auto', 'all', 'upper-half' or a positive number of top layers, "
                             f"got {self.adapted_layers!r}")
        if self.rehearsal != AUTO and (isinstance(self.rehearsal, bool) or not isinstance(self.rehearsal, int | float)
                                       or not 0 <= self.rehearsal <= MAX_REHEARSAL):
            raise ValueError(f"rehearsal: a share of the steps from 0 to {MAX_REHEARSAL}, or 'auto', got {self.rehearsal!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every: must be a positive integer, got {self.checkpoint_every!r}")
        if not self.target_modules or (
            not isinstance(self.target_modules, str)
            and not all(isinstance(name, str) and name for name in self.target_modules)
        ):
            raise ValueError(f"target_modules: 'all-linear' or module names, got {self.target_modules!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown hyperparameter (known: {', '.join(sorted(known))})")
        values = dict(values)
        if isinstance(values.get("target_modules"), list):
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        if isinstance(values["target_modules"], tuple):
            values["target_modules"] = list(values["target_modules"])
        return values

    def with_step_floor(self, *, steps_per_epoch: int, requested_epochs: int | str) -> TrainConfig:
        """Raise "auto" epochs so the run takes at least ``AUTO_MIN_STEPS`` optimizer steps."""
        if requested_epochs != AUTO or steps_per_epoch < 1 or self.epochs == AUTO:
            return self
        return replace(self, epochs=max(self.epochs, math.ceil(AUTO_MIN_STEPS / steps_per_epoch)))

    @property
    def is_resolved(self) -> bool:
        return AUTO not in (self.rank, self.alpha, self.learning_rate, self.epochs, self.batch_size,
                            self.max_length, self.gradient_checkpointing, self.adapted_layers,
                            self.rehearsal) and (
            self.method not in PROMPT_METHODS or self.num_virtual_tokens != AUTO)

    def resolve(self, *, num_examples: int, longest_example: int, total_tokens: int | None = None,
                on_gpu: bool = True) -> TrainConfig:
        """Fill every "auto" from the dataset: few examples get more epochs (within
        ``AUTO_TOKEN_BUDGET`` when ``total_tokens`` per epoch is known) and small ranks."""
        if num_examples < 1:
            raise ValueError("dataset: no training examples")
        rank = self.rank if self.rank != AUTO else (8 if num_examples < 200 else 16)
        if self.method in LORA_METHODS:
            rank = min(rank, self.max_rank)
        alpha = self.alpha if self.alpha != AUTO else 2 * rank
        learning_rate = self.learning_rate if self.learning_rate != AUTO else self.auto_learning_rate()
        virtual_tokens = self.num_virtual_tokens if self.num_virtual_tokens != AUTO or self.method not in \
            PROMPT_METHODS else AUTO_VIRTUAL_TOKENS[self.method]
        if self.max_length == AUTO:
            # Packed rows of 1024 tokens, or longer when an example needs it (none is cut); positions
            # restart per packed example, so a row may be longer than the model's context.
            max_length = max(1024, 64 * math.ceil(longest_example / 64))
        else:
            max_length = self.max_length
        epochs = self.epochs if self.epochs != AUTO else (
            8 if num_examples < 100 else 4 if num_examples < 1000 else 2 if num_examples < 10_000 else 1)
        if self.epochs == AUTO and total_tokens and self.time_budget_s is None:  # a time budget cuts instead
            epochs = max(1, min(epochs, AUTO_TOKEN_BUDGET // total_tokens))
        # Steps hold batch_size * max_length tokens, length-grouped, so short examples share a step.
        # On a CPU a step of one example is as fast per token as a batch (no padding, no idle
        # lanes to fill) and gives few-example datasets more optimizer steps.
        batch_size = self.batch_size if self.batch_size != AUTO else (
            1 if not on_gpu else 2 if num_examples < 64 else 4 if num_examples < 1000 else 8)
        checkpointing = on_gpu if self.gradient_checkpointing == AUTO else self.gradient_checkpointing
        layers = "all" if self.adapted_layers == AUTO else self.adapted_layers
        rehearsal = AUTO_REHEARSAL if self.rehearsal == AUTO else self.rehearsal
        return replace(self, rank=rank, alpha=alpha, learning_rate=learning_rate, max_length=max_length,
                       epochs=epochs, batch_size=batch_size, gradient_checkpointing=checkpointing,
                       num_virtual_tokens=virtual_tokens, adapted_layers=layers, rehearsal=rehearsal)

    def layer_indices(self, num_layers: int) -> list[int] | None:
        """The adapted layers' indices for a model of ``num_layers`` (None: every layer)."""
        if self.adapted_layers in (AUTO, "all") or self.method not in LAYERED_METHODS:
            return None
        top = num_layers // 2 if self.adapted_layers == "upper-half" else int(self.adapted_layers)
        if top >= num_layers:
            return None
        return list(range(num_layers - max(1, top), num_layers))

    def auto_learning_rate(self) -> float:
        """The method's typical rate (``AUTO_LEARNING_RATES``), whatever the dataset size. A 2.5x rate for
        mid-sized LoRA datasets was measured and dropped: on the DRF docs (425 pairs, 201 steps) it raised
        general-text perplexity by 11.9 % where 2e-4 gave 1.1 % with higher held-out F1 and natural-question
        citation accuracy; on the demo's 21 pairs it collapsed the adapter onto the not-covered reply."""
        return AUTO_LEARNING_RATES[self.method]


def serving_note(engines: Sequence[str]) -> str | None:
    """What a deployment serving with vLLM must know about an adapter that ``engines`` serve
    (None: vLLM serves it as it is)."""
    if "vllm" in engines:
        return None
    if "merged" in engines:
        return ("vLLM cannot serve this adapter: serve it with docsbot's embedded engine, or export it "
                "merged into the base (manage.py export_adapter --merged) and serve that as its own model")
    return "vLLM cannot serve this adapter (nor can it be merged): only docsbot's embedded engine serves it"


def _positive_int_or_auto(name: str, value: Any) -> None:
    if value == AUTO:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be a positive integer or 'auto', got {value!r}")


def _positive_number_or_auto(name: str, value: Any) -> None:
    if value == AUTO:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name}: must be a positive number or 'auto', got {value!r}")

