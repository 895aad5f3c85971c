"""Start-up checks that turn an unusable configuration into one clear line."""
from __future__ import annotations

import re

from django.db import connection

from docsbot.config import ConfigError


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def check_database_reachable() -> None:
    import os

    try:
        connection.ensure_connection()
    except Exception as exc:  # noqa: BLE001 - any driver error means the same thing here
        url = os.environ.get("DATABASE_URL", "sqlite (default)")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"DATABASE_URL: cannot connect to {_redact(url)}: {reason}") from None


def check_broker_reachable() -> None:
    import os

    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_CLIENT_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        url = os.environ.get("REDIS_URL", "embedded Redis")
        raise ConfigError(f"REDIS_URL: cannot connect to {_redact(url)}: {exc}") from None


def check_base_model() -> str:
    """The base model serving and training share: a causal LM with weights and a chat template."""
    from docsbot.core.serving import base_model_path
    from training.packaged_model import BaseModelError, check_causal_lm  # stdlib only: no torch

    try:
        return check_causal_lm(base_model_path())
    except BaseModelError as exc:
        raise ConfigError(f"DOCSBOT_BASE_MODEL: {exc}") from None


RUNTIME_LORA_HINT = ("start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (and --enable-lora): without it vLLM "
                     "has no load/unload routes and cannot take promoted adapters")


def check_serving_runtime_lora() -> None:
    """DOCSBOT_SERVING_URL must accept runtime adapter loads: vLLM has ``/v1/load_lora_adapter`` only
    with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (404 without). A server that is down is not an error
    here: the health check reports it, and adapters load when it is back."""
    import httpx
    from django.conf import settings

    if not settings.SERVING_URL:
        return
    url = settings.SERVING_URL.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.SERVING_API_KEY}"} if settings.SERVING_API_KEY else {}
    try:
        # An empty body: a server with the route answers 400 (no lora_name) and loads nothing.
        response = httpx.post(f"{url}/v1/load_lora_adapter", json={}, headers=headers, timeout=5.0)
    except httpx.HTTPError:
        return
    if response.status_code in (404, 405):
        raise ConfigError(f"DOCSBOT_SERVING_URL: {_redact(url)} has no runtime LoRA loading "
                          f"(POST /v1/load_lora_adapter answered {response.status_code}): {RUNTIME_LORA_HINT}")


def method_refused_by_serving(method: str) -> str | None:
    """Why the configured serving backend could not serve an adapter trained with ``method``, or None.

    vLLM serves LoRA (and QLoRA's LoRA) only: it refuses DoRA ("vLLM does not yet support DoRA"),
    and IA3, prompt/prefix tuning and bottleneck adapters are no LoRA at all; docsbot's embedded
    server serves every method. An unset or unreachable endpoint refuses nothing here (promotion
    will say)."""
    from django.conf import settings

    from training.config import SERVABLE_BY, serving_note

    if "vllm" in SERVABLE_BY.get(method, ("vllm",)) or not settings.SERVING_URL:
        return None
    from docsbot.core.serving import serving_client

    if serving_client().server_engine() != "vllm":
        return None
    return (f"method: {method} adapters cannot be served by vLLM (DOCSBOT_SERVING_URL="
            f"{_redact(settings.SERVING_URL)}): train with method lora or qlora, or serve from the embedded "
            f"server (python -m serving). {serving_note(SERVABLE_BY[method])}")


def run_preflight() -> None:
    """What every process needs (the web server runs these at start-up)."""
    check_database_reachable()
    check_broker_reachable()
    check_serving_runtime_lora()
