"""HTTP layer (Starlette): vLLM's routes on top of the Engine and the AdapterRegistry."""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from serving import protocol
from serving.adapters import AdapterError, AdapterRegistry
from serving.engine import EMPTY_PROMPT, Engine, Event, Request, SamplingParams
from serving.lora import AdapterWeights
from serving.protocol import EMBEDDED_ENGINE, EMBEDDED_VERSION, ProtocolError


class Metrics:
    """Prometheus metrics under vLLM's names where one exists, so dashboards carry over."""

    def __init__(self, engine: Engine, registry: AdapterRegistry):
        self.registry = CollectorRegistry()
        r = self.registry
        Gauge("vllm:num_requests_running", "Requests in the running batch", registry=r).set_function(
            lambda: engine.counts()[0])
        Gauge("vllm:num_requests_waiting", "Requests waiting for a batch slot", registry=r).set_function(
            lambda: engine.counts()[1])
        Gauge("docsbot_serving_loras_resident", "Adapters in batch slots", registry=r).set_function(
            lambda: len(engine.resident_adapters()))
        Gauge("docsbot_serving_loras_cpu", "Adapters loaded in memory (LRU)", registry=r).set_function(
            lambda: len(registry.cached_names()))
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prompt tokens processed", registry=r)
        self.generation_tokens = Counter("vllm:generation_tokens", "Tokens generated", registry=r)
        self.requests = Counter("vllm:request_success", "Finished requests", ["finished_reason"], registry=r)
        self.errors = Counter("docsbot_serving_request_errors", "Requests answered with an error", ["status"],
                              registry=r)
        self.latency = Histogram("vllm:e2e_request_latency_seconds", "Request latency", registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token", registry=r,
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.adapter_loads = Counter("docsbot_serving_adapter_loads", "Adapter loads", ["outcome"], registry=r)


def _error(exc: ProtocolError | AdapterError, metrics: Metrics) -> JSONResponse:
    metrics.errors.labels(str(exc.status)).inc()
    return JSONResponse(protocol.error_body(exc.message, err_type=exc.err_type, status=exc.status,
                                            param=getattr(exc, "param", None)), status_code=exc.status)


async def _json(request: HttpRequest) -> dict:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"invalid JSON in the request body: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("the request body must be a JSON object")
    return body


def create_app(engine: Engine, registry: AdapterRegistry, *, api_key: str | None = None) -> Starlette:
    metrics = Metrics(engine, registry)
    served = engine.served_name

    expected = f"Bearer {api_key}".encode() if api_key else None

    def authorized(request: HttpRequest) -> bool:
        # As vLLM's --api-key: only the /v1 routes need it (/health, /metrics and /version stay open);
        # compared in constant time, so the answer's timing tells nothing about the key.
        if expected is None or not request.url.path.startswith("/v1"):
            return True
        given = request.headers.get("authorization", "").encode("latin-1")  # the raw header bytes
        return hmac.compare_digest(given, expected)

    def handler(fn: Callable[[HttpRequest], Awaitable[Response]]):
        async def wrapped(request: HttpRequest) -> Response:
            if not authorized(request):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            try:
                return await fn(request)
            except (ProtocolError, AdapterError) as exc:
                return _error(exc, metrics)
        return wrapped

    async def health(_: HttpRequest) -> Response:
        return Response(status_code=200)

    async def version(_: HttpRequest) -> Response:
        # vLLM answers {"version": "0.x.y"}; "engine" tells docsbot it talks to its own server
        # (which serves DoRA adapters, unlike vLLM).
        return JSONResponse({"version": EMBEDDED_VERSION, "engine": EMBEDDED_ENGINE})

    async def metrics_view(_: HttpRequest) -> Response:
        return Response(generate_latest(metrics.registry), media_type="text/plain; version=0.0.4")

    async def models(_: HttpRequest) -> Response:
        cards = [protocol.model_card(served, root=engine.model_path, parent=None, max_model_len=engine.max_model_len)]
        cards += [protocol.model_card(name, root=path, parent=served) for name, path in registry.registered().items()]
        return JSONResponse({"object": "list", "data": cards})

    async def resolve(model: str | None) -> AdapterWeights | None:
        if model is None or model == served:
            return None
        adapter = await run_in_threadpool(registry.resolve, model)
        if adapter is None:
            raise ProtocolError(f"The model `{model}` does not exist.", status=404, err_type="NotFoundError",
                                param="model")
        return adapter

    async def generate(http_request: HttpRequest, prompts: list[list[int]], gen: protocol.GenerationRequest,
                       chat: bool, echoes: list[str] | None = None) -> Response:
        """Generate ``gen.n`` choices for each prompt (choice index = prompt index * n + copy)."""
        adapter = await resolve(gen.model)
        model_name = gen.model or served
        requests: list[Request] = []
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
        for prompt_ids in prompts:
            if not prompt_ids:
                raise ProtocolError(EMPTY_PROMPT)
            if len(prompt_ids) >= engine.max_model_len:
                raise protocol.context_error(len(prompt_ids), engine.max_model_len)
            # Like vLLM: max_tokens is clamped to the room the prompt leaves in the context.
            room = engine.max_model_len - len(prompt_ids)
            for copy in range(gen.n):
                seed = None if gen.seed is None else gen.seed + copy
                params = SamplingParams(max_tokens=min(gen.max_tokens or room, room), temperature=gen.temperature,
                                        top_p=gen.top_p, stop=gen.stop, seed=seed, ignore_eos=gen.ignore_eos,
                                        logprobs=gen.logprobs)

                def emit(event: Event, index: int = len(requests)) -> None:
                    loop.call_soon_threadsafe(queue.put_nowait, (index, event))

                requests.append(Request(prompt_ids=prompt_ids, adapter=adapter, params=params, emit=emit))
        if (refusal := engine.too_large(requests)) is not None:  # refused before admission, never an OOM later
            raise ProtocolError(refusal)
        started = time.monotonic()
        engine.submit(*requests)
        metrics.prompt_tokens.inc(sum(len(p) for p in prompts))
        rid = protocol.new_id("chatcmpl" if chat else "cmpl")

        async def events() -> AsyncIterator[tuple[int, Event]]:
            first, open_ = True, len(requests)
            try:
                while open_:
                    index, event = await queue.get()
                    if first and event.kind in ("delta", "done"):
                        metrics.ttft.observe(time.monotonic() - started)
                        first = False
                    if event.kind == "done":
                        metrics.requests.labels(event.finish_reason or "stop").inc()
                        metrics.generation_tokens.inc(event.usage["completion_tokens"])
                    if event.kind != "delta":
                        open_ -= 1
                    yield index, event
                metrics.latency.observe(time.monotonic() - started)
            finally:
                for request in requests:  # no-op when finished; stops generation when the client left
                    engine.cancel(request)

        stream = Stream(rid, model_name, chat, engine.tokenizer, gen.n, echoes)
        if gen.stream:
            return StreamingResponse(stream.sse(events(), gen.include_usage), media_type="text/event-stream")
        whole = asyncio.ensure_future(stream.collect(events()))
        gone = asyncio.ensure_future(_disconnected(http_request))
        await asyncio.wait({whole, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not whole.done():  # the client left: stop generating for it (events() cancels its requests)
            whole.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await whole
            metrics.requests.labels("abort").inc(len(requests))
            return Response(status_code=499)
        gone.cancel()
        error, body = whole.result()
        if error is not None:
            metrics.errors.labels("500").inc()
            return JSONResponse(protocol.error_body(error, err_type="InternalServerError", status=500),
                                status_code=500)
        return JSONResponse(body)

    async def chat_completions(request: HttpRequest) -> Response:
        body = await _json(request)
        gen = protocol.parse_generation(body, chat=True)
        messages = protocol.parse_messages(body)
        if not engine.tokenizer.chat_template:
            raise ProtocolError("the served model has no chat template; use /v1/completions")
        text = engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"]
        return await generate(request, [ids], gen, chat=True)

    async def completions(request: HttpRequest) -> Response:
        body = await _json(request)
        gen = protocol.parse_generation(body, chat=False)
        prompts = protocol.parse_prompts(body)
        vocab = len(engine.tokenizer)
        ids: list[list[int]] = []
        for prompt in prompts:
            if isinstance(prompt, str):
                ids.append(engine.tokenizer(prompt)["input_ids"] if prompt else [])
            elif any(not 0 <= t < vocab for t in prompt):
                raise ProtocolError(f"Token id out of vocabulary (size {vocab})", param="prompt")
            else:
                ids.append(list(prompt))
        echoes = None
        if gen.echo:
            echoes = [p if isinstance(p, str) else engine.tokenizer.decode(p) for p in prompts]
        return await generate(request, ids, gen, chat=False, echoes=echoes)

    async def load_adapter(request: HttpRequest) -> Response:
        body = await _json(request)
        name, path = body.get("lora_name"), body.get("lora_path")
        if not isinstance(name, str) or not isinstance(path, str):
            raise ProtocolError("Both 'lora_name' and 'lora_path' must be provided.", err_type="InvalidUserInput")
        try:
            await run_in_threadpool(registry.load, name, path, inplace=bool(body.get("load_inplace")))
        except AdapterError:
            metrics.adapter_loads.labels("error").inc()
            raise
        metrics.adapter_loads.labels("ok").inc()
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    async def unload_adapter(request: HttpRequest) -> Response:
        body = await _json(request)
        name = body.get("lora_name")
        if not isinstance(name, str) or not name:
            raise ProtocolError("'lora_name' must be provided.", err_type="InvalidUserInput")
        registry.unload(name)
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_view, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/v1/models", handler(models), methods=["GET"]),
        Route("/v1/chat/completions", handler(chat_completions), methods=["POST"]),
        Route("/v1/completions", handler(completions), methods=["POST"]),
        Route("/v1/load_lora_adapter", handler(load_adapter), methods=["POST"]),
        Route("/v1/unload_lora_adapter", handler(unload_adapter), methods=["POST"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        yield
        engine.shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.engine, app.state.registry, app.state.metrics = engine, registry, metrics
    return app


async def _disconnected(request: HttpRequest) -> None:
    """Returns when the client closes the connection (the body has been read: nothing else arrives)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class Stream:
    """Turns one request's engine events into vLLM's response: SSE chunks, or the whole body."""

    def __init__(self, rid: str, model: str, chat: bool, tokenizer, n: int, echoes: list[str] | None):
        self.rid, self.model, self.chat, self.n, self.echoes = rid, model, chat, n, echoes
        self._decode = lambda token: tokenizer.decode([token])
        self._offsets: dict[int, int] = {}  # completions' text_offset, per choice

    def _echo(self, index: int) -> str:
        return self.echoes[index // self.n] if self.echoes else ""

    def _logprobs(self, index: int, entries) -> dict | None:
        if entries is None:
            return None
        if self.chat:
            return protocol.chat_logprobs(entries, self._decode)
        formatted = protocol.completion_logprobs(entries, self._decode, self._offsets.get(index, 0))
        self._offsets[index] = self._offsets.get(index, 0) + sum(len(t) for t in formatted["tokens"])
        return formatted

    async def collect(self, events: AsyncIterator[tuple[int, Event]]) -> tuple[str | None, dict | None]:
        """(error message, None) or (None, the whole response)."""
        texts: dict[int, list[str]] = {}
        logprobs: dict[int, list] = {}
        ends: dict[int, Event] = {}
        for index in range(len(self.echoes or [])):
            for copy in range(self.n):
                texts[index * self.n + copy] = [self.echoes[index]]
        async for index, event in events:
            if event.kind == "error":
                return event.text, None
            texts.setdefault(index, []).append(event.text)
            if event.logprobs is not None:
                logprobs.setdefault(index, []).extend(event.logprobs)
            if event.kind == "done":
                ends[index] = event
        choices = []
        for index in sorted(ends):
            end = ends[index]
            entries = logprobs.get(index, []) if end.logprobs is not None else None
            build = protocol.chat_choice if self.chat else protocol.completion_choice
            choices.append(build(index, "".join(texts[index]), end.finish_reason, end.stop_reason,
                                 self._logprobs(index, entries)))
        build = protocol.chat_response if self.chat else protocol.completion_response
        return None, build(self.rid, self.model, choices, self._usage(ends))

    def _usage(self, ends: dict[int, Event]) -> dict:
        # A prompt is counted once, however many choices it has (as vLLM counts it).
        prompt = sum(e.usage["prompt_tokens"] for i, e in ends.items() if i % self.n == 0)
        completion = sum(e.usage["completion_tokens"] for e in ends.values())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _chunk(self, index: int, text: str, event: Event | None = None, *, role: bool = False) -> dict:
        finish = event.finish_reason if event and event.kind == "done" else None
        stop = event.stop_reason if event and event.kind == "done" else None
        logprobs = self._logprobs(index, event.logprobs) if event else None
        if self.chat:
            delta = {"role": "assistant", "content": text} if role else {"content": text}
            return protocol.chat_chunk(self.rid, self.model, delta, finish, index=index, stop_reason=stop,
                                       logprobs=logprobs)
        return protocol.completion_chunk(self.rid, self.model, text, finish, index=index, stop_reason=stop,
                                         logprobs=logprobs)

    async def sse(self, events: AsyncIterator[tuple[int, Event]], include_usage: bool) -> AsyncIterator[str]:
        def line(payload: dict) -> str:
            return f"data: {json.dumps(payload)}\n\n"

        ends: dict[int, Event] = {}
        if self.chat:
            yield line(self._chunk(0, "", role=True))
        started: set[int] = set()
        async for index, event in events:
            if event.kind == "error":
                yield line(protocol.error_body(event.text, err_type="InternalServerError", status=500))
                break
            if index not in started:
                started.add(index)
                if self.chat and index:
                    yield line(self._chunk(index, "", role=True))
                if echo := self._echo(index):
                    yield line(self._chunk(index, echo))
            # The last piece of text and the finish reason ride on one chunk, as in vLLM.
            yield line(self._chunk(index, event.text, event))
            if event.kind == "done":
                ends[index] = event
        else:
            if include_usage:
                usage = self._usage(ends)
                yield line(protocol.chat_chunk(self.rid, self.model, {}, usage=usage) if self.chat
                           else protocol.completion_chunk(self.rid, self.model, "", usage=usage))
        yield "data: [DONE]\n\n"
