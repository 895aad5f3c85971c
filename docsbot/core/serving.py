"""docsbot's glue to the serving endpoint (the embedded server or vLLM): only through serving.client."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from serving.client import ServingClient, ServingError

log = logging.getLogger(__name__)


def default_base_model_path() -> Path:
    """Where ``prepare_base_model`` puts the packaged SmolLM2-135M-Instruct."""
    from training.packaged_model import MODEL_DIRNAME  # stdlib-only module: no torch

    return Path(settings.DATA_DIR) / "models" / MODEL_DIRNAME


def base_model_path() -> str:
    """The base model shared by serving and training: DOCSBOT_BASE_MODEL, else the converted SmolLM2."""
    return settings.BASE_MODEL or str(default_base_model_path())


def team_adapter_name(team_slug: str) -> str:
    return f"team-{team_slug}"


@lru_cache(maxsize=4)
def _client(url: str, api_key: str | None) -> ServingClient:
    # One client per process and endpoint: it remembers the adapters it registered.
    return ServingClient(url, api_key=api_key)


def serving_client() -> ServingClient:
    if not settings.SERVING_URL:
        raise ServingError("serving is not configured (set DOCSBOT_SERVING_URL)")
    return _client(settings.SERVING_URL, settings.SERVING_API_KEY)


def adapter_publish(*, team_slug: str, version_path: Path) -> None:
    """Make ``version_path`` the team's live adapter.

    When an endpoint is reachable the version is hot-loaded first (``load_inplace``),
    so an adapter the server rejects raises ServingError and nothing changes. Then
    ADAPTER_DIR/team-<slug> is pointed at the version atomically; a server that is
    down picks it up from there (filesystem resolver) or through the client's
    re-registration.
    """
    version_path = Path(version_path).resolve()
    if not (version_path / "adapter_config.json").is_file():
        raise ServingError(f"no adapter at {version_path}", status=404)
    name = team_adapter_name(team_slug)
    if settings.SERVING_URL:
        client = serving_client()
        if client.health():
            client.load_adapter(name=name, path=str(version_path), inplace=True)
        else:
            log.warning("serving endpoint %s is unreachable; %s will load on first use", settings.SERVING_URL, name)
    adapter_dir = Path(settings.ADAPTER_DIR)
    adapter_dir.mkdir(parents=True, exist_ok=True)
    link = adapter_dir / name
    temporary = adapter_dir / f".{name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version_path, target_is_directory=True)
    os.replace(temporary, link)


def team_unpublish(*, team_slug: str) -> list[str]:
    """Take a team's live and candidate adapters off serving: their links in ADAPTER_DIR go, and a reachable
    endpoint unloads them (best effort: a server that is down finds no link to load them from). The names."""
    adapter_dir = Path(settings.ADAPTER_DIR)
    name = team_adapter_name(team_slug)
    links = [adapter_dir / name, *adapter_dir.glob(f"{name}.v*")] if adapter_dir.is_dir() else []
    names = [link.name for link in links if link.is_symlink()]
    for link in links:
        if link.is_symlink():
            link.unlink(missing_ok=True)
    if names and settings.SERVING_URL:
        try:
            client = serving_client()
            for served in names:
                client.unload_adapter(name=served)
        except (ServingError, httpx.HTTPError) as exc:  # the links are gone: nothing loads them again
            log.warning("serving did not unload %s: %s", ", ".join(names), exc)
    return names


def check_serving() -> dict[str, Any]:
    """Health check: ok / down, or ok with ``configured: false`` when no endpoint is set."""
    if not settings.SERVING_URL:
        return {"status": "ok", "configured": False, "detail": "not configured"}
    import httpx

    started = time.perf_counter()
    try:
        response = httpx.get(settings.SERVING_URL.rstrip("/") + "/health", timeout=1.0)
    except httpx.HTTPError as exc:
        return {"status": "down", "url": settings.SERVING_URL, "error": str(exc).splitlines()[0][:200]}
    if response.status_code != 200:
        return {"status": "down", "url": settings.SERVING_URL, "error": f"HTTP {response.status_code}"}
    return {"status": "ok", "url": settings.SERVING_URL,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_server_command(*, port: int, base_model: str | None = None,
                            adapter_dir: Path | None = None) -> list[str]:
    """``python -m serving`` as docsbot starts it (demo, ask, tests): its largest LoRA rank is the one
    training validates against (DOCSBOT_MAX_LORA_RANK), so an adapter that trains also serves."""

    return [sys.executable, "-m", "serving", "--base-model", base_model or base_model_path(),
            "--adapter-dir", str(adapter_dir or settings.ADAPTER_DIR), "--port", str(port),
            "--max-lora-rank", str(settings.MAX_LORA_RANK)]


def embedded_server_env() -> dict[str, str]:
    """The environment that gives the embedded server docsbot's serving key (VLLM_API_KEY, as vLLM
    reads it: not on the command line, where any local user could read it)."""
    return {"VLLM_API_KEY": settings.SERVING_API_KEY} if settings.SERVING_API_KEY else {}


@contextlib.contextmanager
def embedded_server(*, base_model: str | None = None, adapter_dir: Path | None = None,
                    startup_timeout: float = 180.0) -> Iterator[str]:
    """Run ``python -m serving`` on a free port for the duration; yields its base URL."""
    port = _free_port()
    adapter_dir = Path(adapter_dir or settings.ADAPTER_DIR)
    adapter_dir.mkdir(parents=True, exist_ok=True)
    command = embedded_server_command(port=port, base_model=base_model, adapter_dir=adapter_dir)
    log_path = Path(settings.DATA_DIR) / "logs" / "embedded-serving.log"  # one file, not one per run
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed below
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"} | embedded_server_env()
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        client = ServingClient(url, timeout=5)
        deadline = time.monotonic() + startup_timeout
        while not client.health():
            if process.poll() is not None:
                raise ServingError(f"the serving process exited with {process.returncode}; see {log_file.name}")
            if time.monotonic() > deadline:
                raise ServingError(f"the serving process did not start in {startup_timeout:.0f}s; see {log_file.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
