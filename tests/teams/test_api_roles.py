"""API token roles (read / write / admin) and per-token rate limits on search, upload, import and training."""
from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from docsbot.documents.models import Document
from docsbot.teams.models import ApiToken
from docsbot.teams.services import api_token_create, hash_token
from tests.conftest import TeamClient


@pytest.fixture
def light(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BASE_MODEL = "tiny-base"
    settings.API_RATE_WINDOW_SECONDS = 3600
    return settings


def _client(team, role: str) -> TeamClient:
    return TeamClient(team, api_token_create(team=team, role=role).token)


def _jsonl() -> SimpleUploadedFile:
    line = {"messages": [{"role": "user", "content": "How do I deploy?"},
                         {"role": "assistant", "content": "Run the deploy command."}]}
    return SimpleUploadedFile("pairs.jsonl", json.dumps(line).encode() + b"\n")


@pytest.mark.django_db
def test_it_lets_a_read_token_read_but_not_change_anything(team, light, django_capture_on_commit_callbacks):
    document = Document.objects.create(team=team, source_path="guide.md", status="indexed")
    reader = _client(team, "read")
    assert reader.get("/api/v1/documents").status_code == 200
    assert reader.get("/api/v1/search", data={"q": "deploy"}).status_code == 200
    assert reader.get("/api/v1/qa/export").status_code == 200
    refused = [
        reader.delete(f"/api/v1/documents/{document.pk}"),
        reader.post("/api/v1/qa/import", data={"file": _jsonl()}, multipart=True),
        reader.post("/api/v1/training-jobs", {"hyperparameters": {}}),
        reader.post("/api/v1/documents", data={"files": [SimpleUploadedFile("a.md", b"# A\n")]}, multipart=True),
        reader.post("/api/v1/qa/generate", {}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "role is 'read'" in refused[0].json()["detail"]
    assert Document.objects.filter(pk=document.pk).exists() and not team.training_jobs.exists()
    with django_capture_on_commit_callbacks(execute=False):
        writer = _client(team, "write")
        assert writer.post("/api/v1/training-jobs", {"hyperparameters": {}}).status_code == 201
        assert writer.delete(f"/api/v1/documents/{document.pk}").status_code == 204


@pytest.mark.django_db
def test_it_keeps_full_access_for_tokens_issued_before_roles(team, light):
    token = "dbt_" + "x" * 40
    ApiToken.objects.create(team=team, prefix=token[:12], token_hash=hash_token(token))  # as the migration left them
    document = Document.objects.create(team=team, source_path="guide.md", status="indexed")
    assert ApiToken.objects.get(team=team).role == "admin"
    assert TeamClient(team, token).delete(f"/api/v1/documents/{document.pk}").status_code == 204


def _search(api):
    return api.get("/api/v1/search", data={"q": "deploy"})


def _upload(api):
    return api.post("/api/v1/documents", data={"files": [SimpleUploadedFile("a.exe", b"MZ")]}, multipart=True)


def _import(api):
    return api.post("/api/v1/qa/import", data={"file": SimpleUploadedFile("p.jsonl", b"{}\n")}, multipart=True)


def _train(api):
    return api.post("/api/v1/training-jobs", {"hyperparameters": {"rank": 0}})


@pytest.mark.django_db
@pytest.mark.parametrize(("bucket", "send"), [("search", _search), ("upload", _upload), ("import", _import),
                                              ("training", _train)])
def test_it_rate_limits_each_token_with_a_429(team, light, bucket, send):
    light.API_RATE_LIMITS = {**light.API_RATE_LIMITS, bucket: 2}
    api, other = _client(team, "write"), _client(team, "write")
    statuses = [send(api).status_code for _ in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429, statuses
    limited = send(api)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert f"at most 2 {bucket} requests" in limited.json()["detail"]
    assert send(other).status_code != 429  # the budget is per token


def test_it_issues_tokens_with_a_role_from_the_cli(team):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("createtoken", team=team.slug, role="read", stdout=out)
    assert ApiToken.objects.get(token_hash=hash_token(out.getvalue().strip())).role == "read"
