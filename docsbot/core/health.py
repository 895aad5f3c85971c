"""Component checks behind ``GET /health/detail`` (staff or an admin-role token; ``/health`` is liveness only).

Each check returns a small dict with ``status`` ("ok", "down" or "degraded") and
details; a check must answer quickly even when its component is unreachable.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

Check = Callable[[], dict[str, Any]]
REQUIRED = ("database", "broker")


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "engine": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"status": "down", "error": str(exc).splitlines()[0][:200]}


def check_broker() -> dict[str, Any]:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_CLIENT_URL, socket_timeout=1, socket_connect_timeout=1)
        started = time.perf_counter()
        client.ping()
        return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "embedded": settings.EMBEDDED_REDIS}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc).splitlines()[0][:200]}


def check_workers() -> dict[str, Any]:
    from docsbot.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=1)
            replies = app.control.inspect(timeout=1.0, connection=conn).active_queues() or {}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc).splitlines()[0][:200]}
    per_queue: dict[str, int] = {"default": 0, "chat": 0, "gpu": 0}
    for queues in replies.values():
        for queue in queues:
            per_queue[queue["name"]] = per_queue.get(queue["name"], 0) + 1
    missing = [name for name, count in per_queue.items() if count == 0]
    return {"status": "degraded" if missing else "ok", "queues": per_queue,
            **({"missing": missing} if missing else {})}


CHECKS: dict[str, Check] = {
    "database": check_database,
    "broker": check_broker,
    "workers": check_workers,
}


def register(name: str, check: Check) -> None:
    """Later components (serving, retrieval index) add their own checks."""
    CHECKS[name] = check


def health_report() -> tuple[bool, dict[str, Any]]:
    components = {name: check() for name, check in CHECKS.items()}
    healthy = all(components[name]["status"] == "ok" for name in REQUIRED if name in components)
    overall = "ok" if healthy and all(c["status"] == "ok" for c in components.values()) else (
        "degraded" if healthy else "down")
    return healthy, {"status": overall, "components": components}
