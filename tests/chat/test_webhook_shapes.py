"""Webhook bodies of an unexpected JSON shape: a clear 400 or an ignored event, never a 500."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from docsbot.chat.models import Message
from docsbot.chat.slack import slack_installation_set
from tests.chat.test_slack import signed_post


@pytest.fixture
def slack_team(team):
    team.slack_signing_secret = "s" * 32
    team.webhook_token = "hook-token"
    team.save()
    slack_installation_set(team=team, bot_token="xoxb-test", bot_user_id="UBOT")
    return team


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[1, 2]", "\"text\"", "42", "null", "true"])
def test_it_refuses_an_outgoing_webhook_body_that_is_not_an_object(slack_team, body):
    response = Client(raise_request_exception=False).post(f"/webhooks/{slack_team.slug}/outgoing", data=body,
                                                          content_type="application/json")
    assert response.status_code == 400 and "JSON object" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    [1, 2], "text", 42, None,
    {"type": "event_callback", "event_id": "Ev1", "event": ["app_mention"]},
    {"type": "event_callback", "event_id": "Ev2", "event": "app_mention"},
    {"type": "event_callback", "event_id": "Ev3",
     "event": {"type": "app_mention", "text": ["<@UBOT> hi"], "channel": "C1", "ts": "1.1"}},
    {"type": "event_callback", "event_id": "Ev4",
     "event": {"type": "app_mention", "text": {"a": 1}, "channel": 5, "ts": None, "bot_id": []}},
])
def test_it_answers_signed_slack_events_of_any_shape_without_a_500(slack_team, body):
    response = signed_post(slack_team, f"/slack/{slack_team.slug}/events", json.dumps(body).encode(),
                           "application/json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["ok"] is True and "ignored" in response.json()
    assert not Message.objects.exists()
