"""Admission control: the running batches' KV caches stay within --max-batch-total-tokens; a request
that does not fit now waits its turn, one that never can is a 400 before it is admitted."""
from __future__ import annotations

import threading

import pytest
from starlette.testclient import TestClient

from serving.adapters import AdapterRegistry
from serving.app import create_app
from serving.engine import Engine, EngineConfigError, Event, Request, SamplingParams

BUDGET = 64  # KV tokens; also the context length, so any one sequence fits alone


@pytest.fixture(scope="module")
def engine(tiny_base_model):
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=1, max_lora_rank=8, max_model_len=BUDGET,
                    max_batch_total_tokens=BUDGET, dtype="float32")
    yield engine
    engine.shutdown()


def test_it_queues_a_request_until_the_kv_budget_has_room_for_it(engine):
    log: list[tuple[str, str]] = []
    done = threading.Semaphore(0)

    def request(name: str) -> Request:
        def emit(event: Event) -> None:
            log.append((name, event.kind))
            if event.kind != "delta":
                done.release()

        # 10 prompt tokens + 40 new ones: 50 of the 64-token budget each, so only one runs at a time.
        return Request(prompt_ids=list(range(5, 15)), adapter=None, emit=emit,
                       params=SamplingParams(max_tokens=40, temperature=0.0, ignore_eos=True))

    first, second = request("first"), request("second")
    engine.submit(first)  # two API requests
    engine.submit(second)
    assert done.acquire(timeout=120) and done.acquire(timeout=120)
    assert [kind for name, kind in log if kind != "delta"] == ["done", "done"]
    assert len(first.generated) == len(second.generated) == 40
    first_end = log.index(("first", "done"))
    assert all(name == "first" for name, _ in log[:first_end + 1]), "the second request ran beside the first"
    # Two that fit side by side (20 tokens each) are admitted together, as before.
    small = [Request(prompt_ids=list(range(5, 15)), adapter=None, emit=lambda e: done.release() if e.kind != "delta"
                     else None, params=SamplingParams(max_tokens=10, temperature=0.0, ignore_eos=True))
             for _ in range(2)]
    prefills = engine.stats["prefills"]
    engine.submit(*small)
    assert done.acquire(timeout=120) and done.acquire(timeout=120)
    assert engine.stats["prefills"] == prefills + 1


def test_it_refuses_a_request_that_could_never_fit_the_kv_budget_with_a_400(engine):
    registry = AdapterRegistry(engine.base_info, adapter_dir=None, max_cpu_loras=1)
    http = TestClient(create_app(engine, registry))
    prompt = list(range(5, 15))
    body = {"model": engine.served_name, "prompt": prompt, "max_tokens": 40, "temperature": 0, "n": 2,
            "ignore_eos": True}
    refused = http.post("/v1/completions", json=body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["message"].startswith("This request needs 100 tokens of KV cache")
    assert "--max-batch-total-tokens" in error["message"] and "64" in error["message"]
    assert engine.counts() == (0, 0)  # never queued
    # The same prompt, one sequence: fits, and is served.
    served = http.post("/v1/completions", json={**body, "n": 1})
    assert served.status_code == 200, served.text
    assert served.json()["usage"]["completion_tokens"] == 40


def test_it_refuses_to_start_with_a_budget_below_the_context_length(tiny_base_model):
    with pytest.raises(EngineConfigError, match="max_model_len 64 is larger than --max-batch-total-tokens 32"):
        Engine(str(tiny_base_model), device="cpu", max_loras=1, max_lora_rank=8, max_model_len=64,
               max_batch_total_tokens=32, dtype="float32")
