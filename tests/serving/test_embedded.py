"""Embedded-server behaviour beyond vLLM's contract: the filesystem resolver, DoRA, base-model checks, the LRU."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serving.helpers import wait_until
from tests.serving.test_contract import CHAT, _assert_error, _chat, _expected, _load


def test_it_loads_an_unknown_name_from_the_adapter_dir(embedded_backend):
    backend = embedded_backend
    response = _chat(backend, "resolved")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == _expected(backend, "team-2")
    ids = [card["id"] for card in httpx.get(f"{backend.url}/v1/models").json()["data"]]
    assert "resolved" in ids
    _assert_error(_chat(backend, "../external/team-1"), 404)


def test_it_serves_dora_adapters_as_peft_computes_them(embedded_backend):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    backend = embedded_backend
    assert _load(backend, "dora", load_inplace=True).status_code == 200
    served = _chat(backend, "dora", max_tokens=6)
    assert served.status_code == 200, served.text
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(backend.model), backend.adapters["dora"])
    tokenizer = backend.tokenizer
    ids = tokenizer(tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False),
                    add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False)
    expected = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert served.json()["choices"][0]["message"]["content"] == expected


def test_it_rejects_an_adapter_for_another_base_model(embedded_backend):
    message = _assert_error(_load(embedded_backend, "other-base"), 500, "InternalServerError")
    assert "someone/another-model" in message


def test_it_keeps_at_most_max_cpu_loras_in_memory(embedded_backend):
    backend = embedded_backend
    names = ["team-1", "team-2", "team-3", "dora", "resolved"]
    for name in names:
        assert _load(backend, name, load_inplace=True).status_code == 200
    registry = backend.app.state.registry
    assert len(registry.cached_names()) == 3  # --max-cpu-loras 3
    assert set(names) <= set(registry.registered())
    # An evicted adapter is read from disk again on its next request.
    evicted = next(name for name in names if name not in registry.cached_names() and name.startswith("team"))
    assert _chat(backend, evicted).json()["choices"][0]["message"]["content"] == _expected(backend, evicted)


def test_it_refuses_an_empty_prompt_with_400_while_other_requests_run(embedded_backend):
    backend = embedded_backend
    body = {"model": backend.model, "prompt": "How do I deploy?", "max_tokens": 40, "temperature": 0,
            "ignore_eos": True}
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(httpx.post, f"{backend.url}/v1/completions", json=body, timeout=60)
        empty = httpx.post(f"{backend.url}/v1/completions", json={**body, "prompt": ""}, timeout=10)
        assert "prompt cannot be empty" in _assert_error(empty, 400, "BadRequestError")
        finished = running.result()
    assert finished.status_code == 200, finished.text
    assert finished.json()["choices"][0]["finish_reason"] == "length"
    engine = backend.app.state.engine
    assert wait_until(lambda: engine._slot_users == [0, 0, 0])


def test_it_stops_generating_for_a_non_streaming_client_that_disconnects(embedded_backend):
    backend = embedded_backend
    engine, metrics = backend.app.state.engine, backend.app.state.metrics
    aborted = metrics.requests.labels("abort")._value.get()
    before = engine.stats["generated_tokens"]
    body = {"model": backend.model, "prompt": "Deploy", "max_tokens": 500, "temperature": 0, "ignore_eos": True}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
        httpx.post(f"{backend.url}/v1/completions", json=body, timeout=httpx.Timeout(10, read=0.3))
    assert wait_until(lambda: metrics.requests.labels("abort")._value.get() == aborted + 1, timeout=10)
    # The metric counts the abort when the server sees the disconnect; the scheduler drops the request on its
    # next iteration.
    assert wait_until(lambda: engine.counts() == (0, 0), timeout=10)
    assert engine.stats["generated_tokens"] - before < 500


@pytest.mark.parametrize(("name", "value"), [
    ("response_format", {"type": "json_object"}), ("tools", [{"type": "function", "function": {"name": "f"}}]),
    ("frequency_penalty", 0.5), ("logit_bias", {"42": 5}), ("top_k", 5), ("guided_choice", ["yes", "no"]),
])
def test_it_refuses_a_sampling_or_format_parameter_it_would_ignore(embedded_backend, name, value):
    body = {"model": embedded_backend.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
            name: value}
    refused = httpx.post(f"{embedded_backend.url}/v1/chat/completions", json=body, timeout=30)
    message = _assert_error(refused, 400, "BadRequestError")
    assert name in message and "not supported" in message and refused.json()["error"]["param"] == name


def test_it_answers_requests_whose_extra_parameters_change_nothing(embedded_backend):
    neutral = {"response_format": {"type": "text"}, "frequency_penalty": 0, "presence_penalty": 0.0,
               "repetition_penalty": 1.0, "logit_bias": {}, "top_k": -1, "tools": [{"type": "function",
               "function": {"name": "f"}}], "tool_choice": "none"}
    body = {"model": embedded_backend.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
            **neutral}
    answered = httpx.post(f"{embedded_backend.url}/v1/chat/completions", json=body, timeout=30)
    assert answered.status_code == 200, answered.text
