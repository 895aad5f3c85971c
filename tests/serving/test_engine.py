"""The engine's batched prefill: left-padded rows of different lengths and adapters decode as if alone."""
from __future__ import annotations

import threading

import pytest

from serving.adapters import load_adapter
from serving.engine import Engine, Event, Request, SamplingParams
from tests.serving.helpers import make_adapter


@pytest.fixture(scope="module")
def engine(tiny_base_model, tmp_path_factory):
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=2, max_lora_rank=16)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def adapters(engine, tiny_base_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("prefill-adapters")
    return [load_adapter(f"p{seed}", make_adapter(tiny_base_model, root / f"p{seed}", rank=8, seed=seed),
                         engine.base_info) for seed in (11, 12)]


def _generate(engine: Engine, jobs: list[tuple[list[int], object]]) -> list[list[int]]:
    """Greedy tokens for each (prompt, adapter); all jobs are submitted at once."""
    done = threading.Semaphore(0)

    def emit(event: Event) -> None:
        if event.kind != "delta":
            done.release()

    requests = [Request(prompt_ids=ids, adapter=adapter, emit=emit,
                        params=SamplingParams(max_tokens=8, temperature=0.0, ignore_eos=True))
                for ids, adapter in jobs]
    engine.submit(*requests)
    for _ in requests:
        assert done.acquire(timeout=120)
    return [r.generated for r in requests]


@pytest.mark.parametrize("budget", [8192, 40])  # one pass for all; several passes
def test_it_gives_batched_prefill_the_same_greedy_output_as_single_prefill(engine, adapters, budget):
    tokenizer = engine.tokenizer
    texts = ["Deploy", "How do I rotate the API keys of a team?",
             "Install the package, configure the database and the cache, then run the migrations and start it."]
    prompts = [tokenizer(text)["input_ids"] for text in texts]
    assert len({len(p) for p in prompts}) == 3
    jobs = [(prompts[0], adapters[0]), (prompts[1], None), (prompts[2], adapters[1]), (prompts[1], adapters[1])]
    alone = [_generate(engine, [job])[0] for job in jobs]
    engine.max_prefill_tokens = budget
    try:
        before = engine.stats["prefills"]
        together = _generate(engine, jobs)
        passes = engine.stats["prefills"] - before
    finally:
        engine.max_prefill_tokens = 8192
    assert passes == 1 if budget == 8192 else passes > 1
    assert together == alone
    assert alone[1] != alone[3]  # the adapter changes the output: rows really carry their own adapter
