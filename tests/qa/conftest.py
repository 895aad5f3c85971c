"""Shared, expensive state for tests/qa: the fixture docs are ingested (embedded) once, and
generated once, per package run. Each test still runs in its own rolled-back transaction, so
what a test writes is gone afterwards; the package-scoped teams are deleted when tests/qa ends,
before other test directories run."""
import shutil
from pathlib import Path

import pytest
from django.test import override_settings

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


@pytest.fixture(scope="package")
def qa_data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qa-data")


@pytest.fixture(scope="package")
def docs(tmp_path_factory) -> Path:
    """A copy of the repository's small fixture docs; a test that edits a file restores it."""
    target = tmp_path_factory.mktemp("qa-docs") / "docs"
    shutil.copytree(DOCS, target)
    return target


@pytest.fixture(scope="package")
def _qa_teams(django_db_setup, django_db_blocker, qa_data_dir, docs):
    """Two teams with the fixture docs ingested: one without pairs, one with a first generation run."""
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    with django_db_blocker.unblock(), override_settings(DATA_DIR=qa_data_dir):
        plain = team_create(slug="qa-ingested", name="QA ingested")
        ingest_paths(team=plain, items=[str(docs)])
        generated = team_create(slug="qa-generated", name="QA generated")
        ingest_paths(team=generated, items=[str(docs)])
        report = qa_generate(team=generated)
    yield {"ingested": plain, "generated": generated, "report": report}
    with django_db_blocker.unblock():
        Team.objects.filter(pk__in=[plain.pk, generated.pk]).delete()


@pytest.fixture
def data_dir(settings, qa_data_dir):
    settings.DATA_DIR = qa_data_dir
    return qa_data_dir


@pytest.fixture
def ingested(db, _qa_teams, data_dir):
    return _qa_teams["ingested"]


@pytest.fixture
def generated(db, _qa_teams, data_dir):
    return _qa_teams["generated"]


@pytest.fixture
def first_report(_qa_teams):
    """The report of the generated team's first run."""
    return _qa_teams["report"]


@pytest.fixture
def api_for(db):
    """An API client with a fresh token for the given team."""
    from docsbot.teams.services import api_token_create
    from tests.conftest import TeamClient

    return lambda team: TeamClient(team, api_token_create(team=team).token)
