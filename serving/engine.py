"""The embedded engine: one base model, continuous batching, a batched-LoRA slot per adapter.

Batches: every base-model and LoRA/DoRA request shares one running batch (its rows carry
their own slots); the requests of each non-LoRA adapter (IA3, prompt or prefix tuning,
bottleneck; ``serving.methods``) form a batch of their own with that adapter applied to the
whole pass. Each scheduler step decodes one token in every batch, so no method waits for another.

A scheduler thread owns the model. Each iteration it admits waiting requests
(prefilled together in left-padded forward passes of similar-length prompts, within a
padded-token budget; each row with its adapter's slot, position ids counted from its first
real token), then runs one decode step
for every running request together - rows for different adapters share that
forward pass through ``serving.lora``. The running batch keeps a left-padded KV
cache; finished rows are dropped from it between steps, new rows are padded in.

Prefix caching (``serving.prefix_cache``): a base or LoRA request whose prompt begins with blocks
an earlier prompt of the same adapter version computed prefills only the rest, its cached blocks
placed as past KV columns before it; every prefilled prompt offers its blocks back.

Adapter versions: a request holds the ``AdapterWeights`` object it resolved at
admission time and its slot keeps those weights until it finishes, so after a
``load_inplace`` hot swap in-flight requests finish on the old version while new
requests get the new one (both may be resident for a moment).

Admission control: the running batches' KV caches hold at most ``max_batch_total_tokens``
tokens (as TGI's --max-batch-total-tokens: prompt + max_tokens of every row, padding included,
so a batch costs rows x its longest row). A request is admitted only when its reservation fits
beside what runs; until then it waits in the queue, first come first served. A request that could
never fit, even alone, is refused before admission (``too_large``): the memory is bounded up front
rather than an out-of-memory error ending the whole batch.

Over 400 lines because the scheduler loop, admission, prefill, decode and cancellation share the
batch state and the one thread that owns the model; split, each part would reach into the others.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from serving import cpu_attention
from serving.adapters import BaseModelInfo
from serving.lora import AdapterWeights, BatchedLoRA
from serving.methods import GroupAdapter, ModelDims
from serving.prefix_cache import KVBlock, PrefixCache

log = logging.getLogger("serving.engine")
_ids = itertools.count(1)
EMPTY_PROMPT = "The decoder prompt cannot be empty"  # vLLM's words (a 400 at the HTTP layer)
# The KV budget when none is given (at least one full-length sequence): ~1.5 GB of float32 KV on SmolLM2-135M.
DEFAULT_MAX_BATCH_TOTAL_TOKENS = 32768
# Prompt tokens whose KV is kept for later prompts that begin alike (~190 MB of bf16 KV on SmolLM2-135M).
DEFAULT_PREFIX_CACHE_TOKENS = 8192


class EngineConfigError(ValueError):
    """Settings that cannot work together (said at start-up, as vLLM does)."""


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False
    logprobs: int | None = None  # None: no logprobs; k: each sampled token's logprob and the top k


@dataclass(frozen=True)
class TokenLogprob:
    """A sampled token's log-probability under the model (raw logits, as vLLM reports by default)
    and the ``top`` most likely tokens of that step as (token id, logprob)."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@dataclass
class Event:
    """What the engine reports for a request: a text delta, the end, or an error.

    The end ("done") carries the last piece of text, so the final chunk holds both the last
    content and the finish reason (as vLLM's does); ``stop_reason`` is the stop string that ended
    the request, if one did. ``logprobs`` are those of the tokens sampled since the previous event."""

    kind: str  # "delta" | "done" | "error"
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    stop_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None


@dataclass
class Request:
    prompt_ids: list[int]
    adapter: AdapterWeights | GroupAdapter | None
    params: SamplingParams
    emit: Callable[[Event], None]
    id: int = field(default_factory=lambda: next(_ids))
    created: float = field(default_factory=time.monotonic)
    generated: list[int] = field(default_factory=list)
    sampled: int = 0  # tokens generated, the EOS included (as vLLM counts them)
    sent: int = 0
    slot: int = 0
    cache_len: int = 0
    cancelled: bool = False
    finished: bool = False
    generator: torch.Generator | None = None
    token_logprobs: list[TokenLogprob] = field(default_factory=list)
    logprobs_sent: int = 0
    cached: list[KVBlock] = field(default_factory=list)  # prefix-cache blocks the prompt begins with, until prefilled
    cached_tokens: int = 0  # prompt tokens whose KV came from the prefix cache


KVLayers = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values): [rows, kv heads, positions, dim]
PrefillPart = tuple[list[Request], KVLayers, torch.Tensor]  # prefilled rows, their KV layers, their mask


@dataclass
class Batch:
    """Running requests decoded together, with their left-padded KV cache and attention mask: the
    base and LoRA requests (``adapter`` None), or the requests of one non-LoRA adapter."""

    adapter: GroupAdapter | None
    running: list[Request] = field(default_factory=list)
    cache: Any = None  # a DynamicCache, left-padded like mask
    mask: torch.Tensor | None = None


def batch_key(adapter: AdapterWeights | GroupAdapter | None) -> int:
    """Which batch a request joins: 0 for the shared LoRA batch, else its adapter version's own."""
    return id(adapter) if isinstance(adapter, GroupAdapter) else 0


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matrix units, where bf16 halves memory traffic at no compute cost.
    Without them bf16 is emulated and float32 is the fast choice. ``DOCSBOT_CPU_BF16=off`` treats
    the CPU as float32-only, like training/hardware.py (serving may not import training)."""
    if os.environ.get("DOCSBOT_CPU_BF16", "auto").lower() == "off":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def compute_dtype(choice: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on CUDA and on CPUs with native bf16, else float32."""
    if choice not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"dtype: expected auto, float32 or bfloat16, got {choice!r}")
    if choice == "auto":
        native = device.type == "cuda" or cpu_has_native_bf16()
        return torch.bfloat16 if native else torch.float32
    return getattr(torch, choice)


def default_prefill_tokens(device: torch.device) -> int:
    """Padded prompt tokens one prefill pass holds by default. On the CPU a small budget: long prompts go
    in small groups of similar length, short ones still share a pass (SmolLM2, 16 prompts of 380-485
    tokens, bf16, one thread: 6.6-7.0 s in groups within 2,048 tokens, one by one the same, 8.9-9.1 s all
    in one padded pass, whose mask keeps attention off the causal kernel). A GPU fills its parallelism
    with large passes."""
    return 2048 if device.type == "cpu" else 8192


class Engine:
    def __init__(self, model_path: str, *, served_name: str | None = None, device: str | None = None,
                 max_loras: int = 4, max_lora_rank: int = 16, max_batch: int = 32,
                 max_model_len: int | None = None, max_prefill_tokens: int | None = None,
                 max_batch_total_tokens: int | None = None, dtype: str = "auto",
                 prefix_cache_tokens: int = DEFAULT_PREFIX_CACHE_TOKENS):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = compute_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        # On a CPU, decode steps' attention runs as plain matmuls (serving.cpu_attention); prefill stays SDPA's.
        attention = {"attn_implementation": cpu_attention.register()} if self.device.type == "cpu" else {}
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, **attention).to(self.device).eval()
        config = self.model.config
        limits = [getattr(config, "max_position_embeddings", None), max_model_len]
        self.max_model_len = int(min(v for v in limits if v))
        self.max_batch_total_tokens = max_batch_total_tokens or max(self.max_model_len, DEFAULT_MAX_BATCH_TOTAL_TOKENS)
        if self.max_batch_total_tokens < self.max_model_len:
            raise EngineConfigError(
                f"max_model_len {self.max_model_len} is larger than --max-batch-total-tokens "
                f"{self.max_batch_total_tokens}: one full-length sequence could never be admitted; raise "
                f"--max-batch-total-tokens or lower --max-model-len")
        self.served_name = served_name or model_path
        self.model_path = model_path
        self.max_batch = max_batch
        # padded prompt tokens in one prefill pass (a longer prompt goes alone)
        self.max_prefill_tokens = max_prefill_tokens or default_prefill_tokens(self.device)
        self.lora = BatchedLoRA(self.model, slots=max_loras + 1, max_rank=max_lora_rank)
        self.prefix_cache = PrefixCache(capacity=prefix_cache_tokens)
        self.base_info = BaseModelInfo(served_name=self.served_name, model_path=model_path,
                                       module_shapes=self.lora.module_shapes(),
                                       base_weight=self.lora.base_weight, max_rank=max_lora_rank, dtype=dtype,
                                       dims=ModelDims.from_config(config), lora_dtype=self.lora.dtype)
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {i for i in [*eos_ids, self.tokenizer.eos_token_id] if i is not None}
        forward_params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in forward_params else "past_key_values"
        # Slot 0 is the base model; slots 1..max_loras hold adapter versions.
        self._slot_adapter: list[AdapterWeights | None] = [None] * (max_loras + 1)
        self._slot_users = [0] * (max_loras + 1)
        self._slot_used_at = [0.0] * (max_loras + 1)
        self._waiting: deque[Request] = deque()
        self._batches: dict[int, Batch] = {}  # by batch_key; a batch goes when its last request ends
        self._admitted: list[Request] = []  # this step's admissions, until the step ends
        self._cond = threading.Condition()
        self._stop = False
        self.stats = {"generated_tokens": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0, "steps": 0,
                      "prefills": 0, "finished": 0}
        self._thread = threading.Thread(target=self._loop, name="serving-scheduler", daemon=True)
        self._thread.start()

    # --- public, called from the HTTP side -----------------------------------------
    def submit(self, *requests: Request) -> None:
        """Queue requests; ones submitted together are admitted (and prefilled) in the same step when
        the KV budget has room for them all, else in order as it frees. A request with no prompt token is refused at once with an
        error event, and so are requests that together could never fit the KV budget (``too_large``)."""
        accepted: list[Request] = []
        for request in requests:
            if not request.prompt_ids:
                self._finish(request, error=EMPTY_PROMPT)
                continue
            if request.params.seed is not None:
                request.generator = torch.Generator().manual_seed(request.params.seed)
            accepted.append(request)
        if (refusal := self.too_large(accepted)) is not None:
            for request in accepted:
                self._finish(request, error=refusal)
            return
        with self._cond:
            self._waiting.extend(accepted)
            self._cond.notify()

    def reservation(self, request: Request) -> int:
        """The KV tokens ``request`` may come to hold: its prompt, an adapter's virtual tokens and
        ``max_tokens``, within the context length (generation stops there)."""
        virtual = request.adapter.virtual_tokens if isinstance(request.adapter, GroupAdapter) else 0
        return min(len(request.prompt_ids) + virtual + request.params.max_tokens, self.max_model_len)

    def kv_tokens(self, requests: list[Request]) -> int:
        """The KV budget ``requests`` take in batches of their own: per batch, rows x the longest
        reservation (rows are left-padded to one width)."""
        longest: dict[int, list[int]] = {}
        for request in requests:
            rows = longest.setdefault(batch_key(request.adapter), [0, 0])
            rows[0] += 1
            rows[1] = max(rows[1], self.reservation(request))
        return sum(count * width for count, width in longest.values())

    def too_large(self, requests: list[Request]) -> str | None:
        """Why ``requests`` (one API request's sequences) can never be admitted, or None when they fit
        the KV budget once the batches before them have drained."""
        needed = self.kv_tokens(requests)
        if needed <= self.max_batch_total_tokens:
            return None
        return (f"This request needs {needed} tokens of KV cache (prompt + max_tokens for each of its "
                f"{len(requests)} sequence(s)), more than the server holds at once "
                f"({self.max_batch_total_tokens}, --max-batch-total-tokens). Reduce max_tokens, n or the prompt.")

    @property
    def _running(self) -> list[Request]:
        return [request for batch in list(self._batches.values()) for request in batch.running]

    def cancel(self, request: Request) -> None:
        request.cancelled = True

    def counts(self) -> tuple[int, int]:
        return len(self._running), len(self._waiting)

    def resident_adapters(self) -> list[str]:
        return [a.name for a in self._slot_adapter if a is not None]

    def shutdown(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=10)

    # --- scheduler thread ------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._waiting and not self._running:
                    self._cond.wait()
                if self._stop:
                    return
            try:
                with torch.inference_mode():
                    self._admit()
                    for key in list(self._batches):
                        self._decode_step(key)
            except Exception as exc:
                log.exception("engine step failed")
                self._fail([*self._running, *self._admitted], exc)
                for key in list(self._batches):
                    self._reset_batch(key)
            finally:
                self._admitted = []

    def _admit(self) -> None:
        admitted: list[Request] = []
        with self._cond:
            skipped: deque[Request] = deque()
            # Per batch: [rows, longest reservation] of what runs and what this step admits.
            held = {key: [len(b.running), max((self.reservation(r) for r in b.running), default=0)]
                    for key, b in self._batches.items()}
            while self._waiting and len(self._running) + len(admitted) < self.max_batch:
                request = self._waiting.popleft()
                if request.cancelled:
                    continue
                reserved = self.reservation(request)
                rows = held.get(batch_key(request.adapter), [0, 0])
                after = sum(n * w for n, w in held.values()) - rows[0] * rows[1] + \
                    (rows[0] + 1) * max(rows[1], reserved)
                if after > self.max_batch_total_tokens:  # waits (first come, first served) for rows to end
                    self._waiting.appendleft(request)
                    break
                slot = self._acquire_slot(request.adapter)
                if slot is None:  # every slot busy with other adapters: wait for one to drain
                    skipped.append(request)
                    continue
                request.slot = slot
                held[batch_key(request.adapter)] = [rows[0] + 1, max(rows[1], reserved)]
                admitted.append(request)
            self._waiting.extendleft(reversed(skipped))
        self._admitted = admitted
        if admitted:
            self._prefill(admitted)

    def _acquire_slot(self, adapter: AdapterWeights | GroupAdapter | None) -> int | None:
        if adapter is None or isinstance(adapter, GroupAdapter):  # the base model's slot: no LoRA on its rows
            return 0
        now = time.monotonic()
        for slot, held in enumerate(self._slot_adapter):
            if held is adapter:
                self._slot_users[slot] += 1
                self._slot_used_at[slot] = now
                return slot
        free = [s for s in range(1, len(self._slot_adapter)) if self._slot_users[s] == 0]
        if not free:
            return None
        slot = min(free, key=lambda s: (self._slot_adapter[s] is not None, self._slot_used_at[s]))
        self.lora.assign(slot, adapter)
        self._slot_adapter[slot] = adapter
        self._slot_users[slot] = 1
        self._slot_used_at[slot] = now
        return slot

    def _forward(self, adapter: GroupAdapter | None, input_ids: torch.Tensor | None, slots: list[int],
                 **kwargs: Any):
        """One pass: LoRA rows routed to their slots; a non-LoRA adapter applied to every row."""
        self.lora.route(slots, self.device)
        inputs = {"input_ids": input_ids} if input_ids is not None else {}
        with adapter.applied(self.model) if adapter is not None else contextlib.nullcontext():
            return self.model(**inputs, use_cache=True, logits_to_keep=1, **kwargs)

    def _prefill(self, requests: list[Request]) -> None:
        """Prefill the requests admitted in one step together: left-padded, one forward pass per group
        (requests of one batch, within the padded-token budget). A group whose pass fails fails alone:
        its requests get an error and give back their slots, the running batches and the other groups
        go on."""
        by_batch: dict[int, list[Request]] = {}
        for request in requests:
            by_batch.setdefault(batch_key(request.adapter), []).append(request)
        for key, members in by_batch.items():
            adapter = members[0].adapter if key else None
            if adapter is None:  # the base and LoRA batch; a non-LoRA adapter's virtual tokens are not cached
                for request in members:
                    request.cached = self.prefix_cache.match(self._cache_owner(request), request.prompt_ids)
            parts: list[PrefillPart] = []
            for group in self._prefill_groups(members, adapter):
                try:
                    mask, layers, tokens = self._prefill_group(group, adapter)
                except Exception as exc:
                    log.exception("prefill failed for %d request(s)", len(group))
                    self._fail(group, exc)
                    continue
                parts.append((group, layers, mask))
                for request, token in zip(group, tokens):  # streamed now, not after the step's last group
                    self._advance(request, token)
            if parts:
                self._merge(self._batches.setdefault(key, Batch(adapter)), parts)
                self._drop_finished(key)

    def _prefill_groups(self, requests: list[Request], adapter: GroupAdapter | None) -> list[list[Request]]:
        # Sorted by length so rows of one pass pad little; a group stays within the padded-token budget.
        extra = adapter.virtual_tokens if adapter is not None else 0
        groups: list[list[Request]] = [[]]
        for request in sorted(requests, key=self._uncached_length):
            if groups[-1] and (len(groups[-1]) + 1) * (self._uncached_length(request) + extra) > self.max_prefill_tokens:
                groups.append([])
            groups[-1].append(request)
        return groups

    def _uncached_length(self, request: Request) -> int:
        return len(request.prompt_ids) - len(request.cached) * self.prefix_cache.block

    @staticmethod
    def _cache_owner(request: Request) -> int:
        return request.adapter.uid if isinstance(request.adapter, AdapterWeights) else 0

    def _prefill_group(self, rows: list[Request], adapter: GroupAdapter | None = None,
                       ) -> tuple[torch.Tensor, KVLayers, list[int]]:
        """One forward pass over ``rows``, changing no batch state: (mask, KV layers, first tokens).

        A soft prompt goes between each row's padding and its prompt (as PEFT puts it before the
        prompt); a prefix is the first columns of the KV cache, the prompt's positions after it. A
        row's prefix-cache blocks are the end of the KV columns before its (left-padded) uncached rest."""
        soft = adapter.prompt if adapter is not None else None
        prefix = adapter.virtual_tokens if adapter is not None and adapter.prefix else 0
        before = soft.shape[0] if soft is not None else 0
        cached = [len(r.cached) * self.prefix_cache.block for r in rows]
        width = max(len(r.prompt_ids) - c for r, c in zip(rows, cached)) + before
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, request in enumerate(rows):
            n = len(request.prompt_ids)
            ids[i, width - n + cached[i]:] = torch.tensor(request.prompt_ids[cached[i]:])
            mask[i, width - n + cached[i] - before:] = 1
            request.cache_len = n + before + prefix
            request.cached_tokens = cached[i]
            self.stats["prompt_tokens"] += n
            self.stats["cached_prompt_tokens"] += cached[i]
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(1) - 1).clamp(min=0) + prefix + torch.tensor(cached, device=self.device)[:, None]
        inputs: dict[str, Any] = {"input_ids": ids}
        if soft is not None:
            embeds = self.model.get_input_embeddings()(ids)
            for i, request in enumerate(rows):
                start = width - len(request.prompt_ids) - before
                embeds[i, start:start + before] = soft.to(embeds.dtype)
            inputs = {"input_ids": None, "inputs_embeds": embeds}
        if prefix:
            from transformers import DynamicCache

            inputs[self._cache_kw] = DynamicCache(ddp_cache_data=adapter.prefix_layers(len(rows)))
            mask = torch.cat([torch.ones(len(rows), prefix, dtype=torch.long, device=self.device), mask], 1)
        elif max(cached):
            layers, past_mask = self._cached_past(rows, max(cached))
            inputs[self._cache_kw] = self._new_cache(layers)
            mask = torch.cat([past_mask, mask], 1)
        output = self._forward(adapter, slots=[r.slot for r in rows], attention_mask=mask, position_ids=positions,
                               **inputs)
        self.stats["prefills"] += 1
        layers = self._cache_layers(self._output_cache(output))
        if adapter is None:
            self._keep_prefixes(rows, layers, max(cached))
        return mask, layers, self._sample(output.logits[:, -1], rows)

    def _cached_past(self, rows: list[Request], width: int) -> tuple[KVLayers, torch.Tensor]:
        """The rows' prefix-cache blocks as KV layers ``width`` columns wide, left-padded, and their mask."""
        sample = next(r.cached[0] for r in rows if r.cached)
        layers, _, heads, _, dim = sample.shape
        past = torch.zeros(layers, 2, len(rows), heads, width, dim, dtype=sample.dtype, device=sample.device)
        mask = torch.zeros(len(rows), width, dtype=torch.long, device=self.device)
        for i, request in enumerate(rows):
            if request.cached:
                blocks = torch.cat(request.cached, dim=3)
                past[:, :, i, :, width - blocks.shape[3]:] = blocks
                mask[i, width - blocks.shape[3]:] = 1
            request.cached = []  # the blocks now live in this pass's KV
        return [(past[layer, 0], past[layer, 1]) for layer in range(layers)], mask

    def _keep_prefixes(self, rows: list[Request], layers: KVLayers, past: int) -> None:
        """Offer each row's prompt blocks to the prefix cache. In the pass's KV columns a row's cached
        blocks end at column ``past`` and the rest of its prompt ends at the last column."""
        if not self.prefix_cache.enabled:
            return
        block, width = self.prefix_cache.block, layers[0][0].shape[2]
        for i, request in enumerate(rows):
            n, cached = len(request.prompt_ids), request.cached_tokens

            def block_kv(index: int, i: int = i, n: int = n, cached: int = cached) -> KVBlock:
                token = index * block
                column = past - cached + token if token < cached else width - n + token
                return torch.stack([torch.stack((keys[i, :, column:column + block], values[i, :, column:column + block]))
                                    for keys, values in layers])

            self.prefix_cache.add(self._cache_owner(request), request.prompt_ids, block_kv)

    @staticmethod
    def _output_cache(output):
        return getattr(output, "cache", None) or getattr(output, "past_key_values", None)

    @staticmethod
    def _cache_layers(cache) -> KVLayers:
        return [(layer.keys, layer.values) for layer in cache.layers]

    @staticmethod
    def _new_cache(layers: KVLayers):
        # Imported here, as the model is: serving.kv_cache loads transformers' cache classes.
        from serving.kv_cache import growing_cache

        return growing_cache(layers)  # decode steps write into its room instead of copying the cache

    def _merge(self, batch: Batch,
               parts: list[PrefillPart]) -> None:
        """Append freshly prefilled groups (rows, KV layers, mask) to a running batch in one copy: every part
        left-padded to the widest."""
        if batch.running:
            parts = [(batch.running, self._cache_layers(batch.cache), batch.mask), *parts]
        if len(parts) == 1:
            rows, layers, mask = parts[0]
            batch.cache, batch.mask, batch.running = self._new_cache(layers), mask, list(rows)
            return
        width = max(mask.shape[1] for _, _, mask in parts)

        def pad(t: torch.Tensor, dim: int) -> torch.Tensor:
            missing = width - t.shape[dim]
            if missing == 0:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([torch.zeros(shape, dtype=t.dtype, device=t.device), t], dim=dim)

        batch.cache = self._new_cache([
            (torch.cat([pad(layers[i][0], 2) for _, layers, _ in parts]),
             torch.cat([pad(layers[i][1], 2) for _, layers, _ in parts]))
            for i in range(len(parts[0][1]))])
        batch.mask = torch.cat([pad(mask, 1) for _, _, mask in parts])
        batch.running = [request for rows, _, _ in parts for request in rows]

    def _decode_step(self, key: int) -> None:
        """One token for every request of one batch; a batch whose pass fails fails alone."""
        batch = self._batches[key]
        rows = batch.running
        try:
            ids = torch.tensor([[r.generated[-1]] for r in rows], device=self.device)
            positions = torch.tensor([[r.cache_len] for r in rows], device=self.device)
            batch.mask = torch.cat([batch.mask, torch.ones(len(rows), 1, dtype=torch.long, device=self.device)], 1)
            output = self._forward(batch.adapter, ids, [r.slot for r in rows], attention_mask=batch.mask,
                                   position_ids=positions, **{self._cache_kw: batch.cache})
        except Exception as exc:
            log.exception("decode step failed for %d request(s)", len(rows))
            self._fail(rows, exc)
            self._reset_batch(key)
            return
        batch.cache = self._output_cache(output)  # the same object, grown by this step (no re-wrapping)
        self.stats["steps"] += 1
        tokens = self._sample(output.logits[:, -1], rows)
        for request, token in zip(rows, tokens):
            request.cache_len += 1
            self._advance(request, token)
        self._drop_finished(key)

    def _sample(self, logits: torch.Tensor, rows: list[Request]) -> list[int]:
        logits = logits.float()
        greedy = logits.argmax(-1).tolist()
        out = self._sample_rows(logits, greedy, rows)
        self._record_logprobs(logits, rows, out)
        return out

    @staticmethod
    def _record_logprobs(logits: torch.Tensor, rows: list[Request], tokens: list[int]) -> None:
        wanted = [i for i, r in enumerate(rows) if r.params.logprobs is not None]
        if not wanted:
            return
        index = torch.tensor(wanted, device=logits.device)
        logprobs = torch.log_softmax(logits.index_select(0, index), -1)
        k = max(rows[i].params.logprobs for i in wanted)
        top_values, top_ids = logprobs.topk(k, -1) if k else (logprobs[:, :0], logprobs[:, :0].long())
        chosen = logprobs.gather(1, torch.tensor([[tokens[i]] for i in wanted], device=logits.device))
        chosen, top_values, top_ids = chosen.cpu().tolist(), top_values.cpu().tolist(), top_ids.cpu().tolist()
        for j, i in enumerate(wanted):
            request, n = rows[i], rows[i].params.logprobs
            top = tuple(zip(top_ids[j][:n], top_values[j][:n]))
            request.token_logprobs.append(TokenLogprob(tokens[i], chosen[j][0], top))

    @staticmethod
    def _sample_rows(logits: torch.Tensor, greedy: list[int], rows: list[Request]) -> list[int]:
        out: list[int] = []
        for i, request in enumerate(rows):
            params = request.params
            if params.temperature <= 1e-5:
                out.append(greedy[i])
                continue
            probs = torch.softmax(logits[i] / params.temperature, -1)
            if params.top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                keep = sorted_probs.cumsum(-1) - sorted_probs < params.top_p
                probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
            generator = request.generator
            if generator is None:
                generator = request.generator = torch.Generator().manual_seed(random.getrandbits(63))
            out.append(int(torch.multinomial(probs.cpu(), 1, generator=generator)))
        return out

    def _advance(self, request: Request, token: int) -> None:
        """Record one generated token, stream the text that is safe to send, detect the end."""
        if request.cancelled:
            self._finish(request, reason="abort")
            return
        self.stats["generated_tokens"] += 1
        request.sampled += 1
        params = request.params
        if token in self.eos_ids and not params.ignore_eos:
            self._finish(request, reason="stop", text=self._text(request))
            return
        request.generated.append(token)
        text = self._text(request)
        stop = self._stop_at(request, text)
        if stop is not None:  # vLLM leaves the stop string (and anything after it) out
            at, matched = stop
            self._finish(request, reason="stop", text=text[:at], stop_reason=matched)
        elif len(request.generated) >= params.max_tokens or request.cache_len + 1 >= self.max_model_len:
            self._finish(request, reason="length", text=text)
        else:
            self._send(request, text[:self._safe_end(request, text)])

    def _text(self, request: Request) -> str:
        return self.tokenizer.decode(request.generated, skip_special_tokens=True)

    @staticmethod
    def _stop_at(request: Request, text: str) -> tuple[int, str] | None:
        """Where the first of the request's stop strings (in their order, as vLLM) begins in ``text``,
        and which one it is."""
        for stop in request.params.stop:
            at = text.find(stop, max(0, request.sent - len(stop)))  # a new match ends in unsent text
            if at != -1:
                return at, stop
        return None

    @staticmethod
    def _safe_end(request: Request, text: str) -> int:
        """How much of ``text`` may be streamed now: not the tail that could begin a stop string,
        nor an unfinished UTF-8 sequence."""
        safe = len(text) - (max((len(s) for s in request.params.stop), default=1) - 1)
        while safe > request.sent and text[safe - 1] == "\ufffd":
            safe -= 1
        return safe

    def _send(self, request: Request, text: str) -> None:
        if len(text) > request.sent:
            request.emit(Event("delta", text=text[request.sent:], logprobs=self._unsent_logprobs(request)))
            request.sent = len(text)

    @staticmethod
    def _unsent_logprobs(request: Request) -> list[TokenLogprob] | None:
        if request.params.logprobs is None:
            return None
        unsent = request.token_logprobs[request.logprobs_sent:]
        request.logprobs_sent = len(request.token_logprobs)
        return unsent

    def _finish(self, request: Request, *, reason: str | None = None, error: str | None = None,
                text: str = "", stop_reason: str | None = None) -> None:
        """End a request: an error, or the end event with what is left of its final ``text`` (what was
        held back), its finish and stop reasons and usage."""
        if request.finished:
            return
        request.finished = True
        self.stats["finished"] += 1
        if error is not None:
            request.emit(Event("error", text=error))
            return
        usage = {"prompt_tokens": len(request.prompt_ids), "completion_tokens": request.sampled}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["cached_tokens"] = request.cached_tokens
        request.emit(Event("done", text=text[request.sent:], finish_reason=reason, usage=usage,
                           stop_reason=stop_reason, logprobs=self._unsent_logprobs(request)))
        request.sent = max(request.sent, len(text))

    def _drop_finished(self, key: int) -> None:
        batch = self._batches[key]
        keep = [i for i, r in enumerate(batch.running) if not r.finished]
        if len(keep) == len(batch.running):
            return
        for request in batch.running:
            if request.finished:
                self._release(request)
        if not keep:
            self._reset_batch(key)
            return
        index = torch.tensor(keep, device=self.device)
        batch.running = [batch.running[i] for i in keep]
        mask = batch.mask.index_select(0, index)
        first = int(mask.any(0).long().argmax())  # drop columns that are padding in every row
        batch.mask = mask[:, first:]
        batch.cache = self._new_cache([(k.index_select(0, index)[:, :, first:], v.index_select(0, index)[:, :, first:])
                                       for k, v in self._cache_layers(batch.cache)])

    def _release(self, request: Request) -> None:
        if request.slot:
            self._slot_users[request.slot] -= 1
            request.slot = 0

    def _reset_batch(self, key: int) -> None:
        batch = self._batches.pop(key, None)
        for request in batch.running if batch else []:
            self._release(request)

    def _fail(self, requests: list[Request], exc: Exception) -> None:
        """End each request with an error and give back its slot (requests already ended keep their end)."""
        for request in requests:
            self._finish(request, error=f"internal error: {exc}")
            self._release(request)
