"""A NUL character (U+0000) in what a client sends is a clear 400, never a 500: PostgreSQL cannot
store it in a text column or take it as a query parameter, so every chat door refuses it first."""
import json

from django.test import Client

from docsbot.chat.models import Conversation, Feedback, Message
from docsbot.teams.services import widget_key_create

ORIGIN = "https://docs.example.com"
NUL = "How do I deploy?\x00 DROP"


def test_it_refuses_a_nul_in_a_chat_question_with_a_clear_400(api):
    for body in ({"question": NUL, "stream": False}, {"question": NUL},
                 {"question": "fine", "conversation_id": "abc\x00", "stream": False},
                 {"question": "fine", "metadata": {"k\x00": ["v"]}, "stream": False}):
        response = api.post("/api/v1/chat", body)
        assert response.status_code == 400, body
        assert "NUL" in response.json()["detail"]
    assert not Message.objects.exists()


def test_it_refuses_a_nul_from_the_public_widget_with_cors(team):
    key = widget_key_create(team=team, allowed_origins=[ORIGIN]).key
    client = Client()
    response = client.post(f"/api/v1/chat?key={key}", data=json.dumps({"question": NUL}),
                           content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # the widget can show why
    unknown = client.post("/api/v1/chat?key=wk_%00", data=json.dumps({"question": "hi"}),
                          content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert unknown.status_code == 401


def test_it_refuses_a_nul_in_feedback_with_a_clear_400(api, team):
    conversation = Conversation.objects.create(team=team)
    question = Message.objects.create(team=team, conversation=conversation, role="user", content="q")
    answer = Message.objects.create(team=team, conversation=conversation, role="assistant", content="a",
                                    reply_to=question)
    path = f"/api/v1/chat/messages/{answer.pk}/feedback"
    response = api.post(path, {"rating": "down", "comment": "wrong\x00"})
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert not Feedback.objects.exists()
    assert api.post(path, {"rating": "down", "comment": "wrong"}).status_code == 200


def test_it_refuses_a_nul_in_the_outgoing_webhook_with_a_clear_400(team):
    path = f"/webhooks/{team.slug}/outgoing"
    client = Client()
    form = client.post(path, {"token": team.webhook_token, "text": NUL})
    assert form.status_code == 400 and "NUL" in form.json()["detail"]
    as_json = client.post(path, data=json.dumps({"token": team.webhook_token, "text": "x",
                                                 "trigger_word": "bot\x00"}), content_type="application/json")
    assert as_json.status_code == 400
    assert client.post(path, {"token": "wrong", "text": NUL}).status_code == 401  # the token is checked first
    assert not Message.objects.exists()
