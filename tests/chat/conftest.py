"""Chat fixtures: a team with the fixture docs ingested, a live serving process, a Slack stand-in."""
from __future__ import annotations

import json
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"


@pytest.fixture(autouse=True)
def _isolated_data(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.CHAT_RATE_LIMIT_PER_MINUTE = 1000


@pytest.fixture(autouse=True)
def _fresh_chat_keys():
    # Team ids restart with every test database, so keys left by an earlier run would collide.
    from docsbot.chat.ratelimit import redis_client

    client = redis_client()
    for pattern in ("docsbot:once:slack:*", "docsbot:chat:rate:*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)


def ingest_docs(team, path: Path = FIXTURE_DOCS) -> None:
    call_command("ingest", "--team", team.slug, str(path), "--sync", "--json", stdout=io.StringIO())


@pytest.fixture
def docs_team(team):
    ingest_docs(team)
    return team


@pytest.fixture(scope="session")
def serving_url(tiny_base_model, tmp_path_factory):
    """A real `python -m serving` process on the tiny model, shared by the session."""
    from docsbot.core.serving import embedded_server

    with embedded_server(base_model=str(tiny_base_model), adapter_dir=tmp_path_factory.mktemp("adapters")) as url:
        yield url


@pytest.fixture
def serving(settings, serving_url):
    settings.SERVING_URL = serving_url
    return serving_url


class Recorder(BaseHTTPRequestHandler):
    received: list[dict]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"path": self.path, "headers": dict(self.headers),
                                     "json": json.loads(body or b"{}")})
        payload = json.dumps({"ok": True, "ts": "1.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_api(settings):
    """A local HTTP server standing in for slack.com/api and response_url; records what it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SLACK_API_URL = f"http://127.0.0.1:{server.server_port}/api"
    yield server
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
