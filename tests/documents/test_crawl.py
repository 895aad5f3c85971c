import functools
import threading
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docsbot.documents.crawl import crawl
from docsbot.documents.models import Document
from docsbot.documents.selectors import chunk_search
from docsbot.documents.services import ingest_paths
from docsbot.documents.sources import SourceFailure, SourceFile
from tests.waiting import scaled


def _page(title, body, links=()):
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return (f"<html><head><title>{title}</title></head><body><nav>{anchors}</nav>"
            f"<main><h1>{title}</h1><p>{body}</p></main></body></html>")


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "private").mkdir(parents=True)
    pages = {
        "index.html": _page("Home", "Welcome to the widget docs.",
                            ["guide.html", "private/secret.html", "https://elsewhere.test/x.html", "logo.png"]),
        "guide.html": _page("Guide", "Widgets are assembled from sprockets.", ["deep1.html", "index.html#top"]),
        "deep1.html": _page("Deep one", "Depth two page.", ["deep2.html"]),
        "deep2.html": _page("Deep two", "Depth three page.", []),
        "orphan.html": _page("Orphan", "Only the sitemap links to this page about gaskets.", []),
        "private/secret.html": _page("Secret", "Internal only.", []),
    }
    for name, html in pages.items():
        (root / name).write_text(html)
    (root / "logo.png").write_bytes(b"\x89PNG")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_port}"
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/orphan.html</loc></url><url><loc>https://elsewhere.test/a</loc></url></urlset>")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _paths(sources, base):
    return sorted(s.path.removeprefix(base) for s in sources if isinstance(s, SourceFile))


def test_it_crawls_one_host_honouring_robots_and_sitemap(site):
    paths = _paths(crawl(f"{site}/index.html", max_depth=5), site)
    assert paths == ["/deep1.html", "/deep2.html", "/guide.html", "/index.html", "/orphan.html"]


def test_it_stops_at_the_depth_and_page_limits(site):
    assert _paths(crawl(f"{site}/index.html", max_depth=1), site) == ["/guide.html", "/index.html", "/orphan.html"]
    assert len(_paths(crawl(f"{site}/index.html", max_pages=2), site)) == 2


def test_it_ingests_a_site_with_urls_as_citations(team, site):
    summary = ingest_paths(team=team, items=[f"{site}/index.html"])
    assert summary["documents"] == 5 and summary["failed"] == []
    hit = chunk_search(team=team, query="gaskets", k=1)[0]
    assert hit.url == f"{site}/orphan.html" and hit.title == "Orphan"
    assert not Document.objects.filter(source_path__contains="private").exists()


class _Site:
    """A real local HTTP server (stdlib, in a thread) whose paths are handler functions; records
    every request path it receives."""

    def __init__(self, routes):
        self.routes = routes
        self.requests: list[str] = []
        self.done = threading.Event()  # set when a streaming handler has finished writing
        self.sent = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append(self.path)
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                else:
                    route(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites():
    started = []

    def start(routes):
        started.append(_Site(routes))
        return started[-1]

    yield start
    for site in started:
        site.close()


def _send(handler, body: bytes, status=200, content_type="text/html", **headers):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _html(title, body, links=()):
    return lambda handler: _send(handler, _page(title, body, links).encode())


def _redirect(location):
    return lambda handler: _send(handler, b"", status=302, Location=location)


def test_it_never_fetches_sitemaps_robots_txt_names_on_other_hosts(sites):
    other = sites({"/sitemap.xml": lambda h: _send(h, b"<urlset/>", content_type="application/xml")})
    site = sites({})
    site.routes.update({
        "/robots.txt": lambda h: _send(h, (f"User-agent: *\nSitemap: {other.base}/sitemap.xml\n"
                                           f"Sitemap: {site.base}/own-sitemap.xml\n").encode(),
                                       content_type="text/plain"),
        "/own-sitemap.xml": lambda h: _send(h, (
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.base}/orphan.html</loc></url></urlset>").encode(), content_type="application/xml"),
        "/index.html": _html("Home", "Welcome."),
        "/orphan.html": _html("Orphan", "Only the sitemap links here."),
    })
    assert _paths(crawl(f"{site.base}/index.html"), site.base) == ["/index.html", "/orphan.html"]
    assert other.requests == []


def test_it_checks_each_redirect_against_the_host_and_robots_before_following_it(sites):
    other = sites({"/landing.html": _html("Elsewhere", "Another host.")})
    site = sites({})
    site.routes.update({
        "/robots.txt": lambda h: _send(h, b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/index.html": _html("Home", "Welcome.", ["away", "moved", "hidden"]),
        "/away": _redirect(f"{other.base}/landing.html"),
        "/moved": _redirect("/guide.html"),
        "/hidden": _redirect("/private/secret.html"),
        "/guide.html": _html("Guide", "Sprockets."),
        "/private/secret.html": _html("Secret", "Internal only."),
    })
    sources = list(crawl(f"{site.base}/index.html"))
    assert _paths(sources, site.base) == ["/guide.html", "/index.html"]
    assert not [s for s in sources if not isinstance(s, SourceFile)]
    assert other.requests == []  # the off-host target was never requested
    assert "/private/secret.html" not in site.requests


def _stream(site, total: int, *, declared: int | None = None):
    """Send ``total`` bytes in 64 KiB chunks (close-delimited unless ``declared``), counting what
    the client took before it hung up."""
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if declared is not None:
            h.send_header("Content-Length", str(declared))
        h.end_headers()
        chunk = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"
        try:
            while site.sent < total:
                h.wfile.write(chunk)
                site.sent += len(chunk)
        except OSError:
            pass
        finally:
            site.done.set()
    return handler


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "declared"])
def test_it_stops_reading_a_page_once_it_passes_the_size_limit(sites, settings, declared):
    settings.MAX_UPLOAD_MB = 1
    total = 64 * 1024 * 1024
    site = sites({})
    site.routes["/big.html"] = _stream(site, total, declared=total if declared else None)
    sources = list(crawl(f"{site.base}/big.html"))
    assert [(type(s), s.error) for s in sources] == [(SourceFailure, "page is over the 1 MB upload limit")]
    assert site.done.wait(scaled(30)), "the server is still sending"
    # What the socket buffers took besides: far from the 64 MiB a whole read takes.
    assert site.sent < 16 * 1024 * 1024, site.sent


def test_it_gives_up_a_slow_drip_page_at_its_total_deadline(sites, settings):
    settings.CRAWL_PAGE_TIMEOUT = 2
    site = sites({})
    stop = threading.Event()

    def drip(h):  # a byte every 50 ms for a minute: never idle long enough for a read timeout
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        ends = time.monotonic() + 60
        try:
            while time.monotonic() < ends and not stop.wait(0.05):
                h.wfile.write(b"a")
                h.wfile.flush()
        except OSError:
            pass
        finally:
            site.done.set()

    site.routes["/drip.html"] = drip
    started = time.monotonic()
    try:
        sources = list(crawl(f"{site.base}/drip.html"))
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    assert [(type(s), s.error) for s in sources] == [(SourceFailure, "timed out (over 2 s)")]
    assert elapsed < 30, elapsed  # the deadline, not the minute the server would have gone on
