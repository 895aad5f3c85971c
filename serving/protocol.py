"""The subset of vLLM's OpenAI-compatible protocol that docsbot uses: parsing and response shapes.

Plain dicts in and out (no torch, no web framework) so the client can share it.
Errors follow vLLM: HTTP status + ``{"error": {"message", "type", "param", "code"}}``
where ``code`` is the HTTP status.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any


class ProtocolError(Exception):
    def __init__(self, message: str, *, status: int = 400, err_type: str = "BadRequestError",
                 param: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param


def error_body(message: str, *, err_type: str = "BadRequestError", status: int = 400,
               param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": param, "code": status}}


def error_message(payload: Any) -> str | None:
    """The message of a vLLM/OpenAI error body (new nested shape or vLLM's older flat one)."""
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if "message" in payload:
            return str(payload["message"])
        if "detail" in payload:
            return str(payload["detail"])
    return None


@dataclass(frozen=True)
class GenerationRequest:
    """The fields common to chat and text completions, validated."""

    model: str | None
    max_tokens: int | None
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    seed: int | None
    stream: bool
    include_usage: bool
    ignore_eos: bool = False  # vLLM's extra sampling parameter (benchmarks)


def _number(body: dict, name: str, default: float, *, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{name} must be a number", param=name)
    if not low <= value <= high:
        raise ProtocolError(f"{name} must be between {low} and {high}, got {value}", param=name)
    return float(value)


def parse_generation(body: Any) -> GenerationRequest:
    if not isinstance(body, dict):
        raise ProtocolError("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ProtocolError("model must be a string", param="model")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ProtocolError("max_tokens must be a positive integer", param="max_tokens")
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,) if stop else ()
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = tuple(s for s in stop if s)
    else:
        raise ProtocolError("stop must be a string or a list of strings", param="stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ProtocolError("seed must be an integer", param="seed")
    n = body.get("n", 1)
    if n != 1:
        raise ProtocolError("only n=1 is supported", param="n")
    options = body.get("stream_options") or {}
    return GenerationRequest(
        model=model or None,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, low=0.0, high=2.0),
        top_p=_number(body, "top_p", 1.0, low=1e-6, high=1.0),
        stop=stops,
        seed=seed,
        stream=bool(body.get("stream", False)),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
        ignore_eos=bool(body.get("ignore_eos", False)),
    )


def parse_messages(body: dict) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("messages must be a non-empty list", param="messages")
    parsed: list[dict[str, str]] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ProtocolError("each message needs a role and content", param="messages")
        content = message.get("content", "")
        if isinstance(content, list):  # OpenAI content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise ProtocolError("message content must be a string", param="messages")
        parsed.append({"role": message["role"], "content": content})
    return parsed


def parse_prompt(body: dict) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ProtocolError("prompt must be a string", param="prompt")
    return prompt


def context_error(prompt_tokens: int, max_tokens: int | None, max_model_len: int) -> ProtocolError:
    if max_tokens is None:
        return ProtocolError(
            f"This model's maximum context length is {max_model_len} tokens. However, your request has "
            f"{prompt_tokens} input tokens. Please reduce the length of the input messages.", param="messages")
    return ProtocolError(
        f"This model's maximum context length is {max_model_len} tokens. However, you requested "
        f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
        "completion). Please reduce the length of the messages or completion.", param="max_tokens")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def chat_response(rid: str, model: str, text: str, finish_reason: str | None, usage: dict) -> dict:
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": finish_reason, "stop_reason": None}],
            "usage": usage}


def chat_chunk(rid: str, model: str, delta: dict, finish_reason: str | None = None,
               usage: dict | None = None) -> dict:
    chunk = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
    if usage is not None:
        chunk["choices"], chunk["usage"] = [], usage
    return chunk


def completion_response(rid: str, model: str, text: str, finish_reason: str | None, usage: dict) -> dict:
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason,
                         "stop_reason": None}],
            "usage": usage}


def completion_chunk(rid: str, model: str, text: str, finish_reason: str | None = None,
                     usage: dict | None = None) -> dict:
    chunk = {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
             "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}]}
    if usage is not None:
        chunk["choices"], chunk["usage"] = [], usage
    return chunk


def model_card(model_id: str, *, root: str, parent: str | None, max_model_len: int | None = None) -> dict:
    return {"id": model_id, "object": "model", "created": int(time.time()), "owned_by": "vllm",
            "root": root, "parent": parent, "max_model_len": max_model_len,
            "permission": [{"id": new_id("modelperm"), "object": "model_permission", "created": int(time.time()),
                            "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
                            "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
                            "organization": "*", "group": None, "is_blocking": False}]}
