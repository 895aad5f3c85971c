"""The document parsers and archive reader under hypothesis: a clean rejection or a result, never a crash."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docsbot.documents.parsing import ParsedDocument, ParseError, parse_document
from docsbot.documents.sources import SourceFailure, SourceFile, read_archive

PDF = (Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "manual.pdf").read_bytes()
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)

MARKUP = st.sampled_from([
    "<", ">", "</", "<h1>", "</h1>", "<script>", "<table><tr><td>", "<dl><dt>", "<dd>", "<pre>", "<!--", "-->",
    "&amp;", "&#0;", "&#xffffff;", "# ", "## ", "```", "~~~", "| a | b |\n|---|---|\n", "* ", "1. ", "> ",
    "[x](", ")", "![i](", "\n", "\n\n", "====", "----", ".. ", ":: ", ".. code-block::", ".. include:: /etc/passwd",
    ".. raw:: html", "`", "``", "|sub|", "_`t`", "\x00", "\ufeff", "\u202e", "é", "\t", "   ", "\r",
])
TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=20)), max_size=40).map("".join)


def _clean(name: str, data: bytes) -> None:
    try:
        parsed = parse_document(name, data)
    except ParseError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, ParsedDocument) and parsed.blocks


@FUZZ
@given(text=TEXT, suffix=st.sampled_from([".md", ".html", ".rst", ".txt"]), encode_errors=st.booleans())
def test_it_parses_or_rejects_any_text_markup(text, suffix, encode_errors):
    data = text.encode("utf-8", "surrogatepass") if not encode_errors else text.encode("utf-8", "replace") + b"\xff\xfe"
    _clean(f"doc{suffix}", data)


@FUZZ
@given(cuts=st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.binary(max_size=8)), min_size=1, max_size=6),
       truncate=st.integers(8, len(PDF)))
def test_it_parses_or_rejects_any_mutated_pdf(cuts, truncate):
    data = bytearray(PDF[:truncate])
    for position, replacement in cuts:
        position = min(position, len(data))
        data[position:position + len(replacement)] = replacement
    _clean("manual.pdf", bytes(data))


def _valid_archives() -> list[tuple[str, bytes]]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/a.md", "# A\n\ntext " * 20)
        archive.writestr("docs/b.html", "<h1>B</h1><p>body</p>" * 10)
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w:gz") as archive:
        for name, data in (("a.md", b"# A\n\ntext" * 30), ("b.rst", b"B\n=\n\nbody" * 10)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return [("up.zip", zipped.getvalue()), ("up.tar.gz", tarred.getvalue())]


ARCHIVES = _valid_archives()


@FUZZ
@given(which=st.integers(0, 1), cuts=st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
                                                max_size=6), truncate=st.integers(0, 10_000), raw=st.binary(max_size=64))
def test_it_reads_or_rejects_any_mutated_archive(which, cuts, truncate, raw):
    name, original = ARCHIVES[which]
    data = bytearray(original[:max(truncate, 1)] if truncate < len(original) else original)
    for position, replacement in cuts:
        position = position % max(len(data), 1)
        data[position:position + len(replacement)] = replacement
    for blob in (bytes(data), raw):
        sources = read_archive(name, blob)
        assert all(isinstance(s, SourceFile | SourceFailure) for s in sources)
        for source in sources:
            if isinstance(source, SourceFile):
                _clean(source.path, source.data)
