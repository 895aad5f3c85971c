"""Archives are streamed and bounded (issue 16, item 6): members are read one at a time from the
archive on disk, the ratio check covers every member, and a run's archives have a total bound."""
import io
import os
import tarfile
import tracemalloc
import zipfile

import pytest

from docsbot.documents.sources import SourceFailure, SourceFile, expand_local, expand_uploads

MB = 1024 * 1024


def _write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _write_tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _text(size: int) -> bytes:
    """Documentation-like bytes that do not compress much (hex of random bytes)."""
    return os.urandom(size // 2).hex().encode()


def test_it_refuses_a_small_zip_of_small_members_that_expands_hugely(tmp_path):
    # 64 members of 1 MiB of zeros each: every one under the old 1 MiB threshold, 64 MiB in all
    # from a zip of about 70 KB.
    bomb = _write_zip(tmp_path / "bomb.zip", {f"page{i}.md": b"0" * MB for i in range(64)})
    assert bomb.stat().st_size < 200_000
    sources = expand_uploads([("bomb.zip", bomb)])
    assert not [s for s in sources if isinstance(s, SourceFile)]
    (failure,) = sources
    assert failure.path == "bomb.zip" and failure.unreadable_input
    assert "page0.md" in failure.error and "compression ratio over 100:1" in failure.error


def test_it_bounds_what_the_archives_of_one_run_expand_to(tmp_path, settings):
    settings.MAX_RUN_EXPANDED_MB = 1
    first = _write_zip(tmp_path / "a.zip", {"a.md": _text(700_000)})
    second = _write_tar(tmp_path / "b.tar.gz", {"b.md": _text(700_000)})
    sources = expand_uploads([("a.zip", first), ("b.tar.gz", second)])
    files = [s.path for s in sources if isinstance(s, SourceFile)]
    failures = {s.path: s.error for s in sources if isinstance(s, SourceFailure)}
    assert files == ["a.md"]
    assert "limit per run (DOCSBOT_MAX_RUN_EXPANDED_MB)" in failures["b.tar.gz"]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_it_reads_archive_members_one_at_a_time(tmp_path, kind):
    members = {f"docs/page{i}.md": b"# Page %d\n\n" % i + _text(MB) for i in range(12)}
    path = tmp_path / f"site.{kind}"
    (_write_zip if kind == "zip" else _write_tar)(path, members)
    tracemalloc.start()
    try:
        sources = expand_local(path)
        _, listing_peak = tracemalloc.get_traced_memory()
        # 12 MB of members: listing holds none of them ...
        assert listing_peak < 3 * MB, f"listing peak {listing_peak / MB:.1f} MB"
        tracemalloc.reset_peak()
        read = {}
        for source in sources:
            data = source.read()
            read[source.path] = len(data)
            del data
        _, reading_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == {name: len(data) for name, data in members.items()}
    # ... and reading holds about one at a time.
    assert reading_peak < 4 * MB, f"reading peak {reading_peak / MB:.1f} MB"
