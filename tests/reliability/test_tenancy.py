"""Tenancy: team A's canary never reaches team B, through any door; A's ids answer 404/403 to B.

Team A ("alpha") owns a canary in a document, a QA pair, an adapter version (manifest and
metrics), a training job and a conversation. Team B ("bravo") asks for it, searches for it and
guesses A's ids with its API token, its widget key, a Slack webhook signed with its own secret
and the management commands run with ``--team bravo``.
"""
from __future__ import annotations

import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.chat.generate import answer_question
from docsbot.chat.models import Message
from docsbot.chat.slack import slack_installation_set
from docsbot.chat.slack_signature import slack_signature
from docsbot.documents import search
from docsbot.documents.models import Document, IngestRun
from docsbot.qa.models import GenerationRun, QAPair
from docsbot.teams.models import Team
from docsbot.teams.services import api_token_create, team_create, widget_key_create
from tests.conftest import TeamClient
from tests.reliability.conftest import FIXTURE_DOCS, ingest

CANARY = "ZQX-CANARY-" + secrets.token_hex(6).upper()
SECRET_QUESTION = "What is the vault access code for the staging cluster?"
ORIGIN = "https://bravo-docs.example.com"


@dataclass(frozen=True)
class Planted:
    data_dir: Path
    ids: dict


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker, serving_url, tmp_path_factory) -> Iterator[Planted]:
    """Both teams, with team A's canary planted everywhere it keeps data, once for the module.

    The rows live in a transaction rolled back when the module ends; each test runs in a savepoint
    inside it (pytest-django's ``db``), so what a test writes is undone before the next one."""
    root = tmp_path_factory.mktemp("tenancy")
    data_dir = root / "data"
    data_dir.mkdir()
    with django_db_blocker.unblock(), override_settings(
            DATA_DIR=data_dir, ADAPTER_DIR=data_dir / "adapters", SERVING_URL=serving_url, CHAT_MAX_TOKENS=12,
            CHAT_RATE_LIMIT_PER_MINUTE=100_000), transaction.atomic():
        search._cache.clear()
        alpha, bravo = team_create(slug="alpha", name="Alpha"), team_create(slug="bravo", name="Bravo")
        ids = _plant_canary(alpha, root)
        ingest(bravo, FIXTURE_DOCS)
        yield Planted(data_dir=data_dir, ids=ids)
        transaction.set_rollback(True)
    search._cache.clear()


def _plant_canary(team, root: Path) -> dict:
    secret_doc = root / "alpha-docs" / "vault.md"
    secret_doc.parent.mkdir()
    secret_doc.write_text(f"# Vault access code {CANARY}\n\nThe vault access code for the staging cluster is "
                          f"{CANARY}. Keep the vault access code {CANARY} secret.\n")
    ingest(team, secret_doc.parent)
    document = Document.objects.get(team=team, source_path="vault.md")
    pair = QAPair.objects.create(team=team, document=document, question=f"What is the code {CANARY}?",
                                 answer=f"The code is {CANARY}.", generator="structural",
                                 status=QAPair.Status.APPROVED)
    run = GenerationRun.objects.create(team=team, summary={"note": CANARY})
    adapter_dir = root / "alpha-adapter"
    adapter_dir.mkdir()
    (adapter_dir / "docsbot.json").write_text(json.dumps({"note": CANARY}))
    job = TrainingJob.objects.create(team=team, base_model="tiny", error=f"failed near {CANARY}",
                                     hyperparameters={"note": CANARY})
    version = AdapterVersion.objects.create(team=team, job=job, number=1, path=str(adapter_dir), method="lora",
                                            rank=4, base_model="tiny", status=AdapterVersion.Status.PROMOTED,
                                            metrics={"note": CANARY}, pair_ids=[pair.pk])
    answer = answer_question(team=team, question=f"Is {CANARY} the vault access code?")
    return {"document": document.pk, "pair": pair.pk, "qa_run": run.pk, "job": job.pk, "version": version.pk,
            "ingest_run": IngestRun.objects.filter(team=team).latest("pk").pk, "message": answer.message_id,
            "conversation": answer.conversation_id, "adapter": "team-alpha"}


@pytest.fixture(autouse=True)
def _planted_settings(_isolated, settings, planted: Planted, serving) -> None:
    settings.DATA_DIR = planted.data_dir
    settings.ADAPTER_DIR = planted.data_dir / "adapters"


@pytest.fixture
def team(db, planted: Planted) -> Team:
    """Team A (overrides the shared fixture: the planted team, not a fresh one)."""
    return Team.objects.get(slug="alpha")


@pytest.fixture
def alpha(team, planted: Planted) -> dict:
    return dict(planted.ids)


@pytest.fixture
def bravo(db, planted: Planted) -> Team:
    return Team.objects.get(slug="bravo")


@pytest.fixture
def bravo_api(bravo) -> TeamClient:
    return TeamClient(bravo, api_token_create(team=bravo).token)


def _clean(response) -> str:
    if response.streaming and not response.is_async:
        body = b"".join(response.streaming_content)
    elif response.streaming:
        async def collect() -> bytes:
            return b"".join([part async for part in response.streaming_content])

        body = async_to_sync(collect)()
    else:
        body = response.content
    text = body.decode(errors="replace")
    assert CANARY not in text, f"canary leaked through {response.request.get('PATH_INFO')}: {text[:500]}"
    return text


def _id_for(name: str, alpha: dict) -> list[int]:
    return {"document_id": [alpha["document"]], "job_id": [alpha["job"]], "message_id": [alpha["message"]],
            "run_id": [alpha["ingest_run"], alpha["qa_run"]], "pair_id": [alpha["pair"]],
            "version_id": [alpha["version"]], "number": [1]}.get(name, [alpha["document"]])


def test_it_keeps_the_canary_from_every_api_route_of_team_b(alpha, bravo_api):
    """Every route in the OpenAPI schema, called by B with A's ids and the canary as the query."""
    schema = Client().get("/api/v1/openapi.json").json()
    called = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = re.findall(r"{(\w+)}", path)
            for name in names or ["-"]:
                for object_id in _id_for(name, alpha):
                    url = re.sub(r"{\w+}", str(object_id), path)
                    query = {p["name"]: CANARY for p in operation.get("parameters", [])
                             if p.get("in") == "query" and p.get("required")}
                    if method == "get":
                        response = bravo_api.get(url, data=query)
                    elif method == "delete":
                        response = bravo_api.delete(url)
                    elif method == "post" and names:
                        response = bravo_api.post(url, {})
                    else:
                        continue
                    called += 1
                    _clean(response)
                    if names:
                        assert response.status_code in (403, 404, 405, 422), (method, url, response.status_code)
    assert called >= 8
    # A's objects are all still there: B's DELETE and POST calls changed nothing.
    assert Document.objects.filter(pk=alpha["document"]).exists()
    assert TrainingJob.objects.get(pk=alpha["job"]).cancel_requested is False


def test_it_keeps_the_canary_from_team_b_chat_search_and_exports(alpha, team, bravo_api):
    # The canary is there to leak: A's own search finds it.
    own = TeamClient(team, api_token_create(team=team).token).get("/api/v1/search", data={"q": CANARY, "k": 5})
    assert CANARY in own.content.decode()
    for query in (CANARY, "vault access code", "staging cluster"):
        hits = bravo_api.get("/api/v1/search", data={"q": query, "k": 50})
        assert hits.status_code == 200
        _clean(hits)
    asked = bravo_api.post("/api/v1/chat", {"question": SECRET_QUESTION, "stream": False})
    assert asked.status_code == 200
    _clean(asked)
    streamed = bravo_api.post("/api/v1/chat", {"question": SECRET_QUESTION})
    _clean(streamed)
    # A's conversation and message ids are unknown to B.
    foreign = bravo_api.post("/api/v1/chat", {"question": "and then?", "conversation_id": alpha["conversation"],
                                              "stream": False})
    assert foreign.status_code == 404
    _clean(foreign)
    assert bravo_api.post(f"/api/v1/chat/messages/{alpha['message']}/feedback", {"rating": "down"}).status_code == 404
    for path in ("/api/v1/qa/export", "/api/v1/qa/export?context=true", "/api/v1/qa/pairs",
                 "/api/v1/adapter-versions", "/api/v1/training-jobs", "/api/v1/documents"):
        response = bravo_api.get(path)
        assert response.status_code == 200, path
        _clean(response)


def test_it_keeps_the_canary_from_team_b_widget_key(alpha, bravo):
    key = widget_key_create(team=bravo, allowed_origins=[ORIGIN]).key
    client = Client()

    def post(path: str, body: dict):
        return client.post(f"{path}?key={key}", data=json.dumps(body), content_type="application/json",
                           HTTP_ORIGIN=ORIGIN)

    _clean(post("/api/v1/chat", {"question": SECRET_QUESTION, "stream": False}))
    foreign = post("/api/v1/chat", {"question": "more", "conversation_id": alpha["conversation"], "stream": False})
    assert foreign.status_code == 404
    feedback = post(f"/api/v1/chat/messages/{alpha['message']}/feedback",
                    {"rating": "up", "conversation_id": alpha["conversation"]})
    assert feedback.status_code == 404
    # B's widget key opens no REST route of A's (nor of B's): it is only for chat.
    assert client.get(f"/api/v1/documents/{alpha['document']}?key={key}", HTTP_ORIGIN=ORIGIN).status_code in (401, 404, 405)
    assert client.get(f"/api/v1/search?q={CANARY}&key={key}", HTTP_ORIGIN=ORIGIN).status_code == 401


def test_it_keeps_the_canary_from_team_b_slack_webhook(alpha, bravo, team, slack_api):
    from docsbot.celery import app

    slack_installation_set(team=bravo, bot_token="xoxb-bravo", bot_user_id="UBOT")
    slack_installation_set(team=team, bot_token="xoxb-alpha", bot_user_id="UBOT")
    body = json.dumps({"type": "event_callback", "event_id": "EvTenancy1", "event": {
        "type": "app_mention", "user": "U1", "text": f"<@UBOT> {SECRET_QUESTION}", "ts": "1700000000.1",
        "channel": "C1"}}).encode()
    stamp = str(int(time.time()))

    def signed(slug: str, secret: str):
        return Client().post(f"/slack/{slug}/events", data=body, content_type="application/json",
                             HTTP_X_SLACK_REQUEST_TIMESTAMP=stamp,
                             HTTP_X_SLACK_SIGNATURE=slack_signature(signing_secret=secret, timestamp=stamp, body=body))

    # B's secret does not open A's endpoint.
    assert signed("alpha", bravo.slack_signing_secret).status_code == 401
    app.conf.task_always_eager = True  # the task runs here; its post goes to the Slack stand-in
    try:
        response = signed("bravo", bravo.slack_signing_secret)
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert len(slack_api.received) == 1
    assert CANARY not in json.dumps(slack_api.received)
    assert not Message.objects.filter(team=bravo, content__contains=CANARY).exists()
    outgoing = Client().post(f"/webhooks/{bravo.slug}/outgoing", {"token": bravo.webhook_token,
                                                                 "text": SECRET_QUESTION})
    assert outgoing.status_code == 200
    _clean(outgoing)


def _command(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except (CommandError, SystemExit) as exc:
        err.write(str(exc))
    return out.getvalue() + err.getvalue()


def test_it_keeps_the_canary_from_team_b_commands(alpha, bravo):
    outputs = [
        _command("ask", "--team", "bravo", SECRET_QUESTION, "--json"),
        _command("ask", "--team", "bravo", f"What does {CANARY} unlock?"),
        _command("search", "--team", "bravo", CANARY, "--json", "--k", "50"),
        _command("search", "--team", "bravo", "vault access code", "--json", "--k", "50"),
        _command("export_adapter", "--team", "bravo", "--version", "1"),
        _command("promote", "--team", "bravo", "--version", "1"),
        _command("rollback", "--team", "bravo"),
    ]
    for output in outputs[1:]:
        # the second question's own echo aside, nothing of A's comes back
        assert CANARY not in output.replace(f"What does {CANARY} unlock?", ""), output[:500]
    assert CANARY not in outputs[0]
    assert AdapterVersion.objects.get(pk=alpha["version"]).status == AdapterVersion.Status.PROMOTED


def test_it_ignores_team_a_adapter_name_anywhere_in_team_b_requests(alpha, bravo, bravo_api):
    key = widget_key_create(team=bravo, allowed_origins=[ORIGIN]).key
    adapter = alpha["adapter"]
    attempts = [
        bravo_api.post(f"/api/v1/chat?model={adapter}&adapter={adapter}&team=alpha",
                       {"question": "How do I deploy?", "stream": False, "model": adapter, "adapter": adapter,
                        "team": "alpha", "lora_name": adapter}, HTTP_X_MODEL=adapter),
        bravo_api.post(f"/api/v1/chat?model={adapter}", {"question": "How do I install it?", "model": adapter}),
        Client().post(f"/api/v1/chat?key={key}&model={adapter}", data=json.dumps(
            {"question": "How do I configure logging?", "model": adapter, "stream": False}),
            content_type="application/json", HTTP_ORIGIN=ORIGIN),
    ]
    for response in attempts:
        assert response.status_code == 200
        _clean(response)
    questions = Message.objects.filter(team=bravo, role=Message.Role.USER)
    replies = Message.objects.filter(team=bravo, role=Message.Role.ASSISTANT, no_relevant_docs=False)
    assert questions.count() == 3 and replies.count() >= 1
    for reply in replies:
        assert reply.model_name != adapter and not reply.model_name.startswith("team-")
        assert reply.adapter_version is None and not reply.failed
    # A still answers with its own adapter name: the difference is the team, not the request.
    assert Message.objects.get(pk=alpha["message"]).model_name in ("", adapter)
