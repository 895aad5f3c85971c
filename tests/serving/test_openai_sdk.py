"""The official openai SDK as a client: what it sends and parses must work against each backend."""
from __future__ import annotations

import openai
import pytest

from tests.serving.test_contract import CHAT, _ensure_loaded, _expected


@pytest.fixture
def sdk(backend) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{backend.url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_it_answers_the_sdks_chat_and_streams_usage_last(backend, sdk):
    _ensure_loaded(backend, "team-1")
    chat = sdk.chat.completions.create(model="team-1", messages=CHAT, max_tokens=4, temperature=0)
    assert chat.choices[0].message.content == _expected(backend, "team-1")
    assert chat.choices[0].finish_reason == "length"
    assert chat.usage.completion_tokens == 4
    chunks = list(sdk.chat.completions.create(model="team-1", messages=CHAT, max_tokens=4, temperature=0,
                                              stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == _expected(backend, "team-1")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


def test_it_answers_the_sdks_completions_with_stop_strings(backend, sdk):
    whole = sdk.completions.create(model=backend.model, prompt="The deploy command", max_tokens=12, temperature=0,
                                   extra_body={"ignore_eos": True})
    text = whole.choices[0].text
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 12
    stop = text[len(text) // 2:len(text) // 2 + 3]
    stopped = sdk.completions.create(model=backend.model, prompt="The deploy command", max_tokens=12,
                                     temperature=0, stop=[stop], extra_body={"ignore_eos": True})
    assert stopped.choices[0].text == text[:text.find(stop)]
    assert stopped.choices[0].finish_reason == "stop"


def test_it_gives_the_sdk_logprobs_and_n_choices(backend, sdk):
    chat = sdk.chat.completions.create(model=backend.model, messages=CHAT, max_tokens=3, temperature=0,
                                       logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True})
    content = chat.choices[0].logprobs.content
    assert len(content) == 3 and all(len(step.top_logprobs) == 2 and step.logprob <= 0 for step in content)
    text = sdk.completions.create(model=backend.model, prompt="Deploy", max_tokens=3, temperature=0, logprobs=1,
                                  extra_body={"ignore_eos": True})
    assert len(text.choices[0].logprobs.token_logprobs) == 3
    several = sdk.chat.completions.create(model=backend.model, messages=CHAT, max_tokens=3, temperature=0.9,
                                          seed=5, n=2)
    assert [choice.index for choice in several.choices] == [0, 1]


def test_it_raises_the_sdks_not_found_error_for_an_unknown_model(sdk):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="no-such-adapter", messages=CHAT, max_tokens=2)
    assert "no-such-adapter" in str(caught.value)
