from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def docs(tmp_path) -> Path:
    """A copy of the repository's small fixture docs that a test may edit."""
    import shutil

    target = tmp_path / "docs"
    shutil.copytree(DOCS, target)
    return target


@pytest.fixture
def ingested(team, docs, data_dir):
    from docsbot.documents.services import ingest_paths

    ingest_paths(team=team, items=[str(docs)])
    return team
