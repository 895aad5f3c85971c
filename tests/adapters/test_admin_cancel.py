"""The admin's "Cancel job" button: what a browser sends when it is clicked must cancel the job."""
from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from docsbot.adapters.models import TrainingJob
from docsbot.adapters.services import training_job_create

PASSWORD = "pw-long-enough-1"


@pytest.fixture
def job(team, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BASE_MODEL = "tiny-base"
    return training_job_create(team=team, enqueue=False)


class _Forms(HTMLParser):
    """The form owner of each control, as an HTML parser assigns it: a <form> start tag inside an
    open form is ignored (forms do not nest) and its </form> closes the outer one; a control's
    ``form`` attribute names its owner anywhere in the page."""

    def __init__(self):
        super().__init__()
        self.forms: dict[int, dict] = {}
        self.open: int | None = None
        self.controls: list[tuple[str, dict, int | None]] = []
        self.button: dict | None = None
        self._in_button: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "form":
            if self.open is None:
                self.open = len(self.forms)
                self.forms[self.open] = attrs
        elif tag in ("input", "button", "textarea", "select"):
            self.controls.append((tag, attrs, self.open))
            if tag == "button":
                self._in_button = attrs
                attrs["_text"] = ""

    def handle_data(self, data):
        if self._in_button is not None:
            self._in_button["_text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.open = None
        elif tag == "button":
            self._in_button = None

    def owner(self, attrs: dict, enclosing: int | None) -> int | None:
        if attrs.get("form"):
            return next((n for n, form in self.forms.items() if form.get("id") == attrs["form"]), None)
        return enclosing


def _click(client, url: str, label: str):
    """Submit the page's form the way a browser does when the button labelled ``label`` is clicked."""
    page = _Forms()
    page.feed(client.get(url).content.decode())
    clicked = [(attrs, page.owner(attrs, enclosing)) for tag, attrs, enclosing in page.controls
               if (attrs.get("value") if tag == "input" else attrs.get("_text", "").strip()) == label
               and attrs.get("type", "submit") == "submit"]
    assert len(clicked) == 1, f"one {label!r} button expected, found {len(clicked)}"
    attrs, owner = clicked[0]
    assert owner is not None, f"the {label!r} button belongs to no form"
    form = page.forms[owner]
    data = {a["name"]: a.get("value", "") for tag, a, enclosing in page.controls
            if tag == "input" and a.get("name") and a.get("type") not in ("submit", "checkbox", "radio")
            and page.owner(a, enclosing) == owner}
    action = attrs.get("formaction") or form.get("action") or url
    return client.post(action, data)


@pytest.mark.django_db
def test_it_cancels_the_job_with_the_cancel_button_of_its_admin_page(client, job):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD))
    response = _click(client, f"/admin/adapters/trainingjob/{job.pk}/change/", "Cancel job")
    assert response.status_code == 302
    assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
@pytest.mark.django_db(transaction=True)
def test_it_cancels_the_job_when_the_button_is_clicked_in_chromium(live_server, job):
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page()
                page.goto(f"{live_server.url}/admin/login/?next=/admin/adapters/trainingjob/{job.pk}/change/")
                page.fill("#id_username", "root")
                page.fill("#id_password", PASSWORD)
                page.click("input[type=submit]")
                with page.expect_navigation():
                    page.get_by_role("button", name="Cancel job").click()
                assert "cancelled" in page.title()
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
    assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"
