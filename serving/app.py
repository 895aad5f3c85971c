"""HTTP layer (Starlette): vLLM's routes, the API key check and the error shape, on top of
serving.openai_serving (the serving logic) and serving.metrics."""
from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable

from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving import protocol
from serving.adapters import AdapterError, AdapterRegistry
from serving.engine import Engine
from serving.metrics import Metrics
from serving.openai_serving import OpenAIServing
from serving.protocol import EMBEDDED_ENGINE, EMBEDDED_VERSION, ProtocolError


def _error(exc: ProtocolError | AdapterError, metrics: Metrics) -> JSONResponse:
    metrics.errors.labels(str(exc.status)).inc()
    return JSONResponse(protocol.error_body(exc.message, err_type=exc.err_type, status=exc.status,
                                            param=getattr(exc, "param", None)), status_code=exc.status)


def create_app(engine: Engine, registry: AdapterRegistry, *, api_key: str | None = None) -> Starlette:
    metrics = Metrics(engine, registry)
    serving = OpenAIServing(engine, registry, metrics)
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

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_view, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/v1/models", handler(serving.models), methods=["GET"]),
        Route("/v1/chat/completions", handler(serving.chat_completions), methods=["POST"]),
        Route("/v1/completions", handler(serving.completions), methods=["POST"]),
        Route("/v1/load_lora_adapter", handler(serving.load_adapter), methods=["POST"]),
        Route("/v1/unload_lora_adapter", handler(serving.unload_adapter), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        yield
        engine.shutdown()

    async def http_error(_: HttpRequest, exc: Exception) -> JSONResponse:
        # FastAPI's shape, as vLLM answers a path or method it does not have: {"detail": "Not Found"}, not text.
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.engine, app.state.registry, app.state.metrics = engine, registry, metrics
    return app
