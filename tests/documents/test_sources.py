import io
import tarfile
import zipfile

from docsbot.documents.sources import SourceFailure, SourceFile, read_archive


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _tar(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def _split(sources):
    files = {s.path: s.data for s in sources if isinstance(s, SourceFile)}
    failures = {s.path: s.error for s in sources if isinstance(s, SourceFailure)}
    return files, failures


def test_it_rejects_unsafe_zip_members_and_keeps_the_rest():
    data = _zip({"docs/good.md": b"# Good\n\ntext", "../evil.md": b"# x", "/etc/abs.md": b"# y"},
                links=("docs/link.md",))
    files, failures = _split(read_archive("up.zip", data))
    assert list(files) == ["docs/good.md"]
    assert "'..'" in failures["up.zip:../evil.md"]
    assert "absolute" in failures["up.zip:/etc/abs.md"]
    assert "links" in failures["up.zip:docs/link.md"]


def test_it_rejects_tar_links_and_traversal():
    data = _tar({"a.md": b"# A\n\ntext", "x/../../b.md": b"# B"}, symlinks={"c.md": "/etc/passwd"})
    files, failures = _split(read_archive("up.tar.gz", data))
    assert list(files) == ["a.md"]
    assert "'..'" in failures["up.tar.gz:x/../../b.md"]
    assert "links" in failures["up.tar.gz:c.md"]


def test_it_skips_build_assets_and_hidden_files_in_archives():
    data = _zip({"site/index.html": b"<h1>Hi</h1><p>x</p>", "site/_static/app.js": b"x",
                 "site/logo.png": b"x", "__MACOSX/site/._index.html": b"x"})
    files, failures = _split(read_archive("site.zip", data))
    assert list(files) == ["site/index.html"] and not failures


def test_it_stops_archive_bombs_before_using_any_member(settings):
    settings.MAX_ARCHIVE_MEMBERS = 5
    many = _zip({f"f{i}.md": b"# x\n\ny" for i in range(6)})
    assert _split(read_archive("many.zip", many)) == ({}, {"many.zip": "archive has 6 files, over the limit of 5"})

    settings.MAX_ARCHIVE_MEMBERS = 5000
    ratio = _zip({"zeros.txt": b"0" * (3 * 1024 * 1024), "ok.md": b"# ok\n\nfine"})
    files, failures = _split(read_archive("ratio.zip", ratio))
    assert not files and "compression ratio" in failures["ratio.zip"]

    settings.MAX_ARCHIVE_MB = 1
    big = _tar({"a.txt": b"a" * 700_000, "b.txt": b"b" * 700_000})
    files, failures = _split(read_archive("big.tar.gz", big))
    assert not files and "limit of 1 MB" in failures["big.tar.gz"]


def test_it_rejects_a_corrupt_archive_with_its_name():
    files, failures = _split(read_archive("broken.zip", b"PK\x03\x04 not really"))
    assert not files and "corrupt or unreadable archive" in failures["broken.zip"]


def test_it_prefers_sphinx_html_over_its_rst_source():
    data = _tar({"html/guide.html": b"<h1>Guide</h1><p>text</p>", "html/_sources/guide.rst.txt": b"Guide\n=====\n\ntext",
                 "html/_sources/only.rst.txt": b"Only\n====\n\nbody"})
    from docsbot.documents.sources import _ordered

    files, _ = _split(_ordered(read_archive("site.tar.gz", data)))
    assert sorted(files) == ["html/_sources/only.rst.txt", "html/guide.html"]
