"""The widget in headless Chromium: streamed answer with sources, thumbs-down, and inert hostile content."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from docsbot.chat.models import Feedback, Message, SourceClick
from docsbot.documents.models import Document
from docsbot.teams.services import widget_key_create
from tests.browser import needs_chromium
from tests.chat.conftest import ingest_docs, wait_for

pytestmark = [pytest.mark.browser, needs_chromium]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_it_streams_an_answer_with_sources_and_takes_a_thumbs_down(browser_page, live_server, team, serving):
    ingest_docs(team)
    origin = live_server.url.rstrip("/")
    key = widget_key_create(team=team, allowed_origins=[origin]).key
    page = browser_page
    # Where the team's uploaded files are published: their sources link under it.
    page.goto(f"{origin}/widget/demo?key={key}&docs_base={origin}/published/")
    page.get_by_role("button", name="Open docs chat").click()
    question = page.get_by_label("Your question")
    assert question.evaluate("el => el.getRootNode().activeElement === el")  # focus moved into the panel
    question.fill("How do I roll back a deployment?")
    question.press("Enter")
    answer = page.locator(".msg.assistant").last
    answer.locator(".sources a").first.wait_for(timeout=120_000)
    assert "Deploying widgets" in answer.locator(".sources").inner_text()
    assert answer.locator(".sources a").first.get_attribute("rel") == "noopener noreferrer nofollow"
    assert answer.locator(".sources a").first.get_attribute("href").startswith(f"{origin}/published/")
    answer.get_by_role("button", name="Not helpful").click()
    answer.get_by_label("What was wrong? (optional)").fill("Too vague")
    answer.get_by_role("button", name="Send comment").click()
    assert wait_for(lambda: Feedback.objects.filter(team=team, rating=-1, comment="Too vague").exists(), timeout=20)
    with page.context.expect_page():  # a source opens in a new tab, and the click is recorded
        answer.locator(".sources a").first.click()
    assert wait_for(lambda: SourceClick.objects.filter(team=team, channel="widget").exists(), timeout=20)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-answer.png"))
    # Esc closes the panel and gives focus back to the launcher; the conversation survives a reload.
    page.keyboard.press("Escape")
    assert page.get_by_role("button", name="Open docs chat").is_visible()
    page.reload()
    page.get_by_role("button", name="Open docs chat").click()
    assert page.locator(".msg.user").first.inner_text() == "How do I roll back a deployment?"
    # "New chat" starts over: an empty log, and the next question opens a new conversation.
    first = Message.objects.filter(team=team, role="user").get().conversation_id
    page.get_by_role("button", name="Start a new conversation").click()
    assert page.locator(".msg").count() == 0
    page.get_by_label("Your question").fill("How do I install the command-line tool?")
    page.get_by_label("Your question").press("Enter")
    page.locator(".msg.assistant .sources").last.wait_for(timeout=120_000)
    latest = Message.objects.filter(team=team, role="user").latest("pk")
    assert latest.content == "How do I install the command-line tool?" and latest.conversation_id != first
    page.reload()
    page.get_by_role("button", name="Open docs chat").click()
    assert page.locator(".msg.user").all_inner_texts() == ["How do I install the command-line tool?"]


class CustomerSite:
    """A page on another loopback origin that embeds the widget, as a customer's docs site would."""

    def __init__(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.html = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_port}"


def test_it_keeps_hostile_documents_and_markdown_inert(browser_page, live_server, team):
    ingest_docs(team)
    Document.objects.filter(team=team).update(
        title='<img src="http://evil.example/title.png" onerror="window.__pwned=1"><script>window.__pwned=2</script>',
        url="javascript:window.__pwned=3//")
    widget_origin = live_server.url.rstrip("/")
    customer = CustomerSite()
    host_origin = customer.origin
    key = widget_key_create(team=team, allowed_origins=[host_origin]).key
    page = browser_page
    evil_requests: list[str] = []
    page.on("request", lambda request: "evil.example" in request.url and evil_requests.append(request.url))
    # A customer page on another origin, without any CSP of ours: only the renderer keeps it safe.
    customer.html = (f'<html><body><h1>Customer docs</h1><script src="{widget_origin}/widget.js" data-key="{key}" '
                     f'data-color="red;background:url(http://evil.example/c.png)" async></script></body></html>')
    page.goto(f"{host_origin}/customer")
    page.get_by_role("button", name="Open docs chat").click()
    page.get_by_label("Your question").fill("What is the capital of France?")
    page.get_by_label("Your question").press("Enter")
    answer = page.locator(".msg.assistant").last
    answer.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=60_000)  # final event arrived (via CORS)
    assert "does not cover" in answer.inner_text()
    assert "<script>" in answer.inner_text()  # shown as text
    hostile_markdown = ("![tracker](http://evil.example/img.png) [click](javascript:window.__pwned=4) "
                        "[data](data:text/html,<script>x</script>) <img src=x onerror=window.__pwned=5> "
                        "**bold** [ok](https://example.com/docs)")
    page.evaluate("""md => {
        const box = document.querySelector('[data-docsbot]').shadowRoot.querySelector('.msg.assistant');
        box.appendChild(window.DocsbotWidget.renderMarkdown(md));
    }""", hostile_markdown)
    root = "document.querySelector('[data-docsbot]').shadowRoot"
    assert page.evaluate(f"{root}.querySelectorAll('img, script, iframe, object, embed').length") == 0
    hrefs = page.evaluate(f"[...{root}.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert hrefs and all(href.startswith(("http://", "https://")) for href in hrefs), hrefs
    assert "https://example.com/docs" in hrefs
    # An uploaded file's path is no address on the customer's page (no data-docs-base): text, not a link to a 404.
    assert page.evaluate("window.DocsbotWidget.safeUrl('guide/uploading-docs.md#formats')") is None
    assert page.evaluate(f"[...{root}.querySelectorAll('*')].filter(e => [...e.attributes]"
                         ".some(a => a.name.startsWith('on'))).length") == 0
    assert page.evaluate("window.__pwned") is None
    page.wait_for_timeout(500)
    assert evil_requests == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-xss.png"))
