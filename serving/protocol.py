"""The subset of vLLM's OpenAI-compatible protocol that docsbot uses: parsing and response shapes.

Plain dicts in and out (no torch, no web framework) so the client can share it.
Errors follow vLLM: HTTP status + ``{"error": {"message", "type", "param", "code"}}``
where ``code`` is the HTTP status.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EMBEDDED_ENGINE = "docsbot-embedded"  # GET /version's "engine" on docsbot's own server (vLLM has none)
# The vLLM release the serving contract targets: the embedded server answers as it does, docker-compose.yml
# pins its image (vllm/vllm-openai:v<VLLM_VERSION>, checked by tests/test_compose.py), the README names it.
VLLM_VERSION = "0.34.0"
EMBEDDED_VERSION = f"{VLLM_VERSION}+docsbot"


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


MAX_N = 16  # choices per request (vLLM has no such limit; the embedded engine keeps batches small)
MAX_LOGPROBS = 20  # vLLM's default --max-logprobs


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
    n: int = 1
    logprobs: int | None = None  # None: none; k: the sampled token's and the top k per token
    echo: bool = False  # completions: the prompt comes back before the completion


def _number(body: dict, name: str, default: float, *, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{name} must be a number", param=name)
    if not low <= value <= high:
        raise ProtocolError(f"{name} must be between {low} and {high}, got {value}", param=name)
    return float(value)


def _integer(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ProtocolError(f"{name} must be an integer", param=name)
    return value


def _logprobs(body: dict, chat: bool) -> int | None:
    """Chat: ``logprobs`` true and ``top_logprobs`` k; completions: ``logprobs`` k (vLLM's checks)."""
    if chat:
        wanted = body.get("logprobs")
        if wanted is not None and not isinstance(wanted, bool):
            raise ProtocolError("logprobs must be a boolean", param="logprobs")
        top = _integer(body, "top_logprobs")
        if top is not None and not wanted:
            raise ProtocolError("when using `top_logprobs`, `logprobs` must be set to true.", param="top_logprobs")
        if not wanted:
            return None
        count, name = top or 0, "top_logprobs"
    else:
        count, name = _integer(body, "logprobs"), "logprobs"
        if count is None:
            return None
    if count < 0:
        raise ProtocolError(f"`{name}` must be a positive value.", param=name)
    if count > MAX_LOGPROBS:
        raise ProtocolError(f"Requested sample logprobs of {count}, which is greater than max allowed: "
                            f"{MAX_LOGPROBS}", param=name)
    return count


# Parameters vLLM honours and this engine does not, each with the value that changes nothing: a request that sets
# one otherwise is refused, not answered as if it had not (a client asking for JSON must not get prose).
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "response_format": (None, {"type": "text"}),
    "tools": (None, []),
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
    "repetition_penalty": (None, 1, 1.0),
    "logit_bias": (None, {}),
    "top_k": (None, 0, -1),
    "min_p": (None, 0, 0.0),
    "min_tokens": (None, 0),
    "best_of": (None, 1),
    "use_beam_search": (None, False),
    "guided_json": (None,),
    "guided_regex": (None,),
    "guided_choice": (None,),
    "guided_grammar": (None,),
    "structured_outputs": (None,),
}


def _refuse_unsupported(body: dict) -> None:
    for name, neutral in NEUTRAL_VALUES.items():
        value = body.get(name)
        if value is not None and name == "tools" and body.get("tool_choice") == "none":
            continue  # tools offered but never to be called: the answer is plain text either way
        if not any(value == v and type(value) is type(v) or value is v for v in neutral):
            raise ProtocolError(f"{name} is not supported by docsbot's embedded engine, which would ignore it; "
                                f"leave it out, or serve the model with vLLM", param=name)


def parse_generation(body: Any, *, chat: bool = True) -> GenerationRequest:
    if not isinstance(body, dict):
        raise ProtocolError("the request body must be a JSON object")
    _refuse_unsupported(body)
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
    seed = _integer(body, "seed")
    n = _integer(body, "n")
    n = 1 if n is None else n
    if n < 1:
        raise ProtocolError(f"n must be at least 1, got {n}.", param="n")
    if n > MAX_N:
        raise ProtocolError(f"n must be at most {MAX_N} on this server, got {n}.", param="n")
    stream = bool(body.get("stream", False))
    options = body.get("stream_options")
    if options is not None and not stream:
        raise ProtocolError("Stream options can only be defined when `stream=True`.", param="stream_options")
    echo = body.get("echo", False)
    if not chat and not isinstance(echo, bool):
        raise ProtocolError("echo must be a boolean", param="echo")
    logprobs = _logprobs(body, chat)
    if not chat and echo and logprobs is not None:
        raise ProtocolError("echo with logprobs (prompt logprobs) is not supported by this server; "
                            "leave out echo or logprobs", param="echo")
    return GenerationRequest(
        model=model or None,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, low=0.0, high=2.0),
        top_p=_number(body, "top_p", 1.0, low=1e-6, high=1.0),
        stop=stops,
        seed=seed,
        stream=stream,
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
        ignore_eos=bool(body.get("ignore_eos", False)),
        n=n,
        logprobs=logprobs,
        echo=bool(echo) and not chat,
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


def chat_template_flags(body: dict, messages: list[dict[str, str]]) -> dict[str, bool]:
    """How the chat prompt ends, as ``apply_chat_template`` takes it: inside the final (assistant) message, so the
    model continues it, or opening a new assistant turn (or neither): vLLM's ``continue_final_message`` and
    ``add_generation_prompt`` (default true), with its checks."""
    for name in ("continue_final_message", "add_generation_prompt"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise ProtocolError(f"{name} must be a boolean", param=name)
    continues = bool(body.get("continue_final_message"))
    if continues and body.get("add_generation_prompt"):
        raise ProtocolError("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
    if continues and messages[-1]["role"] != "assistant":
        raise ProtocolError("continue_final_message needs the final message to be the assistant's",
                            param="messages")
    return {"continue_final_message": continues,
            "add_generation_prompt": not continues and body.get("add_generation_prompt", True)}


def _token_ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def parse_prompts(body: dict) -> list[str | list[int]]:
    """The completion prompts, as OpenAI allows them: a string, a list of strings, a list of token
    ids, or a list of lists of token ids. Each is one prompt (its choices come in this order)."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if _token_ids(prompt) and prompt:
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) or _token_ids(p) for p in prompt):
        return list(prompt)
    raise ProtocolError("prompt must be a string, a list of strings, a list of token ids or a list of lists of "
                        "token ids", param="prompt")


def context_error(prompt_tokens: int, max_model_len: int) -> ProtocolError:
    """A prompt that leaves no room for one generated token (vLLM's wording). A prompt that fits
    with a ``max_tokens`` that does not gets ``max_tokens`` clamped instead, as in vLLM."""
    return ProtocolError(
        f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains "
        f"{prompt_tokens} input tokens. Please reduce the length of the input messages.", param="messages")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# --- logprobs ----------------------------------------------------------------------------------
# ``entries`` are the engine's per-token records: ``.token`` (id), ``.logprob``, ``.top`` ((id, logprob), ...);
# ``decode`` turns one token id into its text.
def _finite(logprob: float) -> float:
    return max(logprob, -9999.0)  # vLLM's stand-in for -inf (JSON has no infinity)


def chat_logprobs(entries: list, decode: Callable[[int], str]) -> dict:
    def item(token: int, logprob: float) -> dict:
        text = decode(token)
        return {"token": text, "logprob": _finite(logprob), "bytes": list(text.encode("utf-8"))}

    return {"content": [{**item(e.token, e.logprob), "top_logprobs": [item(t, lp) for t, lp in e.top]}
                        for e in entries]}


def completion_logprobs(entries: list, decode: Callable[[int], str], offset: int = 0) -> dict:
    tokens, offsets, top = [], [], []
    for entry in entries:
        text = decode(entry.token)
        tokens.append(text)
        offsets.append(offset)
        offset += len(text)
        step = {decode(t): _finite(lp) for t, lp in entry.top}
        step.setdefault(text, _finite(entry.logprob))  # the sampled token is always listed (as vLLM)
        top.append(step)
    return {"text_offset": offsets, "token_logprobs": [_finite(e.logprob) for e in entries], "tokens": tokens,
            "top_logprobs": top}


# --- response shapes ----------------------------------------------------------------------------
def chat_choice(index: int, text: str, finish_reason: str | None, stop_reason: str | None = None,
                logprobs: dict | None = None) -> dict:
    return {"index": index, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
            "finish_reason": finish_reason, "stop_reason": stop_reason}


def completion_choice(index: int, text: str, finish_reason: str | None, stop_reason: str | None = None,
                      logprobs: dict | None = None) -> dict:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason,
            "stop_reason": stop_reason}


def chat_response(rid: str, model: str, choices: list[dict], usage: dict) -> dict:
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage}


def completion_response(rid: str, model: str, choices: list[dict], usage: dict) -> dict:
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage}


def chat_chunk(rid: str, model: str, delta: dict, finish_reason: str | None = None, *, index: int = 0,
               stop_reason: str | None = None, logprobs: dict | None = None, usage: dict | None = None) -> dict:
    chunk = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
             "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason,
                          "stop_reason": stop_reason}]}
    if usage is not None:
        chunk["choices"], chunk["usage"] = [], usage
    return chunk


def completion_chunk(rid: str, model: str, text: str, finish_reason: str | None = None, *, index: int = 0,
                     stop_reason: str | None = None, logprobs: dict | None = None,
                     usage: dict | None = None) -> dict:
    chunk = {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
             "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason,
                          "stop_reason": stop_reason}]}
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
