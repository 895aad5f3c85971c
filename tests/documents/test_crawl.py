import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docsbot.documents.crawl import crawl
from docsbot.documents.models import Document
from docsbot.documents.selectors import chunk_search
from docsbot.documents.services import ingest_paths
from docsbot.documents.sources import SourceFile


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
