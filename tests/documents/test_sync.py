"""Sync never deletes what it could not read, and one unstorable file fails alone, not the run.

A sync ingestion removes the team's documents missing from its input. A document is "missing"
only when the input was read in full: an archive, folder or site that could not be read removes
nothing, and an archive member refused at the archive level (size, link, unsafe path) keeps its
indexed version. Files PostgreSQL cannot store (a NUL in the text, a path over 1,000 characters)
fail with a per-file reason while the rest of the run is indexed.
"""
import functools
import io
import shutil
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from docsbot.documents.models import Document, IngestRun
from docsbot.documents.services import ingest_paths

from .conftest import DOCS

ALL = {"api.html", "deploying.rst", "manual.pdf", "quickstart.md"}


def _indexed(team) -> set[str]:
    return set(Document.objects.filter(team=team, status=Document.Status.INDEXED).values_list("source_path", flat=True))


def _ingest(team, *paths, sync=False) -> dict:
    return ingest_paths(team=team, items=[str(p) for p in paths], sync=sync)


def test_it_removes_nothing_when_a_synced_archive_with_a_colon_in_its_name_is_unreadable(team, tmp_path):
    _ingest(team, shutil.make_archive(str(tmp_path / "release"), "zip", DOCS))
    assert _indexed(team) == ALL
    broken = tmp_path / "release:2.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    summary = _ingest(team, broken, sync=True)
    assert summary["removed"] == 0 and _indexed(team) == ALL
    assert summary["failed"][0]["path"] == "release:2.zip"
    assert "corrupt or unreadable archive" in summary["failed"][0]["error"]


def test_it_removes_nothing_when_a_synced_folder_does_not_exist(team, tmp_path):
    _ingest(team, DOCS)
    summary = _ingest(team, tmp_path / "no-such-folder", sync=True)
    assert summary["removed"] == 0 and _indexed(team) == ALL


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_it_removes_nothing_when_a_synced_site_cannot_be_fetched(team, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<html><body><main><h1>Home</h1><p>Widgets.</p><a href="guide.html">g</a>'
                                     "</main></body></html>")
    (site / "guide.html").write_text("<html><body><main><h1>Guide</h1><p>Sprockets.</p></main></body></html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    start = f"http://127.0.0.1:{server.server_port}/index.html"
    try:
        assert _ingest(team, start)["documents"] == 2
    finally:
        server.shutdown()
        server.server_close()
    summary = _ingest(team, start, sync=True)  # the site is down: nothing was read
    assert summary["removed"] == 0 and len(_indexed(team)) == 2
    assert "could not fetch" in summary["failed"][0]["error"]


def test_it_keeps_indexed_documents_whose_archive_member_was_refused(team, tmp_path, settings):
    _ingest(team, shutil.make_archive(str(tmp_path / "first"), "zip", DOCS))
    settings.MAX_UPLOAD_MB = 1
    bundle = tmp_path / "second.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        for name in ("api.html", "manual.pdf"):
            archive.add(DOCS / name, arcname=name)
        link = tarfile.TarInfo("quickstart.md")  # a link where the page was
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        big = b"Deploying\n=========\n\n" + b"words " * 250_000  # 1.5 MB, over the 1 MB limit
        info = tarfile.TarInfo("deploying.rst")
        info.size = len(big)
        archive.addfile(info, io.BytesIO(big))
    summary = _ingest(team, bundle, sync=True)
    assert summary["removed"] == 0 and _indexed(team) == ALL
    errors = {f["path"]: f["error"] for f in summary["failed"]}
    assert "links are not allowed" in errors["second.tar.gz:quickstart.md"]
    assert "over the 1 MB upload limit" in errors["second.tar.gz:deploying.rst"]
    kept = Document.objects.get(team=team, source_path="quickstart.md")
    assert kept.chunks.exists() and "links are not allowed" in kept.error  # still served, the reason shown

    # With every member readable, a later sync removes what is really gone.
    again = tmp_path / "third.zip"
    with zipfile.ZipFile(again, "w") as archive:
        archive.write(DOCS / "api.html", "api.html")
    assert _ingest(team, again, sync=True)["removed"] == 3 and _indexed(team) == {"api.html"}


def test_it_fails_only_a_text_file_holding_a_nul(team, tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    (docs / "notes.txt").write_bytes(b"Release notes\n\nFixed the \x00 deploy step.\n")
    summary = _ingest(team, docs)
    assert summary["documents"] == 4 and _indexed(team) == ALL
    assert [f["path"] for f in summary["failed"]] == ["notes.txt"]
    assert "NUL" in summary["failed"][0]["error"]
    run = IngestRun.objects.get(pk=summary["run"])
    assert run.status == IngestRun.Status.SUCCEEDED
    assert Document.objects.get(team=team, source_path="notes.txt").status == Document.Status.FAILED


def test_it_fails_only_an_archive_member_with_a_path_over_1000_characters(team, tmp_path):
    long_path = "/".join(["deep"] * 220) + "/page.md"  # 1,107 characters
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(DOCS / "quickstart.md", "quickstart.md")
        archive.writestr(long_path, "# Deep\n\nA page far down the tree. " * 5)
    summary = _ingest(team, bundle)
    assert _indexed(team) == {"quickstart.md"}
    assert IngestRun.objects.get(pk=summary["run"]).status == IngestRun.Status.SUCCEEDED
    [failure] = summary["failed"]
    assert failure["path"].startswith("bundle.zip:deep/deep/") and len(failure["path"]) < 300
    assert "over the limit of 1,000" in failure["error"]
