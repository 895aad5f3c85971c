"""Shared fixtures: teams with tokens, an API client, and a tiny local base model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
pytest_plugins = ["tests.browser"]  # the browser and browser_page fixtures


@pytest.fixture(autouse=True)
def _answer_support_check_off_for_the_tiny_model(request, settings):
    """The tiny random-init model writes no text its documents hold, so chat's answer-support check
    (docsbot.chat.support) would withhold its every answer. Tests marked ``support_check`` and those on
    the real model keep the check on."""
    if not {"support_check", "real_model"} & set(request.keywords):
        settings.CHAT_MIN_SUPPORT = 0.0


@pytest.fixture
def team(db):
    from docsbot.teams.services import team_create

    return team_create(slug="alpha", name="Alpha")


@pytest.fixture
def other_team(db):
    from docsbot.teams.services import team_create

    return team_create(slug="bravo", name="Bravo")


class TeamClient:
    """A Django test client that sends one team's token on every request."""

    def __init__(self, team, token: str):
        from django.test import Client

        self.team = team
        self.token = token
        self._client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def get(self, path: str, **kwargs):
        return self._client.get(path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        if data is not None and "content_type" not in kwargs and not kwargs.pop("multipart", False):
            return self._client.post(path, data=json.dumps(data), content_type="application/json", **kwargs)
        return self._client.post(path, data=data, **kwargs)

    def delete(self, path: str, **kwargs):
        return self._client.delete(path, **kwargs)


@pytest.fixture
def api(team) -> TeamClient:
    from docsbot.teams.services import api_token_create

    return TeamClient(team, api_token_create(team=team).token)


@pytest.fixture
def other_api(other_team) -> TeamClient:
    from docsbot.teams.services import api_token_create

    return TeamClient(other_team, api_token_create(team=other_team).token)


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """A random-init Llama-shaped model with a tokenizer trained on the fixture docs."""
    from training.base_model import build_base_model

    return build_base_model(tmp_path_factory.mktemp("base") / "tiny-test", [FIXTURES / "docs"],
                            size="test", pretrain_steps=0)


@pytest.fixture(scope="session")
def smollm2_base_model(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct converted from the packaged GGUF, once per test run (~30 s)."""
    from training.packaged_model import MODEL_DIRNAME, convert

    target = tmp_path_factory.mktemp("smollm2") / MODEL_DIRNAME
    convert(target)
    return target


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
