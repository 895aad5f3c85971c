import contextlib

from docsbot.documents.models import Document, IngestRun
from docsbot.documents.services import ingest_run_execute

from .conftest import DOCS


def _upload(api, *names, extra=None, sync=False):
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(DOCS / name, "rb")) for name in names]
        data = {"files": files, **({"sync": "true"} if sync else {})}
        return api.post("/api/v1/documents", data=data, multipart=True)


def test_it_accepts_an_upload_and_reports_progress(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(api, "quickstart.md", "api.html")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued" and len(callbacks) == 1
    ingest_run_execute(run_id=run_id)  # what the worker does with the queued task
    body = api.get(f"/api/v1/ingest-runs/{run_id}").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0
    assert {i["path"]: i["status"] for i in body["items"]} == {"quickstart.md": "indexed", "api.html": "indexed"}
    hits = api.get("/api/v1/search", data={"q": "delete a widget", "k": 2}).json()
    assert hits[0]["url"] == "api.html#delete-widget" and len(hits) == 2
    listed = api.get("/api/v1/documents").json()
    assert {d["source_path"] for d in listed} == {"quickstart.md", "api.html"} and all(d["chunks"] for d in listed)


def test_it_keeps_runs_and_documents_per_team(api, other_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run_id = _upload(api, "quickstart.md").json()["id"]
    ingest_run_execute(run_id=run_id)
    assert other_api.get(f"/api/v1/ingest-runs/{run_id}").status_code == 404
    assert other_api.get("/api/v1/search", data={"q": "acme"}).json() == []
    document = Document.objects.get(source_path="quickstart.md")
    assert other_api.delete(f"/api/v1/documents/{document.pk}").status_code == 404
    assert api.delete(f"/api/v1/documents/{document.pk}").status_code == 204
    assert api.get("/api/v1/search", data={"q": "acme"}).json() == []


def test_a_file_of_an_unsupported_type_fails_alone_and_the_rest_of_the_upload_is_ingested(
        api, tmp_path, settings, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_DIR = tmp_path / "data"
    files = [SimpleUploadedFile("setup.exe", b"MZ\x90\x00"), SimpleUploadedFile("fake.pdf", b"hello"),
             SimpleUploadedFile("quickstart.md", (DOCS / "quickstart.md").read_bytes())]
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/documents", {"files": files}, multipart=True)
    assert response.status_code == 202, response.content
    ingest_run_execute(run_id=response.json()["id"])
    body = api.get(f"/api/v1/ingest-runs/{response.json()['id']}").json()
    items = {item["path"]: item for item in body["items"]}
    assert items["quickstart.md"]["status"] == "indexed"
    assert items["setup.exe"]["status"] == "failed" and items["setup.exe"]["error"].startswith("unsupported file type")
    assert items["fake.pdf"]["status"] == "failed" and "not a PDF" in items["fake.pdf"]["error"]
    stored = [path.name for path in (tmp_path / "data" / "uploads").rglob("*") if path.is_file()]
    assert stored == ["0000-quickstart.md"]  # the refused files were never written
    assert [d.source_path for d in Document.objects.filter(status="indexed")] == ["quickstart.md"]


def test_it_rejects_bad_requests_with_clear_messages(api, settings):
    assert api.post("/api/v1/documents", data={}, multipart=True).status_code in (400, 422)
    assert api.get("/api/v1/search", data={"q": "  "}).json()["detail"] == "q must not be empty"
    assert api.get("/api/v1/search", data={"q": "x", "k": 500}).status_code == 400
    settings.MAX_UPLOAD_MB = 1
    big = DOCS.parent / "big.md"
    response = api.post("/api/v1/documents", data={"files": _Big()}, multipart=True)
    assert response.status_code == 413 and "big.md" in response.json()["detail"]
    assert not IngestRun.objects.exists() and not big.exists()


class _Big:
    """A file-like upload just over 1 MB."""

    name = "big.md"

    def __init__(self):
        import io

        self._buffer = io.BytesIO(b"# Big\n\n" + b"x" * (1024 * 1024 + 1))

    def read(self, *args):
        return self._buffer.read(*args)
