from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_it_creates_a_team_and_a_working_token(db, client):
    assert "created team docs" in _run("createteam", "docs", "--name", "Docs")
    token = _run("createtoken", "--team", "docs")
    response = client.get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["slug"] == "docs"


def test_it_refuses_a_duplicate_or_bad_slug(db):
    _run("createteam", "docs")
    with pytest.raises(CommandError, match="already exists"):
        _run("createteam", "docs")
    with pytest.raises(CommandError, match="slug"):
        _run("createteam", "Not A Slug")


def test_it_refuses_a_token_for_an_unknown_team(db):
    with pytest.raises(CommandError, match="no team 'nope'"):
        _run("createtoken", "--team", "nope")
