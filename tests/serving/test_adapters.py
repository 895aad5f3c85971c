"""The adapter registry under concurrent loads, unloads and request resolution."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from serving.adapters import AdapterError, AdapterRegistry, BaseModelInfo
from serving.lora import BatchedLoRA
from tests.serving.helpers import make_adapter


@pytest.fixture(scope="module")
def base_info(tiny_base_model) -> BaseModelInfo:
    from transformers import AutoModelForCausalLM

    lora = BatchedLoRA(AutoModelForCausalLM.from_pretrained(tiny_base_model), slots=2, max_rank=8)
    return BaseModelInfo(served_name=str(tiny_base_model), model_path=str(tiny_base_model),
                         module_shapes=lora.module_shapes(), base_weight=lora.base_weight, max_rank=8)


@pytest.fixture(scope="module")
def paths(tiny_base_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry-adapters")
    return [str(make_adapter(tiny_base_model, root / f"a{seed}", rank=4, seed=seed)) for seed in (21, 22)]


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; each one's result or AdapterError."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except AdapterError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_it_lets_one_of_concurrent_loads_of_a_new_name_through(base_info, paths):
    registry = AdapterRegistry(base_info, adapter_dir=None, max_cpu_loras=4)
    outcomes = _together(*[lambda: registry.load("team", paths[0])] * 8)
    refused = [o for o in outcomes if isinstance(o, AdapterError)]
    assert len(refused) == 7
    for error in refused:
        assert (error.status, error.err_type) == (400, "InvalidUserInput")
        assert "has already been loaded" in error.message
    assert registry.registered() == {"team": paths[0]}


def test_it_never_brings_back_a_name_unloaded_while_a_request_resolved_it(base_info, paths):
    registry = AdapterRegistry(base_info, adapter_dir=None, max_cpu_loras=1)
    for attempt in range(20):
        registry.load("team", paths[0], inplace=True)
        registry.load("other", paths[1], inplace=True)  # evicts "team": resolving it reads the disk again
        calls = [lambda: registry.resolve("team"), lambda: registry.unload("team")]
        order = 1 if attempt % 2 else -1  # either may start first
        resolved, unloaded = _together(*calls[::order])[::order]
        assert unloaded is None
        assert resolved is None or resolved.name == "team"
        assert "team" not in registry.registered()
        assert "team" not in registry.cached_names()
