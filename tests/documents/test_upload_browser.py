"""The admin upload page in headless Chromium: its "Recent ingestions" table follows runs from any door."""
import pytest
from django.contrib.auth import get_user_model

from docsbot.documents.services import ingest_paths
from tests.browser import log_in, needs_chromium
from tests.waiting import scaled

pytestmark = [pytest.mark.browser, needs_chromium]
PASSWORD = "pw-upload-123456"


def test_the_recent_ingestions_show_a_cli_run_and_its_failed_document_without_a_reload(
        browser_page, live_server, team, data_dir, tmp_path):
    from playwright.sync_api import expect

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    page = browser_page
    log_in(page, live_server.url, "root", PASSWORD)
    page.goto(f"{live_server.url}/documents/upload/")
    runs = page.locator("#recent-runs")
    expect(runs).to_contain_text("none yet")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\n\nRun `acme deploy` to publish the site to production.\n")
    (docs / "notes.pdf").write_bytes(b"this is not a PDF")
    ingest_paths(team=team, items=[str(docs)])  # what `manage.py ingest` does, in another door than the page
    expect(runs).to_contain_text("succeeded, 1 of 2 failed", timeout=scaled(30) * 1000)
    expect(runs).to_contain_text("cli")
