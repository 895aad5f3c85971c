"""Slack Events API, slash commands and outgoing webhooks, with signed fixtures and a real Celery worker."""
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import Client

from docsbot.chat import slack
from docsbot.chat import tasks as slack_tasks
from docsbot.chat.models import Message
from docsbot.chat.slack import slack_installation_set
from docsbot.chat.slack_signature import slack_signature
from tests import waiting
from tests.adapters.workers import database_url, stop
from tests.chat.conftest import ingest_docs, wait_for

ROOT = Path(__file__).resolve().parents[2]
OFF_TOPIC = "What is the capital of France?"
# Every test requests the module's worker, so that it boots while the quick tests run.
pytestmark = pytest.mark.usefixtures("celery_worker_process")


def signed_post(team, path: str, body: bytes, content_type: str, *, secret: str | None = None,
                timestamp: int | None = None, **headers):
    stamp = str(timestamp or int(time.time()))
    signature = slack_signature(signing_secret=secret or team.slack_signing_secret, timestamp=stamp, body=body)
    return Client().post(path, data=body, content_type=content_type, HTTP_X_SLACK_REQUEST_TIMESTAMP=stamp,
                         HTTP_X_SLACK_SIGNATURE=signature, **headers)


def event_body(text: str, *, event_id: str, kind: str = "app_mention", **extra) -> bytes:
    event = {"type": kind, "user": "U1", "text": text, "ts": "1700000000.000100", "channel": "C1", **extra}
    return json.dumps({"type": "event_callback", "event_id": event_id, "event": event}).encode()


def test_it_answers_url_verification_only_when_signed(team):
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    ok = signed_post(team, f"/slack/{team.slug}/events", body, "application/json")
    assert ok.status_code == 200 and ok.json() == {"challenge": "abc123"}
    forged = signed_post(team, f"/slack/{team.slug}/events", body, "application/json", secret="wrong")
    assert forged.status_code == 401 and forged.json()["detail"] == "invalid Slack signature"
    stale = signed_post(team, f"/slack/{team.slug}/events", body, "application/json",
                        timestamp=int(time.time()) - 600)
    # Signed with the team's secret: the sender is told its clock (or a replay) is the reason.
    assert stale.status_code == 401 and "s from this server's clock (at most 300 s)" in stale.json()["detail"]
    forged_stale = signed_post(team, f"/slack/{team.slug}/events", body, "application/json", secret="wrong",
                               timestamp=int(time.time()) - 600)
    assert forged_stale.json()["detail"] == "invalid Slack signature"
    assert signed_post(team, "/slack/nobody/events", body, "application/json").status_code == 401


def test_it_ignores_bot_messages_and_other_events(team):
    slack_installation_set(team=team, bot_token="xoxb-test", bot_user_id="UBOT")
    path = f"/slack/{team.slug}/events"
    for body in (event_body("hi", event_id="E1", bot_id="B1"),
                 event_body("hi", event_id="E2", user="UBOT"),
                 event_body("hi", event_id="E3", kind="message", channel_type="channel"),
                 event_body("<@UBOT>", event_id="E4")):
        response = signed_post(team, path, body, "application/json")
        assert response.status_code == 200 and "ignored" in response.json()


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, slack_server, tmp_path_factory):
    """One Celery worker for the module, on the test database and the Slack stand-in.

    The worker-backed test comes last in the module, so the boot overlaps the quick tests.
    """
    db = django_settings.DATABASES["default"]  # pytest-django has switched NAME to the test database
    if db["ENGINE"].endswith("sqlite3"):
        yield None
        return
    env = {**os.environ, "DOCSBOT_SLACK_API_URL": slack_server.api_url,
           "DOCSBOT_SLACK_RESPONSE_URL_PREFIXES": f"http://127.0.0.1:{slack_server.server_port}/",
           "DOCSBOT_DATA_DIR": str(tmp_path_factory.mktemp("worker-data")),
           "DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE": "0",
           "DATABASE_URL": database_url()}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "docsbot", "worker", "-Q", "chat", "-c", "1", "--pool", "solo",
         "-n", f"chat-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield process
    stop(process)



def test_it_answers_an_empty_slash_command_with_its_usage_under_the_commands_own_name(team):
    body = urlencode({"command": "/docs", "text": " ", "response_url": "http://127.0.0.1:1/x"}).encode()
    response = signed_post(team, f"/slack/{team.slug}/commands", body, "application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.json()["text"] == "Usage: /docs your question"


def test_a_signed_slash_command_may_only_have_its_answer_posted_to_slack(team, settings, monkeypatch):
    queued = []
    monkeypatch.setattr(slack_tasks.slack_answer_command, "delay", lambda *args: queued.append(args))
    path, form = f"/slack/{team.slug}/commands", "application/x-www-form-urlencoded"
    for elsewhere in ("http://127.0.0.1:9977/internal-admin/delete", "https://hooks.slack.com.evil.example/x",
                      "https://example.com/https://hooks.slack.com/"):
        body = urlencode({"command": "/docs", "text": "how do I upload?", "response_url": elsewhere}).encode()
        refused = signed_post(team, path, body, form)
        assert refused.status_code == 400 and "not Slack's" in refused.json()["detail"]
    with pytest.raises(slack.SlackPostError, match="not Slack's"):
        slack.slack_answer_command(team_id=team.pk, response_url="http://169.254.169.254/latest", text="hi")
    slack_url = "https://hooks.slack.com/commands/T1/123/abc"
    body = urlencode({"command": "/docs", "text": "how do I upload?", "response_url": slack_url}).encode()
    assert signed_post(team, path, body, form).status_code == 200
    assert queued == [(team.pk, slack_url, "how do I upload?")]


def test_it_rejects_unsigned_slash_commands(team):
    body = urlencode({"text": "hi", "response_url": "http://127.0.0.1:1/x"}).encode()
    assert signed_post(team, f"/slack/{team.slug}/commands", body, "application/x-www-form-urlencoded",
                       secret="nope").status_code == 401


def test_it_answers_outgoing_webhooks_with_the_team_token(team, other_team):
    ingest_docs(team)
    client = Client()
    path = f"/webhooks/{team.slug}/outgoing"
    ok = client.post(path, {"token": team.webhook_token, "text": f"docsbot {OFF_TOPIC}", "trigger_word": "docsbot",
                            "user_name": "ann"})
    assert ok.status_code == 200
    assert "does not cover" in ok.json()["text"] and "Sources:" in ok.json()["text"]
    assert "](" not in ok.json()["text"]  # the uploaded files have no web address: named, not linked to a 404
    assert Message.objects.filter(team=team, role="user", content=OFF_TOPIC, conversation__channel="webhook").exists()
    assert client.post(path, {"token": other_team.webhook_token, "text": "hi"}).status_code == 401
    assert client.post(path, {"text": "hi"}).status_code == 401


def test_it_answers_mentions_in_thread_and_slash_commands_from_a_worker(celery_worker_process, transactional_db,
                                                                         slack_api, team, monkeypatch):
    if celery_worker_process is None:
        pytest.skip("the worker process needs the shared PostgreSQL test database")
    ingest_docs(team)
    slack_installation_set(team=team, bot_token="xoxb-test", bot_user_id="UBOT")
    # Slack wants its acknowledgement within 3 s: the web process must not answer inline.
    # Answering here fails the request; the worker (another process) answers for real.
    for name in ("slack_answer_event", "slack_answer_command"):
        monkeypatch.setattr(slack, name, lambda **_: pytest.fail("answered inside the webhook request"))
    path = f"/slack/{team.slug}/events"
    first = signed_post(team, path, event_body(f"<@UBOT> {OFF_TOPIC}", event_id="Ev1"), "application/json")
    assert first.status_code == 200 and first.json() == {"ok": True}
    retry = signed_post(team, path, event_body(f"<@UBOT> {OFF_TOPIC}", event_id="Ev1"), "application/json",
                        HTTP_X_SLACK_RETRY_NUM="1", HTTP_X_SLACK_RETRY_REASON="http_timeout")
    assert retry.json() == {"ok": True, "duplicate": True}
    # A retry whose original never arrived is the first delivery seen: it is answered.
    lone_retry = signed_post(team, path, event_body("capital of Spain?", event_id="Ev2", thread_ts="1699.1"),
                             "application/json", HTTP_X_SLACK_RETRY_NUM="2")
    assert lone_retry.json() == {"ok": True}
    response_url = f"http://127.0.0.1:{slack_api.server_port}/commands/T1/123/abc"
    body = urlencode({"command": "/docsbot", "text": "What is the capital of Italy?", "user_name": "ann",
                      "response_url": response_url}).encode()
    ack = signed_post(team, f"/slack/{team.slug}/commands", body, "application/x-www-form-urlencoded")
    assert ack.status_code == 200 and ack.json()["response_type"] == "ephemeral"

    posts = wait_for(lambda: len(slack_api.received) >= 3 and slack_api.received, timeout=120)
    assert posts, celery_worker_process.stdout.read1().decode()[-3000:] if celery_worker_process.poll() else ""
    # The solo worker runs tasks in order: a duplicate enqueued after Ev1 would have posted before the command.
    assert len(slack_api.received) == 3  # one answer per event, none for the duplicate
    command = next(post for post in slack_api.received if post["path"] == "/commands/T1/123/abc")
    assert command["json"]["response_type"] == "in_channel" and "Sources:" in command["json"]["text"]
    by_thread = {post["json"]["thread_ts"]: post for post in slack_api.received if post is not command}
    mention = by_thread["1700000000.000100"]
    assert mention["path"] == "/api/chat.postMessage"
    assert mention["headers"]["Authorization"] == "Bearer xoxb-test"
    assert mention["json"]["channel"] == "C1"
    assert "does not cover" in mention["json"]["text"] and "*Sources:*" in mention["json"]["text"]
    assert "1699.1" in by_thread
    assert Message.objects.filter(team=team, role="user", content=OFF_TOPIC).count() == 1


def test_it_answers_a_replayed_slash_command_once(celery_worker_process, transactional_db, slack_api, team):
    if celery_worker_process is None:
        pytest.skip("the worker process needs the shared PostgreSQL test database")
    ingest_docs(team)
    path, form = f"/slack/{team.slug}/commands", "application/x-www-form-urlencoded"
    base = f"http://127.0.0.1:{slack_api.server_port}/commands/T1/replay"
    stamp = int(time.time())
    body = urlencode({"command": "/docsbot", "text": OFF_TOPIC, "response_url": f"{base}/1"}).encode()
    first = signed_post(team, path, body, form, timestamp=stamp)
    assert first.status_code == 200 and first.json()["text"].startswith("Looking that up")
    # The same signed bytes again, well inside Slack's five minutes: a replay, not a new question.
    replay = signed_post(team, path, body, form, timestamp=stamp)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    # A new command sent after the replay: the solo worker answers in order, so once this one is
    # answered, an answer to a queued replay would already have been posted.
    later = urlencode({"command": "/docsbot", "text": "What is the capital of Spain?",
                       "response_url": f"{base}/2"}).encode()
    assert signed_post(team, path, later, form, timestamp=stamp).json()["text"].startswith("Looking that up")
    waiting.wait_for(lambda: any(post["path"].endswith("/replay/2") for post in slack_api.received),
                     "the answer to the later command", seconds=120, process=celery_worker_process)
    assert [post["path"] for post in slack_api.received] == ["/commands/T1/replay/1", "/commands/T1/replay/2"]
