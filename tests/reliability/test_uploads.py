"""Hostile uploads through the API: clear 4xx or a per-file reason, nothing outside the upload area,
nothing half-ingested, and memory bounded while an archive bomb is read."""
from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc
import uuid
import zipfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from docsbot.documents.models import Chunk, Document, IngestRun
from docsbot.documents.services import ingest_run_execute

SLIP = f"zipslip-{uuid.uuid4().hex[:8]}.md"
ABSOLUTE = f"/tmp/docsbot-absolute-{uuid.uuid4().hex[:8]}.md"


def _zip(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    return buffer.getvalue()


def _tar_gz_bomb(members: int, member_bytes: int) -> bytes:
    """A .tar.gz that expands to members × member_bytes of zeros, built from one compressed block:
    gzip streams concatenate, so the same compressed member repeats without compressing gigabytes."""
    header = tarfile.TarInfo("zeros.txt")
    header.size = member_bytes
    block = header.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * member_bytes
    block += b"\0" * (-len(block) % tarfile.BLOCKSIZE)
    compressed = gzip.compress(block, compresslevel=9)
    return compressed * members + gzip.compress(b"\0" * tarfile.RECORDSIZE)


def _upload(api, *files: tuple[str, bytes]):
    uploads = [SimpleUploadedFile(name, data) for name, data in files]
    return api.post("/api/v1/documents", data={"files": uploads}, multipart=True)


def _run(api, response) -> dict:
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    ingest_run_execute(run_id=run_id)  # what the worker does with the queued task
    return api.get(f"/api/v1/ingest-runs/{run_id}").json()


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_it_refuses_wrong_types_oversize_and_fake_files_with_clear_4xx(api, settings):
    settings.MAX_UPLOAD_MB = 1
    cases = {
        ("tool.exe", b"MZ\x90\x00binary"): (415, "unsupported file type"),
        ("page.php", b"<?php system($_GET['c']); ?>"): (415, "unsupported file type"),
        ("manual.pdf", b"<html>not a pdf</html>"): (400, "not a PDF"),
        ("docs.zip", b"this is not a zip archive"): (400, "not a zip"),
        ("big.md", b"# Big\n\n" + b"x" * (1024 * 1024 + 1)): (413, "over the 1 MB upload limit"),
    }
    for (name, data), (status, message) in cases.items():
        response = _upload(api, (name, data))
        assert response.status_code == status, (name, response.content)
        assert message in response.json()["detail"] and name in response.json()["detail"]
        assert "Traceback" not in response.content.decode()
    # Each refused alone: nothing stored, nothing queued.
    assert not IngestRun.objects.exists()
    assert not (Path(settings.DATA_DIR) / "uploads").exists() or not _files_under(Path(settings.DATA_DIR) / "uploads")
    # Beside a good file, a bad one fails as its item and is never stored; the good one is ingested.
    body = _run(api, _upload(api, ("ok.md", b"# Fine\n\nThe widget text is here."), ("tool.exe", b"MZ")))
    items = {item["path"]: item for item in body["items"]}
    assert items["ok.md"]["status"] == "indexed" and items["tool.exe"]["status"] == "failed"
    assert "unsupported file type" in items["tool.exe"]["error"]
    assert [path.name for path in _files_under(Path(settings.DATA_DIR) / "uploads")] == ["0000-ok.md"]


def test_it_rejects_unsafe_archive_members_and_writes_nothing_outside_the_upload_area(api, settings, tmp_path):
    before = _files_under(tmp_path)
    good = b"# Good page\n\nThe widget can be rotated with the rotate command."
    zipped = _zip({"docs/good.md": good, f"../../{SLIP}": b"# Slip\n\nescaped", ABSOLUTE: b"# Abs\n\nescaped",
                   "docs/C:/windows.md": b"# Win\n\nx"},
                  links={"docs/passwd.md": "/etc/passwd", "docs/up.md": "../../../../etc/shadow"})
    tarred = _tar({"guide/ok.rst": b"Guide\n=====\n\nThe guide text is here.", f"guide/../../{SLIP}": b"# x\n\ny"},
                  links={"guide/link.md": (tarfile.SYMTYPE, "/etc/passwd"),
                         "guide/hard.md": (tarfile.LNKTYPE, "/etc/passwd"),
                         "guide/fifo.md": (tarfile.FIFOTYPE, "")})
    body = _run(api, _upload(api, ("site.zip", zipped), ("guide.tar.gz", tarred)))
    assert body["status"] == "succeeded"
    items = {item["path"]: item for item in body["items"]}
    assert items["docs/good.md"]["status"] == "indexed" and items["guide/ok.rst"]["status"] == "indexed"
    failed = {path: item["error"] for path, item in items.items() if item["status"] == "failed"}
    assert "'..'" in failed[f"site.zip:../../{SLIP}"] and "absolute" in failed[f"site.zip:{ABSOLUTE}"]
    assert "links" in failed["site.zip:docs/passwd.md"] and "links" in failed["site.zip:docs/up.md"]
    assert "links" in failed["guide.tar.gz:guide/link.md"] and "links" in failed["guide.tar.gz:guide/hard.md"]
    assert "special files" in failed["guide.tar.gz:guide/fifo.md"]
    # Nothing of the hostile members exists anywhere, inside or outside the data dir.
    assert not Path(ABSOLUTE).exists()
    after = _files_under(tmp_path) - before
    uploads = Path(settings.DATA_DIR) / "uploads"
    outside = {p for p in after if uploads not in p.parents and "index" not in p.as_posix()}
    assert not [p for p in after if SLIP in p.name or p.is_symlink()], after
    assert all(Path(settings.DATA_DIR) in p.parents for p in outside), outside
    assert not Chunk.objects.filter(text__contains="escaped").exists()
    assert not Chunk.objects.filter(text__contains="root:").exists()


def test_it_fails_bombs_and_corrupt_pdfs_whole_with_memory_bounded(api, settings):
    settings.MAX_UPLOAD_MB = 2
    settings.MAX_ARCHIVE_MB = 16
    bomb = _tar_gz_bomb(members=800, member_bytes=2 * 1024 * 1024 - 4096)  # 1.6 GB of zeros in 1.7 MB
    assert len(bomb) < settings.MAX_UPLOAD_MB * 1024 * 1024
    zip_bomb = _zip({"docs/zeros.md": b"0" * (8 * 1024 * 1024), "docs/fine.md": b"# Fine\n\nfine text"})
    corrupt_pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 20
    response = _upload(api, ("bomb.tar.gz", bomb), ("zipbomb.zip", zip_bomb), ("broken.pdf", corrupt_pdf),
                       ("fine.md", b"# Fine\n\nThis page is fine."))
    assert response.status_code == 202
    tracemalloc.start()
    try:
        ingest_run_execute(run_id=response.json()["id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    body = api.get(f"/api/v1/ingest-runs/{response.json()['id']}").json()
    items = {item["path"]: item for item in body["items"]}
    assert "limit of 16 MB" in items["bomb.tar.gz"]["error"] or "ratio" in items["bomb.tar.gz"]["error"]
    assert "compression ratio" in items["zipbomb.zip"]["error"]
    assert "corrupt or unreadable PDF" in items["broken.pdf"]["error"]
    assert items["fine.md"]["status"] == "indexed"
    # Nothing half-ingested: no member of a failed archive was kept, the bad PDF has no chunks.
    assert set(Document.objects.filter(status="indexed").values_list("source_path", flat=True)) == {"fine.md"}
    assert not Chunk.objects.filter(document__source_path__in=["broken.pdf", "docs/fine.md"]).exists()
    # The bomb was read up to its limit, never expanded: the peak stays near the archive limit.
    assert peak < 3 * settings.MAX_ARCHIVE_MB * 1024 * 1024, f"peak {peak / 1048576:.0f} MB"
