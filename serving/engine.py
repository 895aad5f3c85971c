"""The embedded engine: one base model, continuous batching, a batched-LoRA slot per adapter.

A scheduler thread owns the model. Each iteration it admits waiting requests
(prefilled together in one left-padded forward pass, each row with its adapter's
slot, position ids counted from its first real token), then runs one decode step
for every running request together - rows for different adapters share that
forward pass through ``serving.lora``. The running batch keeps a left-padded KV
cache; finished rows are dropped from it between steps, new rows are padded in.

Adapter versions: a request holds the ``AdapterWeights`` object it resolved at
admission time and its slot keeps those weights until it finishes, so after a
``load_inplace`` hot swap in-flight requests finish on the old version while new
requests get the new one (both may be resident for a moment).
"""
from __future__ import annotations

import inspect
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from serving.adapters import BaseModelInfo
from serving.lora import AdapterWeights, BatchedLoRA

log = logging.getLogger("serving.engine")
_ids = itertools.count(1)
EMPTY_PROMPT = "The decoder prompt cannot be empty"  # vLLM's words (a 400 at the HTTP layer)


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
    adapter: AdapterWeights | None
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


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matrix units, where bf16 halves memory traffic at no compute cost.
    Without them bf16 is emulated and float32 is the fast choice."""
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


class Engine:
    def __init__(self, model_path: str, *, served_name: str | None = None, device: str | None = None,
                 max_loras: int = 4, max_lora_rank: int = 16, max_batch: int = 32,
                 max_model_len: int | None = None, max_prefill_tokens: int = 8192, dtype: str = "auto"):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = compute_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(self.device).eval()
        config = self.model.config
        limits = [getattr(config, "max_position_embeddings", None), max_model_len]
        self.max_model_len = int(min(v for v in limits if v))
        self.served_name = served_name or model_path
        self.model_path = model_path
        self.max_batch = max_batch
        self.max_prefill_tokens = max_prefill_tokens  # padded prompt tokens in one prefill pass
        self.lora = BatchedLoRA(self.model, slots=max_loras + 1, max_rank=max_lora_rank)
        self.base_info = BaseModelInfo(served_name=self.served_name, model_path=model_path,
                                       module_shapes=self.lora.module_shapes(),
                                       base_weight=self.lora.base_weight, max_rank=max_lora_rank, dtype=dtype)
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
        self._running: list[Request] = []
        self._admitted: list[Request] = []  # this step's admissions, until the step ends
        self._cache: Any = None  # the running batch's DynamicCache, left-padded like self._mask
        self._mask: torch.Tensor | None = None
        self._cond = threading.Condition()
        self._stop = False
        self.stats = {"generated_tokens": 0, "prompt_tokens": 0, "steps": 0, "prefills": 0, "finished": 0}
        self._thread = threading.Thread(target=self._loop, name="serving-scheduler", daemon=True)
        self._thread.start()

    # --- public, called from the HTTP side -----------------------------------------
    def submit(self, *requests: Request) -> None:
        """Queue requests; ones submitted together are admitted (and prefilled) in the same step.
        A request with no prompt token is refused at once with an error event."""
        accepted: list[Request] = []
        for request in requests:
            if not request.prompt_ids:
                self._finish(request, error=EMPTY_PROMPT)
                continue
            if request.params.seed is not None:
                request.generator = torch.Generator().manual_seed(request.params.seed)
            accepted.append(request)
        with self._cond:
            self._waiting.extend(accepted)
            self._cond.notify()

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
                    if self._running:
                        self._decode_step()
            except Exception as exc:
                log.exception("engine step failed")
                self._fail([*self._running, *self._admitted], exc)
                self._reset_batch()
            finally:
                self._admitted = []

    def _admit(self) -> None:
        admitted: list[Request] = []
        with self._cond:
            skipped: deque[Request] = deque()
            while self._waiting and len(self._running) + len(admitted) < self.max_batch:
                request = self._waiting.popleft()
                if request.cancelled:
                    continue
                slot = self._acquire_slot(request.adapter)
                if slot is None:  # every slot busy with other adapters: wait for one to drain
                    skipped.append(request)
                    continue
                request.slot = slot
                admitted.append(request)
            self._waiting.extendleft(reversed(skipped))
        self._admitted = admitted
        if admitted:
            self._prefill(admitted)

    def _acquire_slot(self, adapter: AdapterWeights | None) -> int | None:
        if adapter is None:
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

    def _forward(self, input_ids: torch.Tensor, slots: list[int], **kwargs: Any):
        self.lora.route(slots, self.device)
        return self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **kwargs)

    def _prefill(self, requests: list[Request]) -> None:
        """Prefill the requests admitted in one step together: left-padded, one forward pass per group.
        A group whose pass fails fails alone: its requests get an error and give back their slots,
        the running batch and the other groups go on."""
        for group in self._prefill_groups(requests):
            try:
                mask, layers, tokens = self._prefill_group(group)
            except Exception as exc:
                log.exception("prefill failed for %d request(s)", len(group))
                self._fail(group, exc)
                continue
            self._merge(group, layers, mask)
            for request, token in zip(group, tokens):
                self._advance(request, token)
        self._drop_finished()

    def _prefill_groups(self, requests: list[Request]) -> list[list[Request]]:
        # Sorted by length so rows of one pass pad little; a group stays within the padded-token budget.
        groups: list[list[Request]] = [[]]
        for request in sorted(requests, key=lambda r: len(r.prompt_ids)):
            if groups[-1] and (len(groups[-1]) + 1) * len(request.prompt_ids) > self.max_prefill_tokens:
                groups.append([])
            groups[-1].append(request)
        return groups

    def _prefill_group(self, rows: list[Request]) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]],
                                                           list[int]]:
        """One forward pass over ``rows``, changing no batch state: (mask, KV layers, first tokens)."""
        width = max(len(r.prompt_ids) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, request in enumerate(rows):
            n = len(request.prompt_ids)
            ids[i, width - n:] = torch.tensor(request.prompt_ids)
            mask[i, width - n:] = 1
            request.cache_len = n
            self.stats["prompt_tokens"] += n
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        output = self._forward(ids, [r.slot for r in rows], attention_mask=mask, position_ids=positions)
        self.stats["prefills"] += 1
        return mask, self._cache_layers(self._output_cache(output)), self._sample(output.logits[:, -1], rows)

    @staticmethod
    def _output_cache(output):
        return getattr(output, "cache", None) or getattr(output, "past_key_values", None)

    @staticmethod
    def _cache_layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _set_cache(self, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        from transformers import DynamicCache

        self._cache = DynamicCache(ddp_cache_data=layers)

    def _merge(self, rows: list[Request], layers: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor) -> None:
        """Append freshly prefilled rows to the running batch (both sides left-padded to one width)."""
        if not self._running:
            self._set_cache(layers)
            self._mask, self._running = mask, list(rows)
            return
        width = max(self._mask.shape[1], mask.shape[1])

        def pad(t: torch.Tensor, dim: int) -> torch.Tensor:
            missing = width - t.shape[dim]
            if missing == 0:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([torch.zeros(shape, dtype=t.dtype, device=t.device), t], dim=dim)

        self._set_cache([(torch.cat([pad(k0, 2), pad(k1, 2)]), torch.cat([pad(v0, 2), pad(v1, 2)]))
                         for (k0, v0), (k1, v1) in zip(self._cache_layers(self._cache), layers)])
        self._mask = torch.cat([pad(self._mask, 1), pad(mask, 1)])
        self._running.extend(rows)

    def _decode_step(self) -> None:
        rows = self._running
        ids = torch.tensor([[r.generated[-1]] for r in rows], device=self.device)
        positions = torch.tensor([[r.cache_len] for r in rows], device=self.device)
        self._mask = torch.cat([self._mask, torch.ones(len(rows), 1, dtype=torch.long, device=self.device)], 1)
        output = self._forward(ids, [r.slot for r in rows], attention_mask=self._mask, position_ids=positions,
                               **{self._cache_kw: self._cache})
        self._cache = self._output_cache(output)  # the same object, grown by this step (no re-wrapping)
        self.stats["steps"] += 1
        tokens = self._sample(output.logits[:, -1], rows)
        for request, token in zip(rows, tokens):
            request.cache_len += 1
            self._advance(request, token)
        self._drop_finished()

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
        request.emit(Event("done", text=text[request.sent:], finish_reason=reason, usage=usage,
                           stop_reason=stop_reason, logprobs=self._unsent_logprobs(request)))
        request.sent = max(request.sent, len(text))

    def _drop_finished(self) -> None:
        keep = [i for i, r in enumerate(self._running) if not r.finished]
        if len(keep) == len(self._running):
            return
        for request in self._running:
            if request.finished:
                self._release(request)
        if not keep:
            self._reset_batch()
            return
        index = torch.tensor(keep, device=self.device)
        self._running = [self._running[i] for i in keep]
        mask = self._mask.index_select(0, index)
        first = int(mask.any(0).long().argmax())  # drop columns that are padding in every row
        self._mask = mask[:, first:]
        self._set_cache([(k.index_select(0, index)[:, :, first:], v.index_select(0, index)[:, :, first:])
                         for k, v in self._cache_layers(self._cache)])

    def _release(self, request: Request) -> None:
        if request.slot:
            self._slot_users[request.slot] -= 1
            request.slot = 0

    def _reset_batch(self) -> None:
        for request in self._running:
            self._release(request)
        self._running, self._cache, self._mask = [], None, None

    def _fail(self, requests: list[Request], exc: Exception) -> None:
        """End each request with an error and give back its slot (requests already ended keep their end)."""
        for request in requests:
            self._finish(request, error=f"internal error: {exc}")
            self._release(request)
