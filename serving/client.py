"""The one client docsbot uses, for the embedded server and for vLLM alike.

- remembers the adapters it registered; when the server answers 404 for one of
  them (it restarted and lost them), loads it again and retries once;
- retries connection errors and 5xx with exponential backoff (streams only
  before the first token, so no text is ever repeated); an adapter load is retried only
  when the server could not be reached or was unavailable (502/503/504): vLLM answers
  an adapter it cannot serve with a 500 ("Call to add_lora method failed: ..."), which
  another try would only repeat;
- raises ``ServingError`` (``.status``, ``.message``) once retries are spent.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from serving.protocol import EMBEDDED_ENGINE, error_message

RETRIES = 3
BACKOFF_S = 0.5


class ServingError(Exception):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str | None
    usage: dict = field(default_factory=dict)


def _error_from(response: httpx.Response) -> ServingError:
    try:
        message = error_message(response.json())
    except ValueError:
        message = None
    return ServingError(message or response.text[:500] or response.reason_phrase, status=response.status_code)


UNAVAILABLE = frozenset({502, 503, 504})


def _retryable(exc: Exception, *, server_errors: bool = True) -> bool:
    if isinstance(exc, ServingError):
        if exc.status is None:
            return False
        return exc.status >= 500 if server_errors else exc.status in UNAVAILABLE
    return isinstance(exc, httpx.TransportError)


def _body(model: str, *, messages=None, prompt=None, max_tokens: int, temperature: float, top_p: float,
          stop, seed, stream: bool, opening: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "temperature": temperature,
                            "top_p": top_p, "stream": stream}
    if messages is not None:
        body["messages"] = list(messages)
    if opening:  # the answer starts with these words, and the model writes on from them
        body["messages"].append({"role": "assistant", "content": opening})
        body.update(continue_final_message=True, add_generation_prompt=False)
    if prompt is not None:
        body["prompt"] = prompt
    if stop:
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if seed is not None:
        body["seed"] = seed
    return body


def _sse_data(line: str) -> dict | None:
    """The JSON of one SSE ``data:`` line; None for other lines and ``[DONE]``."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    payload = json.loads(data)
    if "error" in payload:
        error = payload["error"]
        status = error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), int) else 500
        raise ServingError(error_message(payload) or "stream error", status=status)
    return payload


def _delta(payload: dict) -> str:
    for choice in payload.get("choices") or []:
        if "delta" in choice:
            return choice["delta"].get("content") or ""
        return choice.get("text") or ""
    return ""


class ChatBackend(Protocol):
    """What docsbot's chat needs of a serving endpoint: a ServingClient, or a test double of one."""

    base_url: str

    def list_models(self) -> list[dict]: ...

    def chat_stream(self, **kwargs: Any) -> Iterator[str]: ...

    def achat_stream(self, **kwargs: Any) -> AsyncIterator[str]: ...

    def first_tokens(self, *, model: str, messages: Any, count: int = 10) -> list[tuple[str, float]]: ...


class ServingClient:
    backoff_s = BACKOFF_S  # first retry delay, doubled each time

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._registered: dict[str, str] = {}  # adapter name -> path we loaded it from
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # --- models and adapters ----------------------------------------------------------
    def health(self) -> bool:
        try:
            return self._http.get("/health", timeout=min(self.timeout, 5.0)).status_code == 200
        except httpx.HTTPError:
            return False

    def server_engine(self) -> str | None:
        """``"embedded"`` for docsbot's own server, ``"vllm"`` for any other server that answers
        (vLLM's ``/version`` has no ``engine``), None when it cannot be reached."""
        try:
            response = self._http.get("/version", timeout=min(self.timeout, 5.0))
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            return None
        try:
            engine = response.json().get("engine") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            engine = None
        return "embedded" if engine == EMBEDDED_ENGINE else "vllm"

    def serves_dora(self) -> bool | None:
        """Whether the server serves DoRA adapters (vLLM refuses them); None when it cannot be reached."""
        engine = self.server_engine()
        return None if engine is None else engine == "embedded"

    def list_models(self) -> list[dict]:
        return self._call("GET", "/v1/models").json()["data"]

    def load_adapter(self, *, name: str, path: str, inplace: bool = False) -> None:
        self._call("POST", "/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(path),
                                                          "load_inplace": inplace}, server_errors=False)
        self._registered[name] = str(path)

    def unload_adapter(self, *, name: str) -> None:
        self._registered.pop(name, None)
        self._call("POST", "/v1/unload_lora_adapter", json={"lora_name": name})

    # --- generation ---------------------------------------------------------------------
    def chat(self, *, model: str, messages, max_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0,
             stop=None, seed: int | None = None) -> ChatResult:
        body = _body(model, messages=messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                     stop=stop, seed=seed, stream=False)
        choice, usage = self._generate("/v1/chat/completions", body)
        return ChatResult(text=choice["message"].get("content") or "", finish_reason=choice.get("finish_reason"),
                          usage=usage)

    def first_tokens(self, *, model: str, messages, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` likeliest first tokens of the answer to ``messages``, as (text, logprob)."""
        body = _body(model, messages=messages, max_tokens=1, temperature=0.0, top_p=1.0, stop=None, seed=None,
                     stream=False)
        body.update(logprobs=True, top_logprobs=count)
        choice, _ = self._generate("/v1/chat/completions", body)
        steps = (choice.get("logprobs") or {}).get("content") or []
        top = steps[0]["top_logprobs"] if steps else []
        return [(t["token"], t["logprob"]) for t in top]

    def completion(self, *, model: str, prompt: str, max_tokens: int = 256, temperature: float = 0.0,
                   top_p: float = 1.0, stop=None, seed: int | None = None) -> ChatResult:
        body = _body(model, prompt=prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                     stop=stop, seed=seed, stream=False)
        choice, usage = self._generate("/v1/completions", body)
        return ChatResult(text=choice.get("text") or "", finish_reason=choice.get("finish_reason"), usage=usage)

    def chat_stream(self, **kwargs) -> Iterator[str]:
        """``achat_stream`` for synchronous callers (the CLI, Slack's and the webhook's workers), driven by
        an event loop of its own: one implementation of the stream and its retries."""
        loop = asyncio.new_event_loop()
        stream = self.achat_stream(**kwargs)
        try:
            while True:
                try:
                    yield loop.run_until_complete(anext(stream))
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(stream.aclose())
            # httpx's own async generators, left mid-stream when the caller stopped early, finish here
            # rather than being destroyed pending when the loop closes (as asyncio.run does).
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def achat_stream(self, *, model: str, messages, max_tokens: int = 256, temperature: float = 0.0,
                           top_p: float = 1.0, stop=None, seed: int | None = None,
                           opening: str | None = None) -> AsyncIterator[str]:
        """The answer's text as it is generated; with ``opening``, the answer starts with it and only what the
        model writes after it comes (vLLM's ``continue_final_message``)."""
        body = _body(model, messages=messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                     stop=stop, seed=seed, stream=True, opening=opening)
        reloaded = False
        async with httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self.timeout) as http:
            for attempt in range(RETRIES + 1):
                started = False
                try:
                    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                        if response.status_code != 200:
                            await response.aread()
                            raise _error_from(response)
                        async for line in response.aiter_lines():
                            payload = _sse_data(line)
                            if payload is not None and (text := _delta(payload)):
                                started = True
                                yield text
                    return
                except (ServingError, httpx.TransportError) as exc:
                    if started:
                        raise self._wrap(exc) from exc
                    if not reloaded and await asyncio.to_thread(self._reload_after_404, exc, model):
                        reloaded = True
                        continue
                    if attempt == RETRIES or not _retryable(exc):
                        raise self._wrap(exc) from exc
                    await asyncio.sleep(self.backoff_s * 2 ** attempt)

    # --- plumbing -------------------------------------------------------------------------
    def _generate(self, path: str, body: dict) -> tuple[dict, dict]:
        try:
            response = self._call("POST", path, json=body)
        except ServingError as exc:
            if not self._reload_after_404(exc, body["model"]):
                raise
            response = self._call("POST", path, json=body)
        data = response.json()
        return data["choices"][0], data.get("usage") or {}

    def _reload_after_404(self, exc: Exception, model: str) -> bool:
        """The server lost an adapter we registered (restart): load it again. True when reloaded."""
        if not (isinstance(exc, ServingError) and exc.status == 404 and model in self._registered):
            return False
        try:
            self.load_adapter(name=model, path=self._registered[model], inplace=True)
        except ServingError:
            return False
        return True

    def _call(self, method: str, path: str, *, server_errors: bool = True, **kwargs) -> httpx.Response:
        """One request, retried on transient failures (``server_errors``: any 5xx is transient)."""
        last: Exception | None = None
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.request(method, path, **kwargs)
                if response.status_code < 400:
                    return response
                raise _error_from(response)
            except (ServingError, httpx.TransportError) as exc:
                last = exc
                if attempt == RETRIES or not _retryable(exc, server_errors=server_errors):
                    break
                time.sleep(self.backoff_s * 2 ** attempt)
        raise self._wrap(last)

    def _wrap(self, exc: Exception | None) -> ServingError:
        if isinstance(exc, ServingError):
            return exc
        return ServingError(f"cannot reach the serving endpoint {self.base_url}: {exc}")
