"""HTTP layer (Starlette): vLLM's routes on top of the Engine and the AdapterRegistry."""
from __future__ import annotations

import asyncio
import contextlib
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
from serving.protocol import ProtocolError


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

    def handler(fn: Callable[[HttpRequest], Awaitable[Response]]):
        async def wrapped(request: HttpRequest) -> Response:
            if api_key and request.url.path.startswith("/v1") and \
                    request.headers.get("authorization") != f"Bearer {api_key}":
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            try:
                return await fn(request)
            except (ProtocolError, AdapterError) as exc:
                return _error(exc, metrics)
        return wrapped

    async def health(_: HttpRequest) -> Response:
        return Response(status_code=200)

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

    async def generate(prompt_ids: list[int], gen: protocol.GenerationRequest, chat: bool) -> Response:
        adapter = await resolve(gen.model)
        model_name = gen.model or served
        if not prompt_ids:
            raise ProtocolError(EMPTY_PROMPT)
        if len(prompt_ids) + (gen.max_tokens or 1) > engine.max_model_len:
            raise protocol.context_error(len(prompt_ids), gen.max_tokens, engine.max_model_len)
        max_tokens = gen.max_tokens or engine.max_model_len - len(prompt_ids)
        params = SamplingParams(max_tokens=max_tokens, temperature=gen.temperature, top_p=gen.top_p,
                                stop=gen.stop, seed=gen.seed, ignore_eos=gen.ignore_eos)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        request = Request(prompt_ids=prompt_ids, adapter=adapter, params=params,
                          emit=lambda event: loop.call_soon_threadsafe(queue.put_nowait, event))
        started = time.monotonic()
        engine.submit(request)
        metrics.prompt_tokens.inc(len(prompt_ids))
        rid = protocol.new_id("chatcmpl" if chat else "cmpl")

        async def events() -> AsyncIterator[Event]:
            first = True
            try:
                while True:
                    event = await queue.get()
                    if first and event.kind == "delta":
                        metrics.ttft.observe(time.monotonic() - started)
                        first = False
                    yield event
                    if event.kind != "delta":
                        if event.kind == "done":
                            metrics.requests.labels(event.finish_reason or "stop").inc()
                            metrics.generation_tokens.inc(event.usage["completion_tokens"])
                            metrics.latency.observe(time.monotonic() - started)
                        return
            finally:
                engine.cancel(request)  # no-op when finished; stops generation when the client left

        if gen.stream:
            return StreamingResponse(_sse(events(), rid, model_name, chat, gen.include_usage),
                                     media_type="text/event-stream")
        parts: list[str] = []
        async for event in events():
            if event.kind == "delta":
                parts.append(event.text)
            elif event.kind == "error":
                metrics.errors.labels("500").inc()
                return JSONResponse(protocol.error_body(event.text, err_type="InternalServerError", status=500),
                                    status_code=500)
            else:
                build = protocol.chat_response if chat else protocol.completion_response
                return JSONResponse(build(rid, model_name, "".join(parts), event.finish_reason, event.usage))
        raise ProtocolError("generation ended without a result", status=500, err_type="InternalServerError")

    async def chat_completions(request: HttpRequest) -> Response:
        body = await _json(request)
        gen = protocol.parse_generation(body)
        messages = protocol.parse_messages(body)
        if not engine.tokenizer.chat_template:
            raise ProtocolError("the served model has no chat template; use /v1/completions")
        text = engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"]
        return await generate(ids, gen, chat=True)

    async def completions(request: HttpRequest) -> Response:
        body = await _json(request)
        gen = protocol.parse_generation(body)
        ids = engine.tokenizer(protocol.parse_prompt(body))["input_ids"]
        return await generate(ids, gen, chat=False)

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


async def _sse(events: AsyncIterator[Event], rid: str, model: str, chat: bool,
               include_usage: bool) -> AsyncIterator[str]:
    def line(payload: dict) -> str:
        return f"data: {json.dumps(payload)}\n\n"

    if chat:
        yield line(protocol.chat_chunk(rid, model, {"role": "assistant", "content": ""}))
    async for event in events:
        if event.kind == "delta":
            yield line(protocol.chat_chunk(rid, model, {"content": event.text}) if chat
                       else protocol.completion_chunk(rid, model, event.text))
        elif event.kind == "error":
            yield line(protocol.error_body(event.text, err_type="InternalServerError", status=500))
        else:
            yield line(protocol.chat_chunk(rid, model, {}, event.finish_reason) if chat
                       else protocol.completion_chunk(rid, model, "", event.finish_reason))
            if include_usage:
                yield line(protocol.chat_chunk(rid, model, {}, usage=event.usage) if chat
                           else protocol.completion_chunk(rid, model, "", usage=event.usage))
    yield "data: [DONE]\n\n"
