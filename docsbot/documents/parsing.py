"""Turn a file's bytes into a title and a flat list of structural blocks.

Every markup format goes through one HTML walker: Markdown is rendered by
markdown-it, reStructuredText by docutils (raw and file-insertion directives
off), and HTML pages are cut down to their main content. Only text leaves this
module; no markup from a document is ever stored or rendered.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from bs4 import BeautifulSoup, NavigableString, Tag


class ParseError(Exception):
    """A document that cannot be ingested; the message says why, for the user."""


@dataclass(frozen=True)
class Block:
    """One structural block. ``text`` is how chunking renders it (a list as "- item" lines, a table as "a | b"
    rows, a definition term as "term:"); ``rows`` keeps a table's cells, so nothing downstream re-parses text."""

    kind: str  # heading | paragraph | list | table | term | signature | admonition | code
    text: str
    level: int = 0  # headings only: 1..6
    anchor: str = ""
    rows: tuple[tuple[str, ...], ...] = ()  # tables only

    def as_json(self) -> dict:
        data: dict = {"kind": self.kind, "text": self.text}
        if self.level:
            data["level"] = self.level
        if self.rows:
            data["rows"] = [list(row) for row in self.rows]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Block:
        return cls(data["kind"], data["text"], data.get("level", 0),
                   rows=tuple(tuple(row) for row in data.get("rows", ())))


@dataclass
class ParsedDocument:
    title: str
    format: str
    blocks: list[Block] = field(default_factory=list)

    def plain_text(self) -> str:
        return "\n".join(block.text for block in self.blocks)


FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown",
    ".rst": "rst", ".rest": "rst", ".rst.txt": "rst",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".txt": "text", ".text": "text",
    ".pdf": "pdf",
}


def detect_format(name: str) -> str | None:
    lowered = name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return FORMATS[suffix]
    return None


def parse_document(name: str, data: bytes, *, fmt: str | None = None) -> ParsedDocument:
    fmt = fmt or detect_format(name)
    if fmt is None:
        raise ParseError(f"unsupported file type {PurePosixPath(name).suffix or '(no extension)'!r}; "
                         "expected Markdown, reStructuredText, HTML, plain text, PDF or a .zip/.tar.gz archive")
    if not data.strip():
        raise ParseError("the file is empty")
    if fmt == "pdf":
        parsed = _without_nul(_parse_pdf(data))  # extraction leaves stray NULs in some fonts' text
    else:
        text = _decode(data)
        if fmt == "markdown":
            parsed = _parse_markdown(text)
        elif fmt == "rst":
            parsed = _parse_rst(text)
        elif fmt == "html":
            parsed = parse_html(text)
        else:
            parsed = _parse_text(text)
    if not any(block.kind != "heading" and block.text.strip() for block in parsed.blocks):
        raise ParseError("no text found in the document")
    if not parsed.title:
        parsed.title = _title_from_name(name)
    return parsed


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "convert the file to UTF-8") from None
    if "\x00" in text:  # binary or UTF-16 data; PostgreSQL cannot store it in a text column either
        raise ParseError(f"not a text file: it holds a NUL byte (offset {data.index(0)}); "
                         "save it as UTF-8 text")
    return text


def _without_nul(parsed: ParsedDocument) -> ParsedDocument:
    parsed.title = parsed.title.replace("\x00", "")
    parsed.blocks = [Block(b.kind, b.text.replace("\x00", ""), b.level, b.anchor) for b in parsed.blocks]
    return parsed


def _title_from_name(name: str) -> str:
    stem = PurePosixPath(name).name.split(".")[0]
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or name


# --- HTML -------------------------------------------------------------------------

_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
              "iframe", "object", "embed", "svg", "canvas", "button", "input", "select", "head"]
_DROP_SELECTORS = [".sphinxsidebar", ".related", ".headerlink", ".toctree-wrapper", ".footer",
                   ".viewcode-link", ".viewcode-back",  # Sphinx's "[source]" and "[docs]" links
                   ".navbar", ".sidebar", ".breadcrumbs", ".wy-nav-side", ".rst-footer-buttons",
                   "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=search]",
                   "[aria-hidden=true]", ".skip-link", "#searchbox", ".admonition-title + .toc"]
_MAIN_SELECTORS = ["[role=main]", "main", "article", "div.body", "div.document", "#content",
                   "div.content", "body"]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKISH = {"p", "pre", "ul", "ol", "table", "dl", "div", "section", "blockquote", "h1", "h2", "h3",
             "h4", "h5", "h6", "figure"}
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text.replace("¶", "")).strip()


def slugify(text: str) -> str:
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


def parse_html(html: str, *, fmt: str = "html") -> ParsedDocument:
    soup = BeautifulSoup(html, "lxml")
    page_title = _clean(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for selector in _DROP_SELECTORS:
        for tag in soup.select(selector):
            tag.decompose()
    root = next((found for sel in _MAIN_SELECTORS if (found := soup.select_one(sel)) is not None), soup)
    walker = _Walker()
    walker.walk(root, section_anchor="")
    blocks = walker.blocks
    h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    # Generated sites append the site name to <title> ("Page — Flask Documentation"): prefer the h1.
    title = h1 or re.split(r"\s+[—|–-]\s+", page_title)[0]
    return ParsedDocument(title=title, format=fmt, blocks=blocks)


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.level = 1
        self._inline: list[str] = []

    def _flush(self, kind: str = "paragraph") -> None:
        text = _clean(" ".join(self._inline))
        self._inline = []
        if text:
            self.blocks.append(Block(kind, text))

    def walk(self, node: Tag, *, section_anchor: str) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString and child.strip():
                    self._inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self._flush()
                text = _clean(child.get_text())
                if text:
                    self.level = _HEADINGS[name]
                    anchor = child.get("id") or section_anchor or slugify(text)
                    self.blocks.append(Block("heading", text, level=self.level, anchor=str(anchor)))
                section_anchor = ""
            elif name == "pre":
                self._flush()
                code = child.get_text().strip("\n")
                if code.strip():
                    self.blocks.append(Block("code", code))
            elif name in ("ul", "ol"):
                self._flush()
                self._list(child, section_anchor)
            elif name == "table":
                self._flush()
                self._table(child)
            elif name == "dl":
                self._flush()
                self._definitions(child, section_anchor)
            elif name == "p":
                self._flush()
                self._inline.append(child.get_text())
                self._flush("admonition" if "admonition-title" in (child.get("class") or []) else "paragraph")
            elif name in ("section", "div", "article", "blockquote", "figure", "main", "body", "dd",
                          "li", "details", "summary"):
                self._flush()
                anchor = child.get("id") if name in ("section", "div") else None
                self.walk(child, section_anchor=str(anchor) if anchor else section_anchor)
                self._flush()
            elif name == "br":
                self._flush()
            elif name == "img":
                continue
            else:
                if child.find(_BLOCKISH):
                    self._flush()
                    self.walk(child, section_anchor=section_anchor)
                    self._flush()
                else:
                    self._inline.append(child.get_text())
        self._flush()

    def _list(self, node: Tag, section_anchor: str) -> None:
        lines = []
        for item in node.find_all("li", recursive=False):
            if item.find(["pre", "table"]):
                if lines:
                    self.blocks.append(Block("list", "\n".join(lines)))
                    lines = []
                self.walk(item, section_anchor=section_anchor)
            else:
                text = _clean(item.get_text())
                if text:
                    lines.append(f"- {text}")
        if lines:
            self.blocks.append(Block("list", "\n".join(lines)))

    def _table(self, node: Tag) -> None:
        rows = []
        for row in node.find_all("tr"):
            cells = tuple(_clean(cell.get_text()) for cell in row.find_all(["th", "td"]))
            if any(cells):
                rows.append(cells)
        if rows:
            self.blocks.append(Block("table", "\n".join(" | ".join(row) for row in rows), rows=tuple(rows)))

    def _definitions(self, node: Tag, section_anchor: str) -> None:
        # Sphinx API entries (<dt id="flask.Flask.route">) become sub-headings with their own anchor.
        for child in node.find_all(["dt", "dd"], recursive=False):
            if child.name == "dt":
                text = _clean(child.get_text())
                if not text:
                    continue
                if child.get("id"):
                    # The full signature can be long: the heading is the dotted name, the
                    # signature stays as the section's first line.
                    level = min(self.level + 1, 6)
                    name = str(child["id"]) if len(text) > 60 else text
                    self.blocks.append(Block("heading", name, level=level, anchor=str(child["id"])))
                    if name != text:
                        self.blocks.append(Block("signature", text))
                else:
                    self._inline.append(text + ":")
                    self._flush("term")
            else:
                saved = self.level
                if self.blocks and self.blocks[-1].kind == "heading":
                    self.level = self.blocks[-1].level
                self.walk(child, section_anchor=section_anchor)
                self.level = saved


# --- other formats -----------------------------------------------------------------

def _parse_markdown(text: str) -> ParsedDocument:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    return parse_html(f"<html><body><main>{html}</main></body></html>", fmt="markdown")


def _parse_rst(text: str) -> ParsedDocument:
    from docutils.core import publish_parts

    try:
        parts = publish_parts(
            text, writer="html5",
            settings_overrides={"file_insertion_enabled": False, "raw_enabled": False,
                                "report_level": 5, "halt_level": 5, "traceback": False,
                                "syntax_highlight": "none", "warning_stream": io.StringIO()},
        )
    except Exception as exc:  # noqa: BLE001 - docutils raises many types on broken input
        raise ParseError(f"could not parse reStructuredText: {exc}") from None
    title = _clean(BeautifulSoup(parts["title"], "lxml").get_text()) if parts["title"] else ""
    body = parts["html_body"]
    parsed = parse_html(f"<html><body><main>{body}</main></body></html>", fmt="rst")
    parsed.title = title or parsed.title
    return parsed


def _parse_text(text: str) -> ParsedDocument:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    blocks = [Block("paragraph", _clean(p)) for p in paragraphs]
    first_line = text.strip().splitlines()[0].strip() if text.strip() else ""
    title = first_line if 0 < len(first_line) <= 120 else ""
    return ParsedDocument(title=title, format="text", blocks=blocks)


def _parse_pdf(data: bytes) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ParseError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except ParseError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, OSError, AssertionError) as exc:
        raise ParseError(f"corrupt or unreadable PDF ({exc.__class__.__name__}: {exc})") from None
    blocks: list[Block] = []
    for number, page_text in enumerate(pages, start=1):
        paragraphs = [_clean(p) for p in re.split(r"\n\s*\n", page_text) if p.strip()]
        if not paragraphs:
            continue
        blocks.append(Block("heading", f"Page {number}", level=2, anchor=f"page={number}"))
        blocks.extend(Block("paragraph", p) for p in paragraphs)
    return ParsedDocument(title=_clean(str(meta_title)), format="pdf", blocks=blocks)
