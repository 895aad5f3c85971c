"""The single-device adapter training recipe: setup · train · save_checkpoint · cleanup.

Written out plainly (no Trainer, no inheritance), in the manner of torchtune's
single-device LoRA recipe. Runs on CPU (fp32) and CUDA (bf16 autocast).

Compute is spent only where it counts: with flash-attention, short examples are
packed into one flat row per step (no padding, sequence boundaries passed as
``cu_seq_lens``), and the model's forward projects to the vocabulary only at the
answer positions that carry loss (``logits_to_keep``), not at every prompt token.
On a GPU the tokens per step are capped by its free memory (training.memory).

Over 400 lines on purpose: like torchtune's recipes, the loop, its schedule, checkpoints and
resume are written out in one place so the whole training step can be read top to bottom.

Checkpoints go to ``work_dir/checkpoints/step-NNNNNN/`` with a ``COMPLETE``
marker written last, every ``checkpoint_every`` steps and at the last step;
``setup`` resumes from the newest complete one, so a process killed at any moment
(evaluation included) restarts from its last finished checkpoint.
"""
from __future__ import annotations

import gc
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from training import faults
from training.config import AUTO, PROMPT_METHODS, TrainConfig
from training.data import (
    IGNORE,
    Batch,
    BuiltDataset,
    Tokenized,
    batches,
    build_dataset,
    collate,
    tokenize_examples,
    with_rehearsal,
)
from training.rehearsal import REHEARSAL_FILE, rehearsal_pool, rehearsal_step_count

COMPLETE = "COMPLETE"
KEEP_CHECKPOINTS = 2
SHAPE_MULTIPLE = 64  # step widths are padded to this: reused kernel shapes (see data.collate)
BUDGET_PROBE_STEPS = 3  # steps timed before a time budget first shortens the run


class Cancelled(Exception):
    """The cancellation check said stop; the recipe stopped between two steps."""


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int
    loss: float
    eta_seconds: float
    epoch: int
    learning_rate: float
    tokens_per_second: float


@dataclass
class TrainResult:
    steps: int
    total_steps: int
    resumed_from: int
    final_loss: float
    curve: list[dict[str, float]]
    seconds: float
    real_tokens_per_second: float
    config: dict[str, Any]
    dataset: dict[str, int]
    peak_memory_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def latest_complete_checkpoint(work_dir: Path) -> Path | None:
    root = Path(work_dir) / "checkpoints"
    if not root.is_dir():
        return None
    complete = sorted(p for p in root.glob("step-*") if (p / COMPLETE).exists())
    return complete[-1] if complete else None


class Recipe:
    def __init__(self, *, base_model: str, config: TrainConfig, train_examples: Sequence[dict], work_dir: Path,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_checkpoint: Callable[[int, Path], None] | None = None,
                 device: str | None = None, gpu_memory_fraction: float = 1.0,
                 init_adapter: Path | None = None, rehearsal_cache: Path | None = None):
        self.base_model = str(base_model)
        # A folder shared by jobs: the rehearsal text sampled once per base model (training.rehearsal).
        self.rehearsal_cache = Path(rehearsal_cache) if rehearsal_cache else None
        # A trained adapter of the same shape to start from (warm start) instead of a fresh one.
        self.init_adapter = Path(init_adapter) if init_adapter else None
        self.warm_start: dict[str, Any] = {}
        # The share of the GPU this job may use: less than 1 where vLLM serves from the same GPU.
        self.gpu_memory_fraction = gpu_memory_fraction
        self.requested = config
        self.examples = list(train_examples)
        self.work_dir = Path(work_dir)
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.on_checkpoint = on_checkpoint
        self.device_name = device
        self.model = None
        self.optimizer = None
        self.scheduler = None
        self.step = 0
        self.resumed_from = 0
        self.curve: list[dict[str, float]] = []
        self.budget_note = ""
        self.attention: str | None = None
        self.rehearsal: list[Tokenized] = []  # the base model's own text (training.rehearsal)

    # --- setup ---------------------------------------------------------------------------
    def setup(self) -> None:
        import torch
        from transformers import AutoTokenizer

        faults.inject("stall")
        self.device = torch.device(self.device_name or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32  # of the base weights
        if self.device.type == "cuda" and self.gpu_memory_fraction < 1.0:
            # The caching allocator refuses more than this share: an out-of-memory error for this job,
            # never for the vLLM beside it (and step sizing below plans within it).
            torch.cuda.set_per_process_memory_fraction(self.gpu_memory_fraction, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.base_model)
        if not self.tokenizer.chat_template:
            raise ValueError(f"base model {self.base_model}: its tokenizer has no chat template")
        tokenized = tokenize_examples(self.tokenizer, self.examples)
        lengths = [len(t.input_ids) for t in tokenized]
        self.config = self.requested.resolve(
            # Pairs, not examples: a small team's pair comes back in several RAFT variants with one id.
            num_examples=len({example.get("id", index) for index, example in enumerate(self.examples)}),
            longest_example=max(lengths), total_tokens=sum(lengths),
            on_gpu=self.device.type == "cuda",
        )
        self.attention = self._attention_implementation()
        # Soft prompts and prefixes go before every row: rows are never packed for them.
        self.batching = self.config.batching if self.config.batching != "auto" else (
            "pack" if self.attention and self.config.method not in PROMPT_METHODS else "group")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None \
            else self.tokenizer.eos_token_id
        torch.manual_seed(self.config.seed)
        self.model = self._load_model()
        checkpoint = latest_complete_checkpoint(self.work_dir)
        step_tokens = self._step_tokens(lengths, _checkpoint_state(checkpoint) if checkpoint else {})
        task = build_dataset(tokenized, max_length=self.config.max_length, step_tokens=step_tokens,
                             batching=self.batching)
        self.dataset: BuiltDataset = with_rehearsal(
            task, self.rehearsal, seed=self.config.seed,
            steps=rehearsal_step_count(task_steps=len(task.groups), share=self.config.rehearsal))
        self.steps_per_epoch = len(self.dataset.groups)
        self.config = self.config.with_step_floor(steps_per_epoch=self.steps_per_epoch,
                                                  requested_epochs=self.requested.epochs)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        if self.config.max_steps:
            self.total_steps = min(self.total_steps, self.config.max_steps)
        self.planned_steps = self.total_steps
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=self.config.learning_rate,
                                           weight_decay=self.config.weight_decay)
        def schedule(step: int) -> float:
            # Reads total_steps when called: a time budget may shorten the run after its first steps.
            warmup = max(1, int(self.total_steps * self.config.warmup_ratio))
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, self.total_steps - warmup))))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        if checkpoint is not None:
            self._load_checkpoint(checkpoint)  # a warm-started run's checkpoints hold where it got to
        elif self.init_adapter is not None:
            self._warm_start()

    def _warm_start(self) -> None:
        from training.methods import warm_start

        reason = warm_start(self.model, self.init_adapter)
        self.warm_start = {"from": str(self.init_adapter), "warm": reason is None,
                           **({"reason": reason} if reason else {})}

    def _attention_implementation(self) -> str | None:
        """flash-attention on CUDA where the package imports (LoRA, DoRA and QLoRA alike), else
        None (the model's default, sdpa). Packing pays off with its varlen kernels; without them a
        block-diagonal mask forces sdpa's slow path, so length-grouping wins."""
        if self.device.type != "cuda":
            return None
        try:
            import flash_attn  # noqa: F401
        except ImportError:
            return None
        return "flash_attention_2"

    @property
    def checkpointing_by_memory(self) -> bool:
        """auto on a GPU: decided from the free memory once the model is loaded (_step_tokens)."""
        return self.requested.gradient_checkpointing == AUTO and self.device.type == "cuda"

    @property
    def varlen(self) -> bool:
        """Packed steps go to flash-attention with their sequence boundaries (``cu_seq_lens``)."""
        return self.attention is not None and self.batching == "pack"

    def _step_tokens(self, lengths: Sequence[int], resumed: dict[str, Any]) -> int:
        """``batch_size x max_length`` tokens per step, lowered to what the GPU's free memory holds
        (the same as planned when resuming); StepTooLarge when the longest example cannot fit."""
        from training.memory import ModelDims, StepTooLarge, fit_step_tokens, needs_checkpointing

        planned = resumed.get("step_tokens")
        wanted = int(planned or self.config.batch_size * self.config.max_length)
        kept = [n for n in lengths if n <= self.config.max_length]
        free, dims, dropout = self._free_memory(), ModelDims.from_config(self.model.config), self.config.dropout > 0
        if self.checkpointing_by_memory and free is not None:
            checkpointing = needs_checkpointing(wanted=wanted, free_bytes=free, dims=dims, dropout=dropout)
            self.config = replace(self.config, gradient_checkpointing=checkpointing)
            if checkpointing:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        fitted = fit_step_tokens(wanted=wanted, longest=max(kept, default=0), free_bytes=free, dims=dims,
                                 checkpointing=bool(self.config.gradient_checkpointing), dropout=dropout)
        if planned and fitted < planned:
            raise StepTooLarge(f"resuming needs steps of {planned} tokens as first planned, only {fitted} fit in "
                               f"the GPU memory free now; free some or start the job afresh")
        return fitted

    def _free_memory(self) -> int | None:
        """Bytes the training steps may use on the GPU, measured with the model loaded; None on a CPU."""
        import torch

        if self.device.type != "cuda":
            return None
        free, total = torch.cuda.mem_get_info(self.device)
        allocated = torch.cuda.memory_allocated(self.device)
        usable = free + torch.cuda.memory_reserved(self.device) - allocated
        return min(usable, int(total * self.gpu_memory_fraction) - allocated)

    def _load_model(self):
        from transformers import AutoModelForCausalLM

        from training.methods import add_adapter

        dtype = self.dtype
        attention = {"attn_implementation": self.attention} if self.attention else {}
        checkpointing = bool(self.config.gradient_checkpointing) and not self.checkpointing_by_memory
        if self.config.method == "qlora":
            from peft import prepare_model_for_kbit_training
            from transformers import BitsAndBytesConfig

            quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
            model = AutoModelForCausalLM.from_pretrained(self.base_model, quantization_config=quantization,
                                                         dtype=dtype, device_map={"": str(self.device)}, **attention)
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            model = AutoModelForCausalLM.from_pretrained(self.base_model, dtype=dtype, **attention).to(self.device)
            if checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        # Before the adapter: the rehearsal text is the base model's own.
        self.rehearsal = rehearsal_pool(model, self.tokenizer, work_dir=self.work_dir, seed=self.config.seed,
                                        base_model=self.base_model, cache_dir=self.rehearsal_cache) \
            if self.config.rehearsal > 0 else []
        model.config.use_cache = False
        return add_adapter(model, self.config, base_name=self.base_model)

    # --- train ---------------------------------------------------------------------------
    def _autocast(self):
        """bf16 compute over float32 weights on CUDA, and on CPUs with native bf16 (AMX /
        AVX512-BF16: ~1.7x the float32 speed for SmolLM2 LoRA steps); plain float32 elsewhere."""
        import contextlib

        import torch

        from training.hardware import cpu_has_native_bf16

        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if cpu_has_native_bf16():
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def loss(self, batch: Batch):
        """Mean cross-entropy over answer tokens, from the logits of the model's own forward (so a
        model's logit soft-capping or scaling applies), projected to the vocabulary only at the
        positions that predict an answer token."""
        import torch.nn.functional as F

        # No attention mask: a packed step is one row whose sequences are given by position_ids
        # (and cu_seq_lens for flash-attention); grouped rows are right-padded, and causal
        # attention never looks at later padding.
        from training.methods import sequence_offset

        targets = batch.labels[:, 1:]
        keep = (targets != IGNORE).any(dim=0).nonzero().squeeze(1)
        # A soft prompt sits before the input: the input's positions move right by its length.
        at = keep + sequence_offset(self.model)
        logits = self.model(**batch.model_inputs(varlen=self.varlen), use_cache=False, **self._logits_at(at)).logits
        if logits.shape[1] != keep.numel():  # a model without logits_to_keep: all positions came back
            logits = logits[:, at]
        return F.cross_entropy(logits.float().flatten(0, 1), targets[:, keep].flatten(), ignore_index=IGNORE)

    def _logits_at(self, positions) -> dict[str, Any]:
        import inspect

        forward = inspect.signature(self.model.get_base_model().forward).parameters
        return {"logits_to_keep": positions} if "logits_to_keep" in forward else {}

    def train(self) -> TrainResult:
        import torch

        if self.model is None:
            raise RuntimeError("call setup() first")
        self.model.train()
        started = time.monotonic()
        steps_this_run = 0
        real_tokens = 0
        epoch, skip = divmod(self.step, self.steps_per_epoch)
        while self.step < self.total_steps:
            for index, rows in enumerate(batches(self.dataset, epoch=epoch, seed=self.config.seed)):
                if index < skip:
                    continue
                if self.should_stop():
                    raise Cancelled(f"cancelled at step {self.step}")
                batch = self.collate(rows)
                with self._autocast():
                    loss = self.loss(batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in self.model.parameters() if p.requires_grad], self.config.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                steps_this_run += 1
                real_tokens += sum(row.real_tokens for row in rows)
                value = loss.detach().item()
                learning_rate = self.scheduler.get_last_lr()[0]
                self.curve.append({"step": self.step, "loss": round(value, 5), "lr": learning_rate})
                elapsed = time.monotonic() - started
                if steps_this_run == 1:
                    first_step_seconds = elapsed
                if self.on_progress:
                    self.on_progress(Progress(
                        step=self.step, total_steps=self.total_steps, loss=value, epoch=epoch,
                        eta_seconds=elapsed / steps_this_run * (self.total_steps - self.step),
                        learning_rate=learning_rate, tokens_per_second=real_tokens / max(elapsed, 1e-9)))
                if steps_this_run > BUDGET_PROBE_STEPS and self.config.time_budget_s:
                    # The pace after the first step: it carries one-off costs (allocation, kernel choice).
                    self._fit_time_budget(elapsed=elapsed, seconds_per_step=(elapsed - first_step_seconds)
                                          / (steps_this_run - 1))
                # The last step too: a process killed during the evaluation that follows resumes there.
                if self.step % self.config.checkpoint_every == 0 or self.step >= self.total_steps:
                    self.save_checkpoint()
                if self.step >= self.total_steps:
                    break
            epoch, skip = epoch + 1, 0
        seconds = time.monotonic() - started
        peak = torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else _cpu_peak_rss()
        return TrainResult(
            steps=self.step, total_steps=self.total_steps, resumed_from=self.resumed_from,
            final_loss=self.curve[-1]["loss"] if self.curve else float("nan"), curve=self.curve,
            seconds=seconds, real_tokens_per_second=real_tokens / max(seconds, 1e-9),
            config=self.config.to_dict(),
            dataset={"examples": self.dataset.examples, "rows": len(self.dataset.rows), "batching": self.batching,
                     "step_tokens": self.dataset.step_tokens,
                     "skipped_too_long": self.dataset.skipped_too_long, "real_tokens": self.dataset.real_tokens,
                     "trained_tokens": self.dataset.trained_tokens,
                     "rehearsal_steps_per_epoch": self.dataset.rehearsal_steps},
            peak_memory_bytes=peak, extra={**({"time_budget": self.budget_note} if self.budget_note else {}),
                                           **({"warm_start": self.warm_start} if self.warm_start else {})},
        )

    def collate(self, rows) -> Batch:
        """One step's tensors on the training device (a packed step: one flat row)."""
        return collate(rows, pad_id=self.pad_id, packed=self.dataset.packed, multiple=SHAPE_MULTIPLE).to(self.device)

    def _fit_time_budget(self, *, elapsed: float, seconds_per_step: float) -> None:
        """Set the run's length so the remaining steps end when ``time_budget_s`` does, at the pace
        so far: shorter on a machine that gets busier mid-run, longer again (never past the planned
        steps) when it gets quieter. Checked after every step."""
        remaining = max(0.0, self.config.time_budget_s - elapsed)
        fitted = min(self.planned_steps, self.step + int(remaining / seconds_per_step))
        # Out of time: one more step, once, so the run ends on a step its schedule was planned for.
        fitted = max(fitted, min(self.total_steps, self.step + 1))
        if fitted < self.planned_steps:
            self.budget_note = (f"time budget {self.config.time_budget_s:.0f}s at {seconds_per_step:.2f}s/step: "
                                f"{fitted} of {self.planned_steps} planned steps")
        elif self.budget_note:
            self.budget_note = (f"time budget {self.config.time_budget_s:.0f}s at {seconds_per_step:.2f}s/step: "
                                f"all {self.planned_steps} planned steps")
        self.total_steps = fitted

    # --- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        import torch
        from safetensors.torch import save_file

        from training.methods import adapter_state

        root = self.work_dir / "checkpoints"
        path = root / f"step-{self.step:06d}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in adapter_state(self.model).items()}
        save_file(weights, str(path / "adapter.safetensors"))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "rng": torch.get_rng_state(), **_cuda_rng_state()}, path / "optimizer.pt")
        (path / "state.json").write_text(json.dumps(
            {"step": self.step, "total_steps": self.total_steps, "curve": self.curve,
             "step_tokens": self.dataset.step_tokens, "config": self.config.to_dict(),
             "warm_start": self.warm_start}))
        _fsync_dir(path)
        faults.inject(f"checkpoint@{self.step}")
        # The marker goes last: a checkpoint without it was interrupted and is never resumed from.
        (path / COMPLETE).write_text(str(self.step))
        _fsync_dir(path)
        for old in sorted(root.glob("step-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
        if self.on_checkpoint:
            self.on_checkpoint(self.step, path)
        return path

    def _load_checkpoint(self, path: Path) -> None:
        import torch
        from safetensors.torch import load_file

        from training.methods import load_adapter_state

        state = _checkpoint_state(path)
        load_adapter_state(self.model, {k: v.to(self.device) for k, v in
                                               load_file(str(path / "adapter.safetensors")).items()})
        saved = torch.load(path / "optimizer.pt", map_location=self.device, weights_only=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"].cpu())
        _restore_cuda_rng_state(saved.get("cuda_rng", []))
        self.step = self.resumed_from = int(state["step"])
        self.total_steps = min(self.total_steps, int(state.get("total_steps", self.total_steps)))  # a time budget's
        self.curve = list(state["curve"])
        self.warm_start = state.get("warm_start", {})

    # --- after training ------------------------------------------------------------------
    def evaluate(self, heldout: Sequence[dict], *, max_examples: int = 64, max_new_tokens: int = 96,
                 general_text: str | None = None, rival_adapter: str | None = None,
                 base: dict[str, Any] | None = None) -> dict[str, Any]:
        """Base (or ``base``, its scores from an earlier evaluation of the same examples), this adapter
        and (given its folder) the promoted version on the same examples."""
        from training.evaluate import evaluate_adapter

        return evaluate_adapter(self.model, self.tokenizer, heldout, general_text=general_text,
                                max_examples=max_examples, max_new_tokens=max_new_tokens, train=self.examples,
                                rival_adapter=rival_adapter, base=base)

    def save_adapter(self, out_dir: Path, *, dataset_hash: str, metrics: dict[str, Any] | None = None,
                     extra: dict[str, Any] | None = None) -> Path:
        from training.artifacts import save_adapter

        return save_adapter(self.model, out_dir, base_model=self.base_model, method=self.config.method,
                            max_rank=self.config.max_rank, dataset_hash=dataset_hash, metrics=metrics,
                            extra=extra, dtype=self.dtype)

    def remove_checkpoints(self) -> None:
        shutil.rmtree(self.work_dir / "checkpoints", ignore_errors=True)
        (self.work_dir / REHEARSAL_FILE).unlink(missing_ok=True)

    def cleanup(self) -> None:
        """Free the model and optimizer memory (host and GPU) so the worker can take the next job."""
        import torch

        self.model = self.optimizer = self.scheduler = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _checkpoint_state(path: Path) -> dict[str, Any]:
    return json.loads((path / "state.json").read_text())


def _cuda_rng_state() -> dict[str, Any]:
    """Every GPU's generator state (dropout on a GPU draws from it), where there is a GPU."""
    import torch

    return {"cuda_rng": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {}


def _restore_cuda_rng_state(states: Sequence[Any]) -> None:
    import torch

    if not torch.cuda.is_available():
        return
    for index, state in enumerate(list(states)[:torch.cuda.device_count()]):
        torch.cuda.set_rng_state(state.cpu(), index)


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _cpu_peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
