"""The serving contract (vLLM's OpenAI-compatible subset), run against every available backend."""
from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from serving.client import ServingClient, ServingError

CHAT = [{"role": "user", "content": "How do I deploy?"}]


def _chat(backend, model, *, max_tokens=4, messages=CHAT, **extra) -> httpx.Response:
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, **extra}
    return httpx.post(f"{backend.url}/v1/chat/completions", json=body, timeout=120)


def _load(backend, name, path=None, **extra) -> httpx.Response:
    body = {"lora_name": name, "lora_path": str(path or backend.adapters[name]), **extra}
    return httpx.post(f"{backend.url}/v1/load_lora_adapter", json=body, timeout=120)


def _ensure_loaded(backend, *names):
    for name in names:
        response = _load(backend, name, load_inplace=True)
        assert response.status_code == 200, response.text


def _expected(backend, name, count=4) -> str:
    return backend.tokenizer.decode([backend.tokens[name]] * count)


def _assert_error(response: httpx.Response, status: int, err_type: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == status
    if err_type:
        assert error["type"] == err_type
    return error["message"]


def test_it_lists_the_base_model_and_one_card_per_loaded_adapter(backend):
    response = _load(backend, "team-1", load_inplace=True)
    assert response.status_code == 200
    assert "team-1" in response.text
    cards = {card["id"]: card for card in httpx.get(f"{backend.url}/v1/models").json()["data"]}
    assert cards[backend.model]["object"] == "model"
    assert cards["team-1"]["parent"] == backend.model
    assert cards["team-1"]["root"] == str(backend.adapters["team-1"])


def test_it_answers_chat_and_text_completions_with_usage(backend):
    chat = _chat(backend, backend.model, max_tokens=3)
    assert chat.status_code == 200, chat.text
    body = chat.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] in {"length", "stop"}
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    text = httpx.post(f"{backend.url}/v1/completions", json={
        "model": backend.model, "prompt": "The deploy command", "max_tokens": 3, "temperature": 0.8,
        "top_p": 0.9, "seed": 7}, timeout=120)
    assert text.status_code == 200, text.text
    assert text.json()["object"] == "text_completion"
    assert text.json()["usage"]["completion_tokens"] <= 3


def test_it_streams_server_sent_events_ending_with_done(backend):
    _ensure_loaded(backend, "team-2")
    body = {"model": "team-2", "messages": CHAT, "max_tokens": 4, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{backend.url}/v1/chat/completions", json=body, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == _expected(backend, "team-2")
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_it_applies_each_requests_own_adapter_in_concurrent_batches(backend):
    names = ["team-1", "team-2", "team-3"]
    _ensure_loaded(backend, *names)
    order = [*names, backend.model, *names, *names]
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        responses = list(pool.map(lambda model: _chat(backend, model), order))
    texts = [r.json()["choices"][0]["message"]["content"] for r in responses]
    for model, text in zip(order, texts):
        if model == backend.model:
            assert text not in {_expected(backend, n) for n in names}
        else:
            assert text == _expected(backend, model), model


def test_it_refuses_a_duplicate_load_unless_in_place_and_hot_swaps(backend):
    _ensure_loaded(backend, "team-3")
    _assert_error(_load(backend, "team-3"), 400)
    swapped = _load(backend, "team-3", backend.adapters["team-1"], load_inplace=True)
    assert swapped.status_code == 200, swapped.text
    assert _chat(backend, "team-3").json()["choices"][0]["message"]["content"] == _expected(backend, "team-1")
    _ensure_loaded(backend, "team-3")
    assert _chat(backend, "team-3").json()["choices"][0]["message"]["content"] == _expected(backend, "team-3")


def test_it_answers_404_for_unknown_models_adapters_and_paths(backend, tmp_path):
    _assert_error(_chat(backend, "no-such-adapter"), 404, "NotFoundError")
    unload = httpx.post(f"{backend.url}/v1/unload_lora_adapter", json={"lora_name": "no-such-adapter"})
    _assert_error(unload, 404, "NotFoundError")
    _assert_error(_load(backend, "ghost", tmp_path / "missing"), 404)
    unknown = httpx.get(f"{backend.url}/no-such-path")  # as FastAPI (vLLM) answers it: JSON, not text
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}


def test_it_unloads_an_adapter(backend):
    _ensure_loaded(backend, "team-1")
    response = httpx.post(f"{backend.url}/v1/unload_lora_adapter", json={"lora_name": "team-1"})
    assert response.status_code == 200
    ids = [card["id"] for card in httpx.get(f"{backend.url}/v1/models").json()["data"]]
    assert "team-1" not in ids


def test_it_rejects_bad_json_with_400(backend):
    response = httpx.post(f"{backend.url}/v1/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"})
    _assert_error(response, 400)


def test_it_answers_500_add_lora_failed_for_an_adapter_it_cannot_serve(backend):
    # vLLM: any failure inside add_lora is a 500; only a missing adapter is a 404.
    for name in ["rank32", "corrupt", "saves-lm-head"]:
        message = _assert_error(_load(backend, name), 500, "InternalServerError")
        assert message.startswith("Call to add_lora method failed"), (name, message)
    ids = [card["id"] for card in httpx.get(f"{backend.url}/v1/models").json()["data"]]
    assert not {"rank32", "corrupt", "saves-lm-head"} & set(ids)


def test_it_serves_dora_only_on_the_embedded_server(backend):
    response = _load(backend, "dora", load_inplace=True)
    if backend.kind == "vllm":
        assert "dora" in _assert_error(response, 500, "InternalServerError").lower()
        assert ServingClient(backend.url).serves_dora() is False
    else:
        assert response.status_code == 200, response.text
        assert ServingClient(backend.url).serves_dora() is True


def _max_model_len(backend) -> int:
    cards = {card["id"]: card for card in httpx.get(f"{backend.url}/v1/models").json()["data"]}
    return cards[backend.model]["max_model_len"]


def _prompt_of(backend, tokens: int) -> str:
    """A completion prompt that tokenizes to exactly ``tokens`` tokens (special tokens included)."""
    def count(text: str) -> int:
        return len(backend.tokenizer(text)["input_ids"])

    words = tokens * tokens // count("deploy " * tokens)  # about right, whatever "deploy " costs
    while count("deploy " * words) > tokens:
        words -= 1
    text = "deploy " * words
    while count(text) < tokens:
        text += " x"
    assert count(text) == tokens
    return text


def test_it_clamps_max_tokens_to_the_room_the_prompt_leaves(backend):
    limit = _max_model_len(backend)
    response = httpx.post(f"{backend.url}/v1/completions", timeout=120, json={
        "model": backend.model, "prompt": _prompt_of(backend, limit - 3), "max_tokens": limit, "temperature": 0,
        "ignore_eos": True})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"] == {"prompt_tokens": limit - 3, "completion_tokens": 3, "total_tokens": limit}


def test_it_rejects_a_prompt_alone_longer_than_the_context(backend):
    limit = _max_model_len(backend)
    long = [{"role": "user", "content": "deploy " * (limit + 10)}]
    response = httpx.post(f"{backend.url}/v1/chat/completions", timeout=120,
                          json={"model": backend.model, "messages": long, "max_tokens": 4})
    message = _assert_error(response, 400)
    assert f"maximum context length is {limit} tokens" in message
    assert re.search(r"your prompt contains \d+ input tokens", message), message


def test_it_keeps_serving_while_a_load_fails(backend):
    _ensure_loaded(backend, "team-2")
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [pool.submit(_chat, backend, "team-2", max_tokens=8) for _ in range(3)]
        failed = pool.submit(_load, backend, "corrupt")
        assert failed.result().status_code == 500
        for answer in answers:
            assert answer.result().json()["choices"][0]["message"]["content"] == _expected(backend, "team-2", 8)


def test_it_exposes_health_and_prometheus_metrics(backend):
    assert httpx.get(f"{backend.url}/health").status_code == 200
    metrics = httpx.get(f"{backend.url}/metrics")
    assert metrics.status_code == 200
    assert "vllm:num_requests_running" in metrics.text


# --- the client ------------------------------------------------------------------------------
def test_it_streams_through_the_client_sync_and_async(backend):
    client = ServingClient(backend.url)
    client.load_adapter(name="team-2", path=str(backend.adapters["team-2"]), inplace=True)
    whole = client.chat(model="team-2", messages=CHAT, max_tokens=4)
    assert whole.text == _expected(backend, "team-2")
    assert whole.finish_reason == "length"
    assert "".join(client.chat_stream(model="team-2", messages=CHAT, max_tokens=4)) == whole.text

    async def collect() -> str:
        return "".join([d async for d in client.achat_stream(model="team-2", messages=CHAT, max_tokens=4)])

    assert asyncio.run(collect()) == whole.text
    assert client.completion(model=backend.model, prompt="Deploy", max_tokens=2).usage["completion_tokens"] <= 2
    assert any(m["id"] == "team-2" for m in client.list_models())
    assert client.health()


def test_it_registers_its_adapters_again_after_the_server_lost_them(backend):
    client = ServingClient(backend.url)
    client.load_adapter(name="team-3", path=str(backend.adapters["team-3"]), inplace=True)
    httpx.post(f"{backend.url}/v1/unload_lora_adapter", json={"lora_name": "team-3"})  # as after a restart
    assert client.chat(model="team-3", messages=CHAT, max_tokens=4).text == _expected(backend, "team-3")
    httpx.post(f"{backend.url}/v1/unload_lora_adapter", json={"lora_name": "team-3"})
    assert "".join(client.chat_stream(model="team-3", messages=CHAT, max_tokens=4)) == _expected(backend, "team-3")


def test_it_raises_serving_errors_with_status_and_message(backend):
    client = ServingClient(backend.url)
    with pytest.raises(ServingError) as caught:
        client.chat(model="never-registered", messages=CHAT, max_tokens=2)
    assert caught.value.status == 404
    assert "never-registered" in caught.value.message
    down = ServingClient("http://127.0.0.1:9", timeout=2)
    down.backoff_s = 0.01
    assert down.health() is False
    with pytest.raises(ServingError) as unreachable:
        down.chat(model="x", messages=CHAT)
    assert unreachable.value.status is None


def test_it_fails_a_load_the_server_refuses_at_once_with_its_message(backend):
    client = ServingClient(backend.url)
    client.backoff_s = 5.0  # a retry would show in the request count (and the time)
    sent = []
    client._http.event_hooks["request"].append(sent.append)
    with pytest.raises(ServingError) as caught:
        client.load_adapter(name="corrupt", path=str(backend.adapters["corrupt"]))
    assert caught.value.status == 500
    assert caught.value.message.startswith("Call to add_lora method failed")
    assert len(sent) == 1


# --- vLLM's generation options ------------------------------------------------------------------
def _complete(backend, **extra) -> httpx.Response:
    body = {"model": backend.model, "prompt": "The deploy command", "max_tokens": 4, "temperature": 0,
            "ignore_eos": True, **extra}
    return httpx.post(f"{backend.url}/v1/completions", json=body, timeout=120)


def _stream(backend, path: str, body: dict) -> list[dict]:
    with httpx.stream("POST", f"{backend.url}{path}", json={**body, "stream": True}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_it_returns_the_logprobs_of_the_sampled_tokens_and_the_top_ones(backend):
    chat = _chat(backend, backend.model, logprobs=True, top_logprobs=2, ignore_eos=True)
    assert chat.status_code == 200, chat.text
    content = chat.json()["choices"][0]["logprobs"]["content"]
    assert len(content) == chat.json()["usage"]["completion_tokens"] == 4
    for step in content:
        assert set(step) >= {"token", "logprob", "bytes", "top_logprobs"}
        assert len(step["top_logprobs"]) == 2
        top = [t["logprob"] for t in step["top_logprobs"]]
        assert top == sorted(top, reverse=True) and top[0] <= 0
        assert step["token"] == step["top_logprobs"][0]["token"]  # greedy: the sampled token is the likeliest
        assert step["logprob"] == pytest.approx(top[0], abs=1e-3)
    plain = _chat(backend, backend.model, ignore_eos=True).json()["choices"][0]
    assert plain["logprobs"] is None
    assert plain["message"]["content"] == chat.json()["choices"][0]["message"]["content"]

    text = _complete(backend, logprobs=3)
    assert text.status_code == 200, text.text
    logprobs = text.json()["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"]) == len(logprobs["top_logprobs"]) == 4
    assert all(3 <= len(step) <= 4 for step in logprobs["top_logprobs"])
    assert logprobs["text_offset"][0] == 0 and logprobs["text_offset"] == sorted(logprobs["text_offset"])

    chunks = _stream(backend, "/v1/chat/completions", {"model": backend.model, "messages": CHAT, "max_tokens": 4,
                                                         "temperature": 0, "ignore_eos": True, "logprobs": True})
    streamed = [s for c in chunks for choice in c["choices"] if choice["logprobs"]
                for s in choice["logprobs"]["content"]]
    assert [s["token"] for s in streamed] == [s["token"] for s in content]


def test_it_continues_a_final_assistant_message_when_asked(backend):
    opened = [*CHAT, {"role": "assistant", "content": "To deploy"}]
    continued = _chat(backend, backend.model, max_tokens=2, ignore_eos=True, messages=opened,
                      continue_final_message=True, add_generation_prompt=False)
    assert continued.status_code == 200, continued.text
    prompt = backend.tokenizer.apply_chat_template(opened, tokenize=False, continue_final_message=True)
    assert prompt.endswith("To deploy")
    expected = len(backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert continued.json()["usage"]["prompt_tokens"] == expected
    message = _assert_error(_chat(backend, backend.model, continue_final_message=True, add_generation_prompt=True,
                                  messages=opened), 400)
    assert "Cannot set both" in message


def test_it_refuses_top_logprobs_without_logprobs(backend):
    _assert_error(_chat(backend, backend.model, top_logprobs=2), 400)


def test_it_answers_n_choices_counting_the_prompt_once(backend):
    single = _complete(backend, max_tokens=3).json()
    several = _complete(backend, max_tokens=3, n=2)
    assert several.status_code == 200, several.text
    choices = several.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert all(c["text"] == single["choices"][0]["text"] for c in choices)  # greedy: the same text twice
    usage = several.json()["usage"]
    assert usage["prompt_tokens"] == single["usage"]["prompt_tokens"]
    assert usage["completion_tokens"] == 6
    chunks = _stream(backend, "/v1/chat/completions", {"model": backend.model, "messages": CHAT, "max_tokens": 3,
                                                         "temperature": 0.9, "seed": 3, "n": 2})
    ends = {choice["index"]: choice["finish_reason"] for c in chunks for choice in c["choices"]
            if choice["finish_reason"]}
    assert set(ends) == {0, 1}


def test_it_takes_lists_of_prompts_and_token_id_prompts(backend):
    prompts = ["The deploy command", "How do I rotate keys"]
    alone = [_complete(backend, prompt=p).json()["choices"][0]["text"] for p in prompts]
    together = _complete(backend, prompt=prompts).json()["choices"]
    assert [(c["index"], c["text"]) for c in together] == list(enumerate(alone))
    ids = backend.tokenizer(prompts[1])["input_ids"]
    assert _complete(backend, prompt=ids).json()["choices"][0]["text"] == alone[1]
    assert [c["text"] for c in _complete(backend, prompt=[ids, ids]).json()["choices"]] == [alone[1]] * 2


def test_it_echoes_the_prompt_before_the_completion(backend):
    plain = _complete(backend).json()["choices"][0]["text"]
    echoed = _complete(backend, echo=True)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["choices"][0]["text"] == "The deploy command" + plain


def test_it_refuses_stream_options_without_stream(backend):
    message = _assert_error(_chat(backend, backend.model, stream_options={"include_usage": True}), 400)
    assert "stream" in message.lower()


def test_it_puts_the_finish_reason_on_the_last_content_chunk(backend):
    body = {"model": backend.model, "prompt": "The deploy command", "max_tokens": 3, "temperature": 0,
            "ignore_eos": True}
    chunks = _stream(backend, "/v1/completions", body)
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] == "length" and last["text"]
    assert last.get("stop_reason") is None
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    whole = _complete(backend, max_tokens=12).json()["choices"][0]["text"]
    stop = whole[len(whole) // 2:len(whole) // 2 + 3]
    stopped = _complete(backend, max_tokens=12, stop=[stop]).json()["choices"][0]
    assert (stopped["finish_reason"], stopped["stop_reason"]) == ("stop", stop)
    streamed = _stream(backend, "/v1/completions", {**body, "max_tokens": 12, "stop": [stop]})[-1]["choices"][0]
    assert (streamed["finish_reason"], streamed["stop_reason"]) == ("stop", stop)
