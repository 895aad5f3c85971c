"""Chat budgets per channel and per client (issue 16, item 8): a widget abuser cannot starve the API,
Slack or the webhook, and a Slack question refused by its budget is told so and asked again on retry."""
import json
import time
from types import SimpleNamespace

import pytest
from django.test import Client

from docsbot.chat import slack, webhooks
from docsbot.chat.slack import slack_installation_set
from docsbot.chat.slack_signature import slack_signature
from docsbot.teams.services import api_token_create, widget_key_create
from tests.conftest import TeamClient

OFF_TOPIC = "What is the capital of France?"
ORIGIN = "https://docs.example.com"


@pytest.fixture(autouse=True)
def _one_window(monkeypatch):
    """Every question of a test in one budget window, however slowly a busy machine runs it (a minute
    passing mid-test would otherwise open a fresh window and the expected refusals would not come)."""
    from docsbot.chat import ratelimit

    start = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: start))


def widget_post(key: str, address: str):
    return Client().post(f"/api/v1/chat?key={key}", data=json.dumps({"question": OFF_TOPIC, "stream": False}),
                         content_type="application/json", HTTP_ORIGIN=ORIGIN, REMOTE_ADDR=address)


def slack_event(team, event_id: str):
    body = json.dumps({"type": "event_callback", "event_id": event_id,
                       "event": {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {OFF_TOPIC}",
                                 "ts": f"1700000000.{event_id[-4:]}", "channel": "C1"}}).encode()
    stamp = str(int(time.time()))
    signature = slack_signature(signing_secret=team.slack_signing_secret, timestamp=stamp, body=body)
    return Client().post(f"/slack/{team.slug}/events", data=body, content_type="application/json",
                         HTTP_X_SLACK_REQUEST_TIMESTAMP=stamp, HTTP_X_SLACK_SIGNATURE=signature)


def queued_answers(monkeypatch) -> list[tuple]:
    """Slack answers queued by the events endpoint (recorded, not run); refusals are posted at once."""
    answers: list[tuple] = []
    monkeypatch.setattr(webhooks.tasks, "slack_answer_event", SimpleNamespace(delay=lambda *a: answers.append(a)))
    monkeypatch.setattr(webhooks.tasks, "slack_refuse_event", SimpleNamespace(
        delay=lambda team_id, channel, thread_ts, retry_after: slack.slack_refuse_event(
            team_id=team_id, channel=channel, thread_ts=thread_ts, retry_after=retry_after)), raising=False)
    return answers


def test_it_gives_each_channel_and_widget_client_its_own_budget(docs_team, settings, monkeypatch, slack_api):
    settings.CHAT_RATE_LIMIT_PER_MINUTE = 3
    settings.CHAT_WIDGET_CLIENT_RATE_LIMIT_PER_MINUTE = 2
    key = widget_key_create(team=docs_team, allowed_origins=[ORIGIN]).key
    # One client gets its own share of the widget key, and no more.
    assert [widget_post(key, "203.0.113.7").status_code for _ in range(3)] == [200, 200, 429]
    refused = widget_post(key, "203.0.113.7")
    assert refused.status_code == 429 and "one client of this widget may ask 2 per minute" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 61 and refused["Access-Control-Allow-Origin"] == ORIGIN
    # Other clients share what is left of the key's budget.
    assert widget_post(key, "2001:db8::1").status_code == 200
    assert widget_post(key, "198.51.100.2").status_code == 429
    assert "this widget may ask 3 per minute" in widget_post(key, "198.51.100.3").json()["detail"]
    # The widget spent its whole budget: the API, Slack and the webhook still have theirs.
    api = TeamClient(docs_team, api_token_create(team=docs_team).token)
    assert api.post("/api/v1/chat", {"question": OFF_TOPIC, "stream": False}).status_code == 200
    slack_installation_set(team=docs_team, bot_token="xoxb-test", bot_user_id="UBOT")
    answers = queued_answers(monkeypatch)
    assert slack_event(docs_team, "Ev0001").json() == {"ok": True} and len(answers) == 1
    webhook = Client().post(f"/webhooks/{docs_team.slug}/outgoing",
                            {"token": docs_team.webhook_token, "text": OFF_TOPIC})
    assert webhook.status_code == 200
    # The API's budget is per token: one token spent leaves the team's other tokens theirs.
    for _ in range(2):
        assert api.post("/api/v1/chat", {"question": OFF_TOPIC, "stream": False}).status_code == 200
    spent = api.post("/api/v1/chat", {"question": OFF_TOPIC, "stream": False})
    assert spent.status_code == 429 and "this API token may ask 3 per minute" in spent.json()["detail"]
    other = TeamClient(docs_team, api_token_create(team=docs_team).token)
    assert other.post("/api/v1/chat", {"question": OFF_TOPIC, "stream": False}).status_code == 200


def test_it_tells_a_refused_slack_question_so_and_answers_its_retry(docs_team, settings, monkeypatch, slack_api):
    settings.CHAT_SLACK_RATE_LIMIT_PER_MINUTE = 1
    slack_installation_set(team=docs_team, bot_token="xoxb-test", bot_user_id="UBOT")
    answers = queued_answers(monkeypatch)
    assert slack_event(docs_team, "Ev0001").json() == {"ok": True} and len(answers) == 1
    refused = slack_event(docs_team, "Ev0002")
    assert refused.status_code == 200 and refused.json()["rate_limited"] is True
    assert len(answers) == 1
    # The asker is told, in the question's thread.
    (posted,) = slack_api.received
    assert posted["path"].endswith("/chat.postMessage")
    assert posted["json"]["thread_ts"] == "1700000000.0002" and posted["json"]["channel"] == "C1"
    assert "Too many questions" in posted["json"]["text"]
    # Slack's retry of the refused event is refused again while the budget is spent, not told twice ...
    assert slack_event(docs_team, "Ev0002").json()["rate_limited"] is True
    assert len(slack_api.received) == 1
    # ... and, once there is budget again, answered: it was never taken for a duplicate.
    settings.CHAT_SLACK_RATE_LIMIT_PER_MINUTE = 10
    assert slack_event(docs_team, "Ev0002").json() == {"ok": True}
    assert [a[2] for a in answers] == ["1700000000.0001", "1700000000.0002"]
    # An event answered once is a duplicate after that.
    assert slack_event(docs_team, "Ev0002").json()["duplicate"] is True
