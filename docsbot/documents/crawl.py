"""Crawl a documentation website from a start URL: same host, breadth first, bounded.

robots.txt is honoured for our user agent; sitemap.xml (and sitemaps listed in
robots.txt, on the same host only) seed the queue when present. Only pages in a
supported format are kept; everything else on the host is ignored.

Every fetch is bounded: redirects are followed by hand, each target checked against
the same-host rule (and robots.txt) before it is requested; a body is read as a
stream and abandoned once it passes the upload size limit; and a page has a total
deadline (``CRAWL_PAGE_TIMEOUT``, 30 s) over connect, headers and body together,
at which its connection is shut down, so a server dripping one byte at a time
cannot hold the crawl.
"""
from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from django.conf import settings

from docsbot.documents.parsing import detect_format
from docsbot.documents.sources import Source, SourceFailure, SourceFile, is_asset

USER_AGENT = "docsbot-crawler/1.0"
DEFAULT_MAX_DEPTH = 5
MAX_REDIRECTS = 5
_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "text/markdown": "markdown",
          "text/plain": "text", "application/pdf": "pdf", "text/x-rst": "rst"}


def _same_host(url: str, origin: str) -> bool:
    a, b = urlparse(url), urlparse(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class FetchError(Exception):
    """A page that could not be read whole: its reason, for the run's per-file failures."""


@dataclass
class Page:
    url: str  # after same-host redirects
    status: int
    content_type: str
    content: bytes
    encoding: str | None

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


class _Deadline:
    """Shuts a fetch's connections down when its total time is up, whatever it is waiting for.

    httpx's timeouts bound each network operation, not the whole: a server sending one byte every
    few seconds never trips them. The sockets are taken from httpcore's trace (each new connection)
    and from the response (a pooled one); a timer shuts them down at the deadline, which wakes the
    blocked read at once.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            raise FetchError(f"timed out (over {self.seconds:g} s)")

    def watch(self, stream) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        self._shutdown(sock)

    def trace(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def fetch(client: httpx.Client, url: str, origin: str, *, limit: int, timeout: float,
          robots: RobotFileParser | None = None) -> Page | None:
    """GET ``url``; None when it redirects off the host (or somewhere robots.txt forbids).

    Raises FetchError for a network error, too many redirects, a body over ``limit`` bytes or a
    fetch that passes its ``timeout`` (seconds, redirects included)."""
    with _Deadline(timeout) as deadline:
        try:
            for _ in range(MAX_REDIRECTS + 1):
                deadline.check()
                request = client.build_request(
                    "GET", url, timeout=httpx.Timeout(max(0.01, deadline.remaining())),
                    extensions={"trace": deadline.trace})
                response = client.send(request, stream=True, follow_redirects=False)
                try:
                    deadline.watch(response.extensions.get("network_stream"))
                    location = response.headers.get("location") if response.is_redirect else None
                    if location is not None:
                        target = urldefrag(urljoin(url, location))[0]
                        if not _same_host(target, origin) or (
                                robots is not None and not robots.can_fetch(USER_AGENT, target)):
                            return None  # checked before it is requested: never fetched
                        url = target
                        continue
                    return Page(url=url, status=response.status_code,
                                content_type=response.headers.get("content-type", ""),
                                content=_read(response, limit, deadline), encoding=response.charset_encoding)
                finally:
                    response.close()
            raise FetchError(f"more than {MAX_REDIRECTS} redirects")
        except httpx.HTTPError as exc:
            deadline.check()  # a read the deadline cut short: say so, not "connection closed"
            raise FetchError(f"could not fetch ({exc.__class__.__name__})") from exc


def _read(response: httpx.Response, limit: int, deadline: _Deadline) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"page is over the {settings.MAX_UPLOAD_MB} MB upload limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # decoded: a compressed bomb stops at the limit too
        size += len(chunk)
        if size > limit:
            raise FetchError(f"page is over the {settings.MAX_UPLOAD_MB} MB upload limit")
        chunks.append(chunk)
        deadline.check()
    deadline.check()  # the deadline's shutdown can look like the end of a close-delimited body
    return b"".join(chunks)


def _robots(client: httpx.Client, origin: str, *, limit: int, timeout: float
            ) -> tuple[RobotFileParser, list[str]]:
    parser = RobotFileParser()
    try:
        page = fetch(client, urljoin(origin, "/robots.txt"), origin, limit=limit, timeout=timeout)
        lines = page.text.splitlines() if page is not None and page.status == 200 else []
    except FetchError:
        lines = []
    parser.parse(lines)
    sitemaps = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sitemap:")]
    # robots.txt is the site's to write: a sitemap it names on another host is never requested.
    return parser, [url for url in sitemaps if _same_host(url, origin)]


def _sitemap_urls(client: httpx.Client, url: str, origin: str, *, limit: int, timeout: float,
                  depth: int = 0) -> list[str]:
    try:
        page = fetch(client, url, origin, limit=limit, timeout=timeout)
        if page is None or page.status != 200:
            return []
        root = ET.fromstring(page.content)
    except (FetchError, ET.ParseError):
        return []
    found: list[str] = []
    for loc in root.iter():
        if loc.tag.endswith("loc") and loc.text:
            target = loc.text.strip()
            if not _same_host(target, origin):
                continue
            if root.tag.endswith("sitemapindex") and depth < 2:
                found.extend(_sitemap_urls(client, target, origin, limit=limit, timeout=timeout, depth=depth + 1))
            else:
                found.append(target)
    return found


def crawl(start_url: str, *, max_pages: int | None = None, max_depth: int | None = None,
          client: httpx.Client | None = None) -> Iterator[Source]:
    max_pages = max_pages or settings.CRAWL_MAX_PAGES
    max_depth = DEFAULT_MAX_DEPTH if max_depth is None else max_depth
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    timeout = settings.CRAWL_PAGE_TIMEOUT
    own_client = client is None
    # No kept-alive connections: each page's deadline watches the connection it opens.
    client = client or httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout,
                                    limits=httpx.Limits(max_keepalive_connections=0))
    try:
        parsed = urlparse(start_url)
        origin = f"{parsed.scheme}://{parsed.netloc}"
        robots, sitemaps = _robots(client, origin, limit=limit, timeout=timeout)
        queue: deque[tuple[str, int]] = deque([(urldefrag(start_url)[0], 0)])
        for sitemap in sitemaps or [urljoin(origin, "/sitemap.xml")]:
            queue.extend((url, 1) for url in _sitemap_urls(client, sitemap, origin, limit=limit, timeout=timeout))
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
                page = fetch(client, url, origin, limit=limit, timeout=timeout, robots=robots)
            except FetchError as exc:
                yield SourceFailure(url, str(exc))
                continue
            if page is None:  # redirected off the host: not requested, not ours
                continue
            final = page.url
            if page.status != 200:
                yield SourceFailure(url, f"HTTP {page.status}")
                continue
            content_type = page.content_type.split(";")[0].strip().lower()
            fmt = _TYPES.get(content_type) or detect_format(urlparse(final).path)
            if fmt is None:
                continue
            pages += 1
            data = page.content
            if fmt != "pdf":
                # Re-encode with the server's charset so parsing sees UTF-8.
                data = page.text.encode("utf-8")
            yield SourceFile(path=final, data=data, url=final, fmt=fmt)
            if fmt == "html" and depth < max_depth:
                soup = BeautifulSoup(page.text, "lxml")
                for anchor in soup.find_all("a", href=True):
                    target = urldefrag(urljoin(final, anchor["href"]))[0]
                    if _same_host(target, origin) and target not in seen and not is_asset(target):
                        queue.append((target, depth + 1))
    finally:
        if own_client:
            client.close()
