"""Prompts that begin like earlier ones reuse their KV: same answers, fewer prefilled tokens, never
across adapters."""
from __future__ import annotations

import pytest
import torch

from serving.adapters import load_adapter
from serving.engine import Engine, Request
from serving.prefix_cache import PrefixCache
from tests.serving.helpers import make_adapter, run_greedy

SYSTEM = ("You are the documentation assistant of the platform team. Answer using only the documents below and "
          "cite them. ")
QUESTIONS = ["How do I rotate the API keys of a team?", "Where are the deploy logs kept?",
             "Install the package, configure the database and the cache, then run the migrations."]


def _block(value: float) -> torch.Tensor:
    return torch.full((2, 2, 1, 4, 3), value)  # [layers, keys/values, heads, block, dim]


def test_a_prompt_finds_the_blocks_it_begins_with_and_no_others():
    cache = PrefixCache(capacity=64, block=4)
    first = list(range(13))
    cache.add(0, first, lambda index: _block(index))
    assert [float(b[0, 0, 0, 0, 0]) for b in cache.match(0, first)] == [0.0, 1.0, 2.0]  # not the 13th token
    assert len(cache.match(0, [*range(8), 99, 100, 101, 102, 103])) == 2  # shares two blocks, then differs
    assert cache.match(0, [99, *range(1, 13)]) == []  # the first block differs: nothing after it counts
    assert cache.match(7, first) == []  # another adapter version computed other keys and values


def test_the_ends_of_prompts_go_before_their_beginnings():
    cache = PrefixCache(capacity=12, block=4)
    cache.add(0, list(range(13)), lambda index: _block(index))
    cache.add(0, [50, *range(1, 9)], lambda index: _block(10 + index))  # two more blocks: over capacity by two
    assert cache.tokens == 12
    assert len(cache.match(0, list(range(13)))) == 1  # its beginning is still there


def test_a_cache_smaller_than_a_block_is_off():
    cache = PrefixCache(capacity=0)
    cache.add(0, list(range(100)), lambda index: _block(index))
    assert not cache.enabled and cache.tokens == 0 and cache.match(0, list(range(100))) == []


@pytest.fixture(scope="module")
def engine(tiny_base_model):
    engine = Engine(str(tiny_base_model), device="cpu", max_loras=2, max_lora_rank=16, dtype="float32")
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def adapter(engine, tiny_base_model, tmp_path_factory):
    path = make_adapter(tiny_base_model, tmp_path_factory.mktemp("prefix") / "a", rank=8, seed=21)
    return load_adapter("a", path, engine.base_info)


def _generate(engine: Engine, jobs: list[tuple[list[int], object]]) -> list[Request]:
    """Greedy requests for each (prompt, adapter), submitted together, once all have ended."""
    return run_greedy(engine, jobs, logprobs=0)


def _prompts(engine: Engine) -> list[list[int]]:
    return [engine.tokenizer(SYSTEM + question)["input_ids"] for question in QUESTIONS]


def _output(request: Request) -> list[float]:
    """Each generated token and its log-probability."""
    return [value for lp in request.token_logprobs for value in (lp.token, lp.logprob)]


def _same(output: list[float], expected: list[float]) -> bool:
    # float32: a cached prefix changes the order of the arithmetic, not the result
    return output == pytest.approx(expected, abs=1e-4)


def _uncached(engine: Engine, jobs: list[tuple[list[int], object]]) -> list[list[float]]:
    kept, engine.prefix_cache = engine.prefix_cache, PrefixCache(capacity=0)
    try:
        return [_output(r) for r in _generate(engine, jobs)]
    finally:
        engine.prefix_cache = kept


def test_prompts_that_begin_alike_reuse_the_kv_and_answer_the_same(engine):
    prompts = _prompts(engine)
    expected = [_uncached(engine, [(p, None)])[0] for p in prompts]
    engine.prefix_cache = PrefixCache(capacity=4096)
    first = _generate(engine, [(prompts[0], None)])[0]
    assert first.cached_tokens == 0 and _same(_output(first), expected[0])
    # Together in one pass: rows with cached blocks of different lengths beside a row without any.
    together = _generate(engine, [(prompts[1], None), (prompts[0], None), ([5, *prompts[2][1:]], None)])
    block = engine.prefix_cache.block
    shared = min(len(prompts[0]), len(prompts[1])) - 1
    assert together[0].cached_tokens >= block and together[0].cached_tokens <= shared
    assert together[1].cached_tokens == (len(prompts[0]) - 1) // block * block  # the whole prompt but its tail
    assert together[2].cached_tokens == 0  # its first token differs
    assert _same(_output(together[0]), expected[1]) and _same(_output(together[1]), expected[0])
    assert _same(_output(together[2]), _uncached(engine, [([5, *prompts[2][1:]], None)])[0])


def test_an_adapter_never_reuses_the_base_models_kv_nor_another_versions(engine, adapter, tiny_base_model,
                                                                        tmp_path_factory):
    prompts = _prompts(engine)
    engine.prefix_cache = PrefixCache(capacity=4096)
    _generate(engine, [(prompts[0], None)])
    expected = _uncached(engine, [(prompts[0], adapter)])[0]
    first = _generate(engine, [(prompts[0], adapter)])[0]
    assert first.cached_tokens == 0 and _same(_output(first), expected)
    again = _generate(engine, [(prompts[0], adapter)])[0]
    assert again.cached_tokens > 0 and _same(_output(again), expected)
    assert not _same(expected, _uncached(engine, [(prompts[0], None)])[0])  # the adapter really changes the answer
    path = make_adapter(tiny_base_model, tmp_path_factory.mktemp("prefix") / "a2", rank=8, seed=22)
    new_version = load_adapter("a", path, engine.base_info)  # the same name, reloaded (a hot swap)
    assert _generate(engine, [(prompts[0], new_version)])[0].cached_tokens == 0
