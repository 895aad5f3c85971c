"""Reliability fixtures: isolated data, a real serving process, a Slack stand-in, worker helpers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.adapters.workers import database_url
from tests.slack_api_server import slack_api_server

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    from docsbot.documents import search

    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.ADAPTER_DIR = settings.DATA_DIR / "adapters"
    settings.CHAT_RATE_LIMIT_PER_MINUTE = 100_000
    settings.CHAT_MAX_TOKENS = 12  # the tiny model writes noise; fewer tokens, faster tests
    search._cache.clear()
    _clear_chat_keys()
    yield settings.DATA_DIR
    search._cache.clear()


def _clear_chat_keys() -> None:
    # Team ids restart with every test database, so keys left by an earlier test would collide.
    from docsbot.chat.ratelimit import redis_client

    client = redis_client()
    for pattern in ("docsbot:once:slack:*", "docsbot:chat:rate:*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)


@pytest.fixture
def slack_api(settings):
    """A local HTTP server standing in for slack.com/api (the configurable base URL)."""
    with slack_api_server() as server:
        settings.SLACK_API_URL = server.api_url
        yield server


def ingest(team, path: Path) -> dict:
    from docsbot.documents.services import ingest_paths

    return ingest_paths(team=team, items=[str(path)], sync=False)


def broker_consumers() -> list[str]:
    """Clients blocked reading a queue on this test's Redis db: Celery workers (kombu consumes with BRPOP)."""
    from docsbot.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        db = client.connection_pool.connection_kwargs.get("db", 0)
        return [f"{c['addr']} (cmd={c['cmd']})" for c in client.client_list()
                if int(c.get("db", -1)) == db and c.get("cmd") in ("brpop", "blpop", "blmove")]


# `celery worker`, after importing the given modules (a worker pays that on its first task otherwise).
_CELERY_AFTER_IMPORTS = ("import importlib, sys\n"
                         "for name in filter(None, sys.argv[1].split(',')): importlib.import_module(name)\n"
                         "from celery.__main__ import main\n"
                         "sys.argv = ['celery', *sys.argv[2:]]\n"
                         "main()\n")


def start_worker(*, queues: str, env: dict[str, str] | None = None, pool: str = "solo",
                 extra: tuple[str, ...] = (), preload: tuple[str, ...] = ()) -> subprocess.Popen:
    from django.conf import settings

    # A stray worker on the same db would steal this test's messages and run them with other settings.
    if strays := broker_consumers():
        pytest.fail(f"another Celery worker is consuming this Redis db: {strays}; stop it or use another REDIS_URL")
    full_env = {**os.environ, "DATABASE_URL": database_url(), "DOCSBOT_DATA_DIR": str(settings.DATA_DIR),
                "DOCSBOT_ADAPTER_DIR": str(settings.ADAPTER_DIR), **(env or {})}
    full_env.pop("DOCSBOT_SERVING_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", _CELERY_AFTER_IMPORTS, ",".join(preload), "-A", "docsbot", "worker", "-Q", queues, "--pool", pool, "-c", "1",
         "-n", f"rel-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "--loglevel", "INFO", *extra],
        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def queued(queue: str = "default") -> int:
    """Messages waiting in a Celery queue on the real broker (a Redis list per queue)."""
    from docsbot.celery import app

    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(queue)


def queue_pop_newest(queue: str = "default") -> dict | None:
    """Take the newest message off a queue; its headers (task, argsrepr, ...), or None when empty."""
    from docsbot.celery import app

    with app.connection_for_write() as connection:
        raw = connection.default_channel.client.lpop(queue)  # kombu LPUSHes and consumes with BRPOP
    return json.loads(raw)["headers"] if raw else None


def unacked_tasks(task: str) -> int:
    """Messages of ``task`` a worker has taken but not acknowledged yet (acks_late: still running)."""
    from docsbot.celery import app

    with app.connection_for_write() as connection:
        values = connection.default_channel.client.hvals(connection.default_channel.unacked_key)
    return sum(1 for value in values if json.loads(value)[0]["headers"].get("task") == task)
