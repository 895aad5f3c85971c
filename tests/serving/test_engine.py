"""The engine's batched prefill: left-padded rows of different lengths and adapters decode as if alone."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from serving.adapters import load_adapter
from serving.engine import Engine, Event, Request, SamplingParams, default_prefill_tokens
from tests.serving.helpers import make_adapter, run_greedy, wait_until


@pytest.fixture(scope="module")
def engine(tiny_base_model, tmp_path_factory):
    # float32: greedy equality across batch shapes; in bf16 (auto on a CPU with native bf16) the random tiny
    # model's near-tied logits flip with the order of the arithmetic
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=2, max_lora_rank=16, dtype="float32")
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def adapters(engine, tiny_base_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("prefill-adapters")
    return [load_adapter(f"p{seed}", make_adapter(tiny_base_model, root / f"p{seed}", rank=8, seed=seed),
                         engine.base_info) for seed in (11, 12)]


def _generate(engine: Engine, jobs: list[tuple[list[int], object]]) -> list[list[int]]:
    """Greedy tokens for each (prompt, adapter); all jobs are submitted at once."""
    return [request.generated for request in run_greedy(engine, jobs)]


@pytest.mark.parametrize("budget", [8192, 40])  # one pass for all; several passes
def test_it_gives_batched_prefill_the_same_greedy_output_as_single_prefill(engine, adapters, budget):
    tokenizer = engine.tokenizer
    texts = ["Deploy", "How do I rotate the API keys of a team?",
             "Install the package, configure the database and the cache, then run the migrations and start it."]
    prompts = [tokenizer(text)["input_ids"] for text in texts]
    assert len({len(p) for p in prompts}) == 3
    jobs = [(prompts[0], adapters[0]), (prompts[1], None), (prompts[2], adapters[1]), (prompts[1], adapters[1])]
    alone = [_generate(engine, [job])[0] for job in jobs]
    default = engine.max_prefill_tokens
    engine.max_prefill_tokens = budget
    try:
        before = engine.stats["prefills"]
        together = _generate(engine, jobs)
        passes = engine.stats["prefills"] - before
    finally:
        engine.max_prefill_tokens = default
    assert passes == 1 if budget == 8192 else passes > 1
    assert together == alone
    assert alone[1] != alone[3]  # the adapter changes the output: rows really carry their own adapter


def test_it_prefills_in_smaller_padded_passes_on_the_cpu_than_on_a_gpu(engine):
    assert engine.max_prefill_tokens == default_prefill_tokens(torch.device("cpu")) == 2048
    assert default_prefill_tokens(torch.device("cuda")) == 8192


class _Collector:
    """The events one request receives, with a wait for its terminal event (done or error)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.ended = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.kind != "delta":
            self.ended.set()

    def last(self, timeout: float = 60) -> Event:
        assert self.ended.wait(timeout), "the request never ended (stranded)"
        return self.events[-1]


def _request(ids: list[int], adapter, max_tokens: int = 8) -> tuple[Request, _Collector]:
    collector = _Collector()
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    return Request(prompt_ids=ids, adapter=adapter, params=params, emit=collector), collector


def _scheduler_cpu_seconds(engine: Engine) -> float:
    """CPU time the scheduler thread has used so far (Linux /proc)."""
    stat = Path(f"/proc/self/task/{engine._thread.native_id}/stat").read_text()
    utime, stime = stat.rpartition(")")[2].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def third_adapter(engine, tiny_base_model, tmp_path):
    return load_adapter("p13", make_adapter(tiny_base_model, tmp_path / "p13", rank=8, seed=13), engine.base_info)


def test_it_fails_only_the_prefill_group_that_failed_and_frees_its_slots(engine, adapters, third_adapter):
    prompt = engine.tokenizer("Install the package, configure the database and run the migrations.")["input_ids"]
    out_of_vocab = [10, len(engine.tokenizer) + 10_000, 11]  # the embedding lookup fails on this row
    healthy, healthy_events = _request(prompt, None, max_tokens=24)
    expected = _generate(engine, [(prompt, None)])[0][:8]
    broken = [_request(out_of_vocab, adapter) for adapter in adapters]  # both adapter slots (--max-loras 2)
    waiting, waiting_events = _request(prompt, third_adapter)  # needs a slot the broken rows hold
    default = engine.max_prefill_tokens
    engine.max_prefill_tokens = len(out_of_vocab)  # every row its own pass (the healthy one's prompt may be cached)
    try:
        engine.submit(healthy, *(r for r, _ in broken), waiting)
        for _, events in broken:
            failed = events.last(timeout=30)
            assert failed.kind == "error" and "internal error" in failed.text
        assert healthy_events.last().kind == "done", healthy_events.events[-1]
        assert healthy.generated[:8] == expected
        assert waiting_events.last().kind == "done", waiting_events.events[-1]
    finally:
        engine.max_prefill_tokens = default
    assert wait_until(lambda: engine._slot_users == [0, 0, 0])
    before = _scheduler_cpu_seconds(engine)
    time.sleep(0.5)
    assert _scheduler_cpu_seconds(engine) - before < 0.1  # idle: waiting, not spinning


def test_it_refuses_an_empty_prompt_without_touching_the_batch(engine, adapters, third_adapter):
    empties = [_request([], adapter) for adapter in adapters]
    after, after_events = _request(engine.tokenizer("Deploy")["input_ids"], third_adapter)
    engine.submit(*(r for r, _ in empties), after)
    for _, events in empties:
        refused = events.last(timeout=5)
        assert refused.kind == "error" and "prompt cannot be empty" in refused.text
    assert after_events.last().kind == "done"
    assert wait_until(lambda: engine._slot_users == [0, 0, 0])
