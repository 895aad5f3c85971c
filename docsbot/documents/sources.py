"""Expand what a user hands in (files, folders, archives, URLs) into documents to parse.

Files are listed first and read one at a time, when ingestion gets to them: a run never holds
more than one file's bytes. A zip member is read from the archive on disk; a tar (its gzip
stream cannot be read out of order) is expanded once, one member at a time, into a private
temporary folder, under names of ours. Archives are checked before any member is used: member
count, total uncompressed size (per archive, and for all archives of a run:
``MAX_RUN_EXPANDED_MB``), the compression ratio of every member, unsafe paths (``..``, absolute)
and links. A bomb fails the whole archive, naming why; an unsafe member fails alone. Everything that goes wrong becomes a ``SourceFailure``
naming the file and the reason, and the rest of the input proceeds.

A failure also says what it hides from a sync, which removes documents missing from the
input: ``member`` is the document path of an archive member refused at the archive level
(its indexed version is kept), and ``unreadable_input`` marks an archive, folder or site that
could not be read, so which documents it holds is unknown (sync then removes nothing).
"""
from __future__ import annotations

import io
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from django.conf import settings

from docsbot.documents.parsing import detect_format

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_PATH_CHARS = 1000  # Document.source_path
# Members smaller than this skip the ratio check: even 5,000 of them expand to 20 MB at most.
RATIO_FLOOR_BYTES = 4096
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, zlib.error, IndexError,
                NotImplementedError, RuntimeError)
# Build output that sits next to docs in generated sites; skipped without an error.
ASSET_SUFFIXES = frozenset(
    [".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".bmp", ".css", ".js", ".map", ".woff", ".woff2", ".ttf", ".eot", ".otf", ".inv", ".doctree", ".pickle", ".buildinfo", ".json", ".xml", ".mo", ".po", ".pyc", ".gz", ".bz2", ".xz", ".mp4", ".webm", ".mp3"]
)


# Sphinx's generated index/search pages: lists of links with no content of their own.
GENERATED_PAGES = frozenset({"genindex.html", "genindex-all.html", "py-modindex.html", "search.html"})


class SourceError(Exception):
    pass


@dataclass(frozen=True)
class SourceFile:
    path: str  # the document's identity within the team (relative path or URL)
    data: bytes = b""  # the bytes, when they were read already (crawled pages); else `loader` reads them
    url: str = ""  # link target; defaults to path
    fmt: str | None = None
    loader: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)

    def read(self) -> bytes:
        """The file's bytes, read now from disk (or the archive on disk) when they were not yet;
        SourceError when that fails. Nothing is kept: the caller holds them while it needs them."""
        if self.loader is None:
            return self.data
        try:
            return self.loader()
        except SourceError:
            raise
        except _READ_ERRORS as exc:
            raise SourceError(f"cannot read it ({exc})") from None


@dataclass(frozen=True)
class SourceFailure:
    path: str
    error: str
    member: str = ""  # an archive member's document path, kept by a sync although it was not read
    unreadable_input: bool = False  # a whole archive, folder or site: sync must remove nothing


Source = SourceFile | SourceFailure


def _limit_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


class ExpansionBudget:
    """What the archives of one run may expand to, all together (``MAX_RUN_EXPANDED_MB``)."""

    def __init__(self, limit_bytes: int | None = None):
        if limit_bytes is None:
            limit_bytes = settings.MAX_RUN_EXPANDED_MB * 1024 * 1024
        self.limit, self.used = limit_bytes, 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise SourceError(f"the archives of this run expand past {self.limit // 1048576} MB in all, the limit "
                              "per run (DOCSBOT_MAX_RUN_EXPANDED_MB); ingest them in several runs")
        self.used += size


def _ratio_error(member: str, size: int, compressed: int, max_ratio: int) -> str | None:
    if size > RATIO_FLOOR_BYTES and size > max_ratio * max(compressed, 1):
        return (f"archive member {member} expands from {compressed:,} to {size:,} bytes, a compression ratio "
                f"over {max_ratio}:1 (a likely zip bomb)")
    return None


def _archive_limits() -> tuple[int, int, int]:
    return settings.MAX_ARCHIVE_MEMBERS, settings.MAX_ARCHIVE_MB * 1024 * 1024, settings.MAX_ARCHIVE_RATIO


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def is_asset(name: str) -> bool:
    lowered = PurePosixPath(name.lower())
    return not is_archive(name) and (lowered.suffix in ASSET_SUFFIXES or lowered.name in GENERATED_PAGES)


def unsafe_member_reason(name: str) -> str | None:
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return "absolute paths are not allowed in archives"
    if ".." in PurePosixPath(normalised).parts:
        return "paths containing '..' are not allowed in archives"
    return None


def _size_error(size: int) -> str:
    return f"file is {size / 1048576:.1f} MB, over the {settings.MAX_UPLOAD_MB} MB upload limit"


def _prefer_html(files: list[SourceFile]) -> list[SourceFile]:
    """Drop Sphinx ``_sources/X.rst.txt`` copies when the built ``X.html`` page is present."""
    paths = {f.path for f in files}
    kept = []
    for f in files:
        if "/_sources/" in f"/{f.path}":
            head, _, tail = f"/{f.path}".rpartition("/_sources/")
            stem = tail.removesuffix(".txt").rsplit(".", 1)[0]
            if f"{head}/{stem}.html".lstrip("/") in paths:
                continue
        kept.append(f)
    return kept


def _ordered(sources: list[Source]) -> list[Source]:
    files = _prefer_html([s for s in sources if isinstance(s, SourceFile)])
    failures = [s for s in sources if isinstance(s, SourceFailure)]
    # HTML first, then shallow paths: when near-duplicates exist, that copy is the indexed one.
    files.sort(key=lambda f: (detect_format(f.path) != "html", f.path.count("/"), f.path))
    return [*files, *failures]


def read_archive(name: str, data: bytes) -> list[Source]:
    """Members of a .zip/.tar(.gz) held in memory as sources (their bytes read), or one failure."""
    sources = _archive_sources(name, lambda: io.BytesIO(data), len(data), ExpansionBudget())
    try:
        return [replace(s, data=s.read(), loader=None) if isinstance(s, SourceFile) else s for s in sources]
    except SourceError as exc:  # read all at once here, so one bad member fails the archive
        return [SourceFailure(name, f"corrupt or unreadable archive ({exc})", unreadable_input=True)]


def _archive_sources(name: str, opener: Callable[[], io.BufferedIOBase], size: int,
                     budget: ExpansionBudget) -> list[Source]:
    """Members of a .zip/.tar(.gz) as sources read later, one at a time, or one failure for the whole
    archive. ``opener`` opens the archive (on disk, or in memory for read_archive)."""
    try:
        if name.lower().endswith(".zip"):
            members = _zip_members(opener, budget)
        else:
            members = _tar_members(opener, size, budget)
    except SourceError as exc:
        return [SourceFailure(name, str(exc), unreadable_input=True)]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, zlib.error, IndexError) as exc:
        return [SourceFailure(name, f"corrupt or unreadable archive ({exc})", unreadable_input=True)]
    except (NotImplementedError, RuntimeError) as exc:  # zipfile: encrypted, unknown method or version
        return [SourceFailure(name, f"unsupported archive ({exc})", unreadable_input=True)]
    sources: list[Source] = []
    for member, payload in members:
        path = member.replace("\\", "/").removeprefix("./")
        label = f"{name}:{member}"
        if is_asset(path) and not (isinstance(payload, str) and unsafe_member_reason(member)):
            continue
        if isinstance(payload, str):
            sources.append(SourceFailure(label, payload, member=path))
        elif any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(path).parts[:-1]) \
                or PurePosixPath(path).name.startswith("._"):
            continue
        elif is_archive(path):
            sources.append(SourceFailure(label, "archives inside archives are not supported", member=path))
        elif len(path) > MAX_PATH_CHARS:
            sources.append(SourceFailure(f"{label[:200]}…", f"its path is {len(path)} characters long, over the "
                                         f"limit of {MAX_PATH_CHARS:,}"))
        else:
            sources.append(SourceFile(path=path, loader=payload))
    return sources


Member = tuple[str, Callable[[], bytes] | str]  # a member's name, and its reader or why it is refused


def _zip_members(opener: Callable[[], io.BufferedIOBase], budget: ExpansionBudget) -> list[Member]:
    max_members, max_total, max_ratio = _archive_limits()
    # Kept open while the run reads its members, one at a time; closed when the last reader goes.
    archive = zipfile.ZipFile(opener())
    try:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > max_members:
            raise SourceError(f"archive has {len(infos)} files, over the limit of {max_members}")
        declared = sum(info.file_size for info in infos)
        if declared > max_total:
            raise SourceError(f"archive expands to {declared / 1048576:.0f} MB, "
                              f"over the limit of {max_total // 1048576} MB")
        for info in infos:  # every member, whatever its size (see RATIO_FLOOR_BYTES)
            error = _ratio_error(info.filename, info.file_size, info.compress_size, max_ratio)
            if error:
                raise SourceError(error)
        budget.take(declared)
    except BaseException:
        archive.close()
        raise
    members: list[Member] = []
    for info in infos:
        reason = unsafe_member_reason(info.filename)
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "links are not allowed in archives"
        if reason is None and info.file_size > _limit_bytes():
            reason = _size_error(info.file_size)
        members.append((info.filename, reason or _zip_reader(archive, info)))
    return members


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        with archive.open(info) as handle:
            # Never trust the declared size (the budgets counted it): read at most one byte past it.
            payload = handle.read(info.file_size + 1)
        if len(payload) > info.file_size:
            raise SourceError(f"archive member {info.filename} is larger than its header says")
        return payload

    return read


def _tar_members(opener: Callable[[], io.BufferedIOBase], size: int, budget: ExpansionBudget) -> list[Member]:
    """A tar's gzip stream is read in order only: each member is copied, in blocks, to a temporary
    folder of the run's (named by number, never by the member's path) and read from there later."""
    max_members, max_total, max_ratio = _archive_limits()
    members: list[Member] = []
    total = 0
    count = 0
    folder = tempfile.TemporaryDirectory(prefix="docsbot-tar-")  # removed with the last reader
    try:
        with opener() as raw, tarfile.open(fileobj=raw, mode="r:*") as archive:
            for info in archive:
                if info.isdir():
                    continue
                count += 1
                if count > max_members:
                    raise SourceError(f"archive has more than {max_members} files, over the limit")
                reason = unsafe_member_reason(info.name)
                if reason is None and (info.issym() or info.islnk()):
                    reason = "links are not allowed in archives"
                elif reason is None and not info.isfile():
                    reason = "special files are not allowed in archives"
                elif reason is None and info.size > _limit_bytes():
                    reason = _size_error(info.size)
                if reason:
                    members.append((info.name, reason))
                    continue
                total += info.size
                if total > max_total:
                    raise SourceError(f"archive expands past the limit of {max_total // 1048576} MB")
                if total > 10 * 1024 * 1024 and total > max_ratio * size:
                    raise SourceError(f"archive has a compression ratio over {max_ratio}:1 (a likely archive bomb)")
                budget.take(info.size)
                spooled = Path(folder.name) / str(count)
                handle = archive.extractfile(info)
                with spooled.open("wb") as out:
                    if handle is not None:
                        shutil.copyfileobj(handle, out, 1024 * 1024)
                members.append((info.name, _spooled_reader(folder, spooled)))
    except BaseException:
        folder.cleanup()
        raise
    return members


def _spooled_reader(folder: tempfile.TemporaryDirectory, path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        assert folder.name  # the reader keeps the folder alive
        return path.read_bytes()

    return read


def _read_file(path: Path, name: str, budget: ExpansionBudget) -> list[Source]:
    """A file as a source read later, or an archive's members; nothing is read into memory here."""
    archive = is_archive(name)  # an archive not read hides which documents it holds
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [SourceFailure(name, f"cannot read file ({exc.strerror or exc})", unreadable_input=archive)]
    if size > _limit_bytes():
        return [SourceFailure(name, _size_error(size), unreadable_input=archive)]
    if archive:
        try:
            return _archive_sources(name, lambda: path.open("rb"), size, budget)
        except OSError as exc:
            return [SourceFailure(name, f"cannot read file ({exc.strerror or exc})", unreadable_input=True)]
    return [SourceFile(path=name, loader=lambda: _read_bounded(path))]


def _read_bounded(path: Path) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(_limit_bytes() + 1)  # it may have grown since it was listed
    if len(data) > _limit_bytes():
        raise SourceError(_size_error(path.stat().st_size))
    return data


def expand_local(path: Path, *, name: str | None = None, budget: ExpansionBudget | None = None) -> list[Source]:
    """A file, an archive or a folder (walked recursively, hidden entries skipped)."""
    budget = budget or ExpansionBudget()
    if not path.exists():
        return [SourceFailure(str(path), "no such file or folder", unreadable_input=True)]
    if path.is_file():
        return _ordered(_read_file(path, name or path.name, budget))
    sources: list[Source] = []
    for child in sorted(path.rglob("*")):
        relative = child.relative_to(path).as_posix()
        if any(part.startswith(".") for part in child.relative_to(path).parts):
            continue
        if child.is_symlink():
            sources.append(SourceFailure(relative, "symbolic links are not followed"))
            continue
        if not child.is_file() or is_asset(relative):
            continue
        sources.extend(_read_file(child, relative, budget))
    return _ordered(sources)


def expand_inputs(inputs: list[str], *, crawl_pages: int | None = None, crawl_depth: int | None = None
                  ) -> Iterator[Source]:
    for item in inputs:
        if item.startswith(("http://", "https://")):
            from docsbot.documents.crawl import crawl

            yield from crawl(item, max_pages=crawl_pages, max_depth=crawl_depth)
        else:
            yield from expand_local(Path(item))


def expand_uploads(uploads: list[tuple[str, Path]], budget: ExpansionBudget | None = None) -> list[Source]:
    """Stored uploads as (original name, stored path)."""
    budget = budget or ExpansionBudget()
    sources: list[Source] = []
    for name, stored in uploads:
        sources.extend(_read_file(stored, name, budget))
    return _ordered(sources)
