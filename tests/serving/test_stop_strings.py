"""Stop strings end generation and stay out of the output (as in vLLM), streamed or not."""
from __future__ import annotations

import json

import httpx
import pytest

PROMPT = "The deploy command"


def _complete(backend, *, stream: bool, **extra) -> tuple[str, str | None]:
    """Greedy completion text and finish reason, through the streaming or the plain response."""
    body = {"model": backend.model, "prompt": PROMPT, "max_tokens": 16, "temperature": 0, "ignore_eos": True,
            **extra}
    url = f"{backend.url}/v1/completions"
    if not stream:
        response = httpx.post(url, json=body, timeout=120)
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        return choice["text"], choice["finish_reason"]
    with httpx.stream("POST", url, json={**body, "stream": True}, timeout=120) as response:
        assert response.status_code == 200
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    choices = [c for line in lines[:-1] for c in json.loads(line)["choices"]]
    reasons = [c["finish_reason"] for c in choices if c["finish_reason"]]
    return "".join(c["text"] for c in choices), reasons[-1] if reasons else None


@pytest.fixture
def unstopped(backend) -> str:
    text, reason = _complete(backend, stream=False)
    assert reason == "length" and len(text) >= 12, text
    return text


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_it_leaves_the_stop_string_out_of_the_output(backend, unstopped, stream):
    middle = len(unstopped) // 2
    for stop in [unstopped[1:6], unstopped[middle:middle + 4]]:  # the first one starts inside a word
        cut = unstopped.find(stop)
        assert _complete(backend, stream=stream, stop=[stop]) == (unstopped[:cut], "stop"), stop


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_it_releases_text_held_back_for_a_stop_string_that_never_completes(backend, unstopped, stream):
    never = [unstopped[-3:] + "\u2603", unstopped[2:6] + "\u2603"]  # their beginnings do occur in the text
    assert _complete(backend, stream=stream, stop=never) == (unstopped, "length")
