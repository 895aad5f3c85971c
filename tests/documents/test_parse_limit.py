"""A per-file parse time limit: one slow file fails alone, with its reason; the rest is indexed."""
from __future__ import annotations

import shutil
import signal
import zlib

from docsbot.documents.models import Document
from docsbot.documents.services import ingest_paths

from .conftest import DOCS


def _slow_pdf(operators: int = 400_000) -> bytes:
    """A ~30 KB PDF whose one content stream holds ``operators`` text operators: seconds of extraction."""
    stream = zlib.compress(b"BT /F1 12 Tf " + b"1 0 0 1 0 0 Tm (word) Tj T* " * operators + b"ET", 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                b"/Resources << /Font << /F1 5 0 R >> >> >>"),
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_it_fails_only_the_file_that_exceeds_the_parse_time_limit(team, tmp_path, settings):
    settings.PARSE_TIME_LIMIT = 2  # the PDF takes half a minute to extract here, many seconds on any machine
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(DOCS / "quickstart.md", folder / "quickstart.md")
    (folder / "slow.pdf").write_bytes(_slow_pdf())
    summary = ingest_paths(team=team, items=[str(folder)])
    assert summary["documents"] == 1, summary
    assert [f["path"] for f in summary["failed"]] == ["slow.pdf"]
    assert "longer than the per-file limit of 2 s (DOCSBOT_PARSE_TIME_LIMIT)" in summary["failed"][0]["error"]
    assert Document.objects.get(team=team, source_path="slow.pdf").status == "failed"
    assert Document.objects.get(team=team, source_path="quickstart.md").status == "indexed"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no timer left behind
