from __future__ import annotations

from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Indexes and uploads go to a per-test folder; the in-process index cache starts empty."""
    from docsbot.documents import search

    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    search._cache.clear()
    yield settings.DATA_DIR
    search._cache.clear()


@pytest.fixture
def docs_dir(tmp_path) -> Path:
    """A writable copy of the fixture docs."""
    import shutil

    target = tmp_path / "docs"
    shutil.copytree(DOCS, target)
    return target
