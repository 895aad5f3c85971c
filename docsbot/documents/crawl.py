"""Crawl a documentation website from a start URL: same host, breadth first, bounded.

robots.txt is honoured for our user agent; sitemap.xml (and sitemaps listed in
robots.txt) seed the queue when present. Only pages in a supported format are
kept; everything else on the host is ignored.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from django.conf import settings

from docsbot.documents.parsing import detect_format
from docsbot.documents.sources import Source, SourceFailure, SourceFile, is_asset

USER_AGENT = "docsbot-crawler/1.0"
DEFAULT_MAX_PAGES = 500
DEFAULT_MAX_DEPTH = 5
_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "text/markdown": "markdown",
          "text/plain": "text", "application/pdf": "pdf", "text/x-rst": "rst"}


def _same_host(url: str, origin: str) -> bool:
    a, b = urlparse(url), urlparse(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _robots(client: httpx.Client, origin: str) -> tuple[RobotFileParser, list[str]]:
    parser = RobotFileParser()
    sitemaps: list[str] = []
    try:
        response = client.get(urljoin(origin, "/robots.txt"))
        lines = response.text.splitlines() if response.status_code == 200 else []
    except httpx.HTTPError:
        lines = []
    parser.parse(lines)
    sitemaps = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sitemap:")]
    return parser, sitemaps


def _sitemap_urls(client: httpx.Client, url: str, origin: str, depth: int = 0) -> list[str]:
    try:
        response = client.get(url)
        if response.status_code != 200:
            return []
        root = ET.fromstring(response.content)
    except (httpx.HTTPError, ET.ParseError):
        return []
    found: list[str] = []
    for loc in root.iter():
        if loc.tag.endswith("loc") and loc.text:
            target = loc.text.strip()
            if not _same_host(target, origin):
                continue
            if root.tag.endswith("sitemapindex") and depth < 2:
                found.extend(_sitemap_urls(client, target, origin, depth + 1))
            else:
                found.append(target)
    return found


def crawl(start_url: str, *, max_pages: int | None = None, max_depth: int | None = None,
          client: httpx.Client | None = None) -> Iterator[Source]:
    max_pages = max_pages or getattr(settings, "CRAWL_MAX_PAGES", DEFAULT_MAX_PAGES)
    max_depth = DEFAULT_MAX_DEPTH if max_depth is None else max_depth
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    own_client = client is None
    client = client or httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=20.0, follow_redirects=True)
    try:
        parsed = urlparse(start_url)
        origin = f"{parsed.scheme}://{parsed.netloc}"
        robots, sitemaps = _robots(client, origin)
        queue: deque[tuple[str, int]] = deque([(urldefrag(start_url)[0], 0)])
        for sitemap in sitemaps or [urljoin(origin, "/sitemap.xml")]:
            queue.extend((url, 1) for url in _sitemap_urls(client, sitemap, origin))
        seen: set[str] = set()
        pages = 0
        while queue and pages < max_pages:
            url, depth = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            if not robots.can_fetch(USER_AGENT, url):
                continue
            try:
                response = client.get(url)
            except httpx.HTTPError as exc:
                yield SourceFailure(url, f"could not fetch ({exc.__class__.__name__})")
                continue
            final = urldefrag(str(response.url))[0]
            if not _same_host(final, origin):
                continue
            if response.status_code != 200:
                yield SourceFailure(url, f"HTTP {response.status_code}")
                continue
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            fmt = _TYPES.get(content_type) or detect_format(urlparse(final).path)
            if fmt is None:
                continue
            if len(response.content) > limit:
                yield SourceFailure(url, f"page is over the {settings.MAX_UPLOAD_MB} MB upload limit")
                continue
            pages += 1
            data = response.content
            if fmt != "pdf":
                # Re-encode with the server's charset so parsing sees UTF-8.
                data = response.text.encode("utf-8")
            yield SourceFile(path=final, data=data, url=final, fmt=fmt)
            if fmt == "html" and depth < max_depth:
                soup = BeautifulSoup(response.text, "lxml")
                for anchor in soup.find_all("a", href=True):
                    target = urldefrag(urljoin(final, anchor["href"]))[0]
                    if _same_host(target, origin) and target not in seen and not is_asset(target):
                        queue.append((target, depth + 1))
    finally:
        if own_client:
            client.close()
