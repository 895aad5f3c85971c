"""Admin lists of long work in headless Chromium: a running row's progress moves without a reload."""
import pytest
from django.contrib.auth import get_user_model

from docsbot.qa.models import GenerationRun
from tests.browser import log_in, needs_chromium
from tests.waiting import scaled

pytestmark = [pytest.mark.browser, needs_chromium]
PASSWORD = "pw-live-list-123456"


def test_a_running_generation_run_moves_on_its_admin_list_and_keeps_the_readers_selection(
        browser_page, live_server, team):
    from playwright.sync_api import expect

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    running = GenerationRun.objects.create(team=team, status="running", done=1, total=10)
    finished = GenerationRun.objects.create(team=team, status="done", done=4, total=4, summary={"kept": 3})
    page = browser_page
    log_in(page, live_server.url, "root", PASSWORD)
    page.goto(f"{live_server.url}/admin/qa/generationrun/")
    row = page.locator("#result_list tbody tr", has=page.locator(f'input.action-select[value="{running.pk}"]'))
    expect(row.locator(".field-progress")).to_contain_text("10%")
    row.locator("input.action-select").check()

    GenerationRun.objects.filter(pk=running.pk).update(done=6)
    expect(row.locator(".field-progress")).to_contain_text("60%", timeout=scaled(20) * 1000)
    GenerationRun.objects.filter(pk=running.pk).update(status="done", done=10, summary={"kept": 7})
    expect(row.locator(".field-status")).to_have_text("Done", timeout=scaled(20) * 1000)
    expect(row.locator(".field-kept")).to_have_text("7")
    assert row.locator("input.action-select").is_checked()  # the reader's selection survived the updates
    other = page.locator("#result_list tbody tr", has=page.locator(f'input.action-select[value="{finished.pk}"]'))
    expect(other.locator(".field-kept")).to_have_text("3")
