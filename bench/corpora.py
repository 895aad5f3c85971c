"""The documentation sets the benches run on, and how each becomes a folder of pages a user would upload.

Flask and Requests come from ../shared/corpora; the others are Debian documentation packages, installed
with apt-get when missing. The generators were tuned on Flask: quality figures never use it, and pair
precision reports it apart from the sets nobody tuned for.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPORA = ROOT.parent / "shared" / "corpora"


@dataclass(frozen=True)
class Corpus:
    name: str
    source: str  # a tarball, or a folder of HTML
    debian_package: str = ""
    tuned_on: bool = False  # the generators' rules were developed on it


CORPORA = {
    "flask": Corpus("flask", str(SHARED_CORPORA / "flask-2.2-docs.tar.gz"), tuned_on=True),
    "requests": Corpus("requests", str(SHARED_CORPORA / "requests-2.28-docs.tar.gz")),
    "celery": Corpus("celery", "/usr/share/doc/python-celery-doc/html", "python-celery-doc"),
    "drf": Corpus("drf", "/usr/share/doc/python3-djangorestframework/html", "python-djangorestframework-doc"),
    # Git's man pages and guides (AsciiDoc HTML: option lists, not Sphinx), its release notes left out.
    "git": Corpus("git", "/usr/share/doc/git-doc", "git-doc"),
}


def pages_folder(corpus: Corpus, scratch: Path) -> Path:
    """A folder of the corpus's HTML pages only (no Sphinx _sources/_static/_modules, no search or
    index pages), as a user uploads them."""
    source = Path(corpus.source)
    if not source.exists() and corpus.debian_package:
        print(f"installing {corpus.debian_package} (apt-get)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", corpus.debian_package], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True)
    if not source.exists():
        hint = f"apt-get install {corpus.debian_package}" if corpus.debian_package else f"see {SHARED_CORPORA}"
        raise SystemExit(f"corpus {corpus.name}: {source} not found ({hint})")
    target = scratch / corpus.name
    if source.is_file():
        with tarfile.open(source) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".html")
                       and not _private(m.name.split("html/", 1)[-1])]
            archive.extractall(target, members=members, filter="data")
        return target / "html"
    for page in source.rglob("*.html"):
        relative = page.relative_to(source)
        if not _private(str(relative)):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(page.read_bytes())
    return target


def _private(relative: str) -> bool:
    return (any(part.startswith("_") for part in Path(relative).parts)
            or Path(relative).name in ("search.html", "genindex.html", "py-modindex.html")
            or relative.startswith("RelNotes"))
