"""docsbot's chat reads the serving side's context-length errors in vLLM's wordings and the embedded one's."""
from __future__ import annotations

import httpx

from serving.client import ServingError
from tests.serving.test_contract import _max_model_len


def test_it_reads_the_prompt_size_from_every_context_length_wording():
    from docsbot.chat.generate import answer_budget_after

    wordings = {
        # vLLM before max_tokens was clamped
        "'max_tokens' or 'max_completion_tokens' is too large: 300. This model's maximum context length is 512 "
        "tokens and your request has 400 input tokens (300 > 512 - 400).": 112,
        # vLLM 0.34: only a prompt alone over the context is refused
        "This model's maximum context length is 512 tokens. However, your prompt contains 490 input tokens. "
        "Please reduce the length of the input messages.": 22,
        # the embedded server before it clamped
        "This model's maximum context length is 512 tokens. However, you requested 516 tokens (485 in the "
        "messages, 31 in the completion). Please reduce the length of the messages or completion.": 27,
    }
    for message, budget in wordings.items():
        assert answer_budget_after(ServingError(message, status=400)) == budget, message


def test_it_recognises_the_servers_own_error_for_a_prompt_over_the_context(backend):
    from docsbot.chat.generate import _CONTEXT_OVERFLOW, answer_budget_after

    limit = _max_model_len(backend)
    messages = [{"role": "user", "content": "deploy " * (limit + 10)}]
    response = httpx.post(f"{backend.url}/v1/chat/completions", timeout=120,
                          json={"model": backend.model, "messages": messages, "max_tokens": 4})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert _CONTEXT_OVERFLOW.search(message), message
    assert answer_budget_after(ServingError(message, status=400)) is None  # no room left to retry with
