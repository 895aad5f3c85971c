"""Slack webhooks under forgery and redelivery, against the real broker and a real Celery worker."""
from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connections
from django.test import Client

from docsbot.chat.models import Message
from docsbot.chat.slack import slack_installation_set
from docsbot.chat.slack_signature import slack_signature
from tests.adapters.workers import stop as stop_worker
from tests.reliability.conftest import (
    FIXTURE_DOCS,
    ingest,
    queue_pop_newest,
    queued,
    start_worker,
    unacked_tasks,
)
from tests.waiting import wait_for

TASK = "docsbot.chat.tasks.slack_answer_event"
QUESTION = "What is the capital of France?"  # off-topic: answered from the docs' fallback, no model needed


def _event(event_id: str, ts: str, text: str = QUESTION) -> bytes:
    return json.dumps({"type": "event_callback", "event_id": event_id, "event": {
        "type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "ts": ts, "channel": "C1"}}).encode()


def _post(slug: str, body: bytes, *, secret: str | None, timestamp: str | None, signature: str | None = None,
          posted_body: bytes | None = None, **headers):
    extra = dict(headers)
    if timestamp is not None:
        extra["HTTP_X_SLACK_REQUEST_TIMESTAMP"] = timestamp
    if signature is None and secret is not None and timestamp is not None:
        signature = slack_signature(signing_secret=secret, timestamp=timestamp, body=body)
    if signature is not None:
        extra["HTTP_X_SLACK_SIGNATURE"] = signature
    return Client().post(f"/slack/{slug}/events", data=posted_body if posted_body is not None else body,
                         content_type="application/json", **extra)


def test_it_refuses_forged_webhooks_with_401_and_queues_nothing(team, other_team):
    slack_installation_set(team=team, bot_token="xoxb-a", bot_user_id="UBOT")
    slack_installation_set(team=other_team, bot_token="xoxb-b", bot_user_id="UBOT")
    body = _event("EvForged", "1700000001.1")
    now = int(time.time())
    secret = team.slack_signing_secret
    good = slack_signature(signing_secret=secret, timestamp=str(now), body=body)
    forgeries = {
        "tampered body": {"secret": secret, "timestamp": str(now), "posted_body": body.replace(b"France", b"Spain")},
        "missing signature": {"secret": None, "timestamp": str(now)},
        "missing timestamp": {"secret": None, "timestamp": None, "signature": good},
        "malformed signature": {"secret": None, "timestamp": str(now), "signature": "v0=zz" + good[5:-2]},
        "signature without v0": {"secret": None, "timestamp": str(now), "signature": good[3:]},
        "non-numeric timestamp": {"secret": secret, "timestamp": "soon"},
        # Outside Slack's 5-minute window with room for a busy machine's delay before the server reads its clock
        # (301 s ahead was accepted once: the truncated second and the request's latency ate the 1 s margin).
        "timestamp 330 s old": {"secret": secret, "timestamp": -330},
        "timestamp 330 s ahead": {"secret": secret, "timestamp": +330},
        "the other team's secret": {"secret": other_team.slack_signing_secret, "timestamp": str(now)},
    }
    before = queued("chat")
    for name, forgery in forgeries.items():
        if isinstance(forgery["timestamp"], int):  # a skew, taken from the clock right before sending
            forgery["timestamp"] = str(int(time.time()) + forgery["timestamp"])
        response = _post(team.slug, body, **forgery)
        assert response.status_code == 401, name
        assert "Traceback" not in response.content.decode()
    # A's secret on B's endpoint, and a correctly signed body on an unknown team's endpoint.
    assert _post(other_team.slug, body, secret=secret, timestamp=str(now)).status_code == 401
    assert _post("nobody", body, secret=secret, timestamp=str(now)).status_code == 401
    assert queued("chat") == before
    assert not Message.objects.exists()
    # The same body, correctly signed, is accepted: the refusals above were the forgeries.
    assert _post(team.slug, body, secret=secret, timestamp=str(now)).json() == {"ok": True}
    assert queued("chat") == before + 1
    # Taken off again: it is this event's task, and no later worker gets a team its database never had.
    accepted = queue_pop_newest("chat")
    assert accepted["task"] == TASK and accepted["argsrepr"].startswith(f"({team.pk}, 'C1', '1700000001.1'")
    assert queued("chat") == before


@pytest.mark.slow
def test_it_answers_an_event_once_however_often_and_concurrently_it_arrives(transactional_db, team, slack_api):
    # Started first, with its libraries imported before it consumes, so its boot overlaps the
    # ingestion here; deliveries may then meet a running worker, as in production.
    worker = start_worker(queues="chat", preload=("sentence_transformers",),
                          env={"DOCSBOT_SLACK_API_URL": str(slack_api_url(slack_api)),
                               "DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        ingest(team, FIXTURE_DOCS)
        slack_installation_set(team=team, bot_token="xoxb-a", bot_user_id="UBOT")
        statuses = _deliver_duplicates(team)
        assert all(s["status"] == 200 for s in statuses)
        assert sum(1 for s in statuses if s.get("duplicate")) == 3
        assert sum(1 for s in statuses if s == {"status": 200, "ok": True}) == 2

        wait_for(lambda: len(slack_api.received) >= 2, "two answers posted", seconds=120, process=worker,
                 describe=stop_worker)
        # Every answer task has run (none waiting, none taken and unacknowledged): any duplicate is posted.
        wait_for(lambda: queued("chat") == 0 and unacked_tasks(TASK) == 0, "the queue drained", seconds=30,
                 process=worker, describe=stop_worker)
    finally:
        log = stop_worker(worker)
    threads_posted = sorted(post["json"]["thread_ts"] for post in slack_api.received)
    assert threads_posted == ["1700000002.1", "1700000003.1"], log
    assert Message.objects.filter(team=team, role="user").count() == 2
    assert Message.objects.filter(team=team, role="assistant").count() == 2


def _deliver_duplicates(team) -> list[dict]:
    """Three deliveries of one event at once (the original and two retries), then a late fourth;
    and a retry (num 2) of another event whose original never arrived."""
    secret = team.slack_signing_secret
    statuses: list[dict] = []
    lock = threading.Lock()

    def deliver(event_id: str, ts: str, retry: int) -> None:
        try:
            headers = {"HTTP_X_SLACK_RETRY_NUM": str(retry), "HTTP_X_SLACK_RETRY_REASON": "http_timeout"} \
                if retry else {}
            response = _post(team.slug, _event(event_id, ts), secret=secret, timestamp=str(int(time.time())),
                             **headers)
            with lock:
                statuses.append({"status": response.status_code, **response.json()})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=("EvDup", "1700000002.1", retry)) for retry in (0, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliver("EvDup", "1700000002.1", 3)
    deliver("EvLost", "1700000003.1", 2)
    return statuses


def slack_api_url(server) -> str:
    return f"http://127.0.0.1:{server.server_port}/api"
