from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from docsbot.documents.models import IngestRun
from docsbot.documents.services import ingest_run_execute
from docsbot.teams.models import Membership

from .conftest import DOCS


def _staff(team, role=Membership.Role.ADMIN, username="ann"):
    user = get_user_model().objects.create_user(username, password="pw-123456789", is_staff=True)
    Membership.objects.create(team=team, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_it_uploads_through_the_admin_page_and_shows_status(team, django_capture_on_commit_callbacks):
    client = _staff(team)
    page = client.get(reverse("documents:upload"))
    assert page.status_code == 200 and b'type="file"' in page.content and b"multiple" in page.content
    hostile = b"<h1>Evil <script>alert(1)</script></h1><p>x<img src=x onerror=alert(2)></p>"
    with django_capture_on_commit_callbacks(execute=False), open(DOCS / "quickstart.md", "rb") as md:
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = client.post(reverse("documents:upload-submit"), {
            "team": team.pk, "files": [md, SimpleUploadedFile("<b>evil</b>.html", hostile)]})
    assert response.status_code == 202
    run_id = response.json()["id"]
    ingest_run_execute(run_id=run_id)
    status = client.get(reverse("documents:run-status", args=[run_id])).json()
    assert status["status"] == "succeeded"
    assert {i["status"] for i in status["items"]} == {"indexed"}
    listing = client.get(reverse("documents:upload")).content
    assert b"<script>alert" not in listing and b"onerror=alert" not in listing


def test_it_resyncs_from_the_last_upload(team, django_capture_on_commit_callbacks):
    client = _staff(team)
    with django_capture_on_commit_callbacks(execute=False), open(DOCS / "deploying.rst", "rb") as rst:
        first = client.post(reverse("documents:upload-submit"), {"team": team.pk, "files": [rst]}).json()["id"]
    ingest_run_execute(run_id=first)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("documents:resync", args=[team.pk]))
    assert response.status_code == 202
    summary = ingest_run_execute(run_id=response.json()["id"])
    # A plain upload is re-read without removing anything (see the partial-upload test below).
    assert summary["unchanged"] == 1 and not IngestRun.objects.get(pk=response.json()["id"]).sync


def test_it_keeps_members_out_of_other_teams(team, other_team):
    client = _staff(team, role=Membership.Role.MEMBER)
    assert client.post(reverse("documents:upload-submit"), {"team": team.pk}).status_code == 404
    owner = _staff(other_team, role=Membership.Role.OWNER, username="bob")
    run = IngestRun.objects.create(team=team)
    assert owner.get(reverse("documents:run-status", args=[run.pk])).status_code == 404
    assert owner.post(reverse("documents:resync", args=[team.pk])).status_code == 404


def test_it_keeps_only_the_upload_a_resync_needs(team, django_capture_on_commit_callbacks):
    client = _staff(team)
    runs = []
    for name in ("deploying.rst", "quickstart.md"):
        with django_capture_on_commit_callbacks(execute=False), open(DOCS / name, "rb") as handle:
            runs.append(client.post(reverse("documents:upload-submit"), {"team": team.pk, "files": [handle]}).json()["id"])
    # Both stored before either ran: finishing the first deletes its files (a newer upload exists)
    # and leaves the second's, still queued, alone.
    first, second = (IngestRun.objects.get(pk=pk) for pk in runs)
    ingest_run_execute(run_id=first.pk)
    assert not Path(first.inputs[0]["value"]).parent.exists()
    assert Path(second.inputs[0]["value"]).exists()
    ingest_run_execute(run_id=second.pk)
    assert Path(second.inputs[0]["value"]).exists()  # the latest: re-sync reads it again
    with django_capture_on_commit_callbacks(execute=False):
        resync = client.post(reverse("documents:resync", args=[team.pk])).json()["id"]
    summary = ingest_run_execute(run_id=resync)
    # deploying.rst left with the old upload, but the last one was not a sync upload: it stays.
    assert summary["unchanged"] == 1 and summary["removed"] == 0
    assert Path(second.inputs[0]["value"]).exists()


def _upload(client, team, name, capture, sync=False) -> int:
    data = {"team": team.pk, "sync": "on"} if sync else {"team": team.pk}
    with capture(execute=False), open(DOCS / name, "rb") as handle:
        run_id = client.post(reverse("documents:upload-submit"), {**data, "files": [handle]}).json()["id"]
    ingest_run_execute(run_id=run_id)
    return run_id


def _resync(client, team, capture) -> IngestRun:
    with capture(execute=False):
        response = client.post(reverse("documents:resync", args=[team.pk]))
    assert response.status_code == 202
    ingest_run_execute(run_id=response.json()["id"])
    return IngestRun.objects.get(pk=response.json()["id"])


def test_it_resyncs_a_partial_upload_without_removing_earlier_uploads_documents(
        team, django_capture_on_commit_callbacks):
    client, capture = _staff(team), django_capture_on_commit_callbacks
    _upload(client, team, "deploying.rst", capture, sync=True)
    _upload(client, team, "quickstart.md", capture)  # a plain upload: one more file, not the whole set
    partial = _resync(client, team, capture)
    assert not partial.sync and partial.summary["removed"] == 0 and partial.summary["unchanged"] == 1
    assert set(team.documents.values_list("source_path", flat=True)) == {"deploying.rst", "quickstart.md"}

    # A sync upload declares the whole set: it removes what it lacks, and so does a re-sync from it.
    _upload(client, team, "quickstart.md", capture, sync=True)
    assert set(team.documents.values_list("source_path", flat=True)) == {"quickstart.md"}
    complete = _resync(client, team, capture)
    assert complete.sync and complete.summary["unchanged"] == 1


def test_the_admin_page_refuses_what_the_api_refuses_and_stores_nothing(team, api, settings, tmp_path):
    """One upload path: the admin page and the API give the same refusal, before anything is stored."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_DIR = tmp_path / "data"
    client = _staff(team)
    cases = {"notes.docx": (415, "unsupported file type"), "fake.pdf": (400, "not a PDF")}
    for name, (status, message) in cases.items():
        via_admin = client.post(reverse("documents:upload-submit"),
                                {"team": team.pk, "files": [SimpleUploadedFile(name, b"hello")]})
        via_api = api.post("/api/v1/documents", {"files": [SimpleUploadedFile(name, b"hello")]}, multipart=True)
        assert (via_admin.status_code, via_api.status_code) == (status, status), name
        assert message in via_admin.json()["error"] and message in via_api.json()["detail"], name
    assert not IngestRun.objects.filter(team=team).exists()
    assert not (tmp_path / "data" / "uploads").exists()


def test_the_admin_index_links_the_upload_analytics_and_review_pages(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for link in (reverse("documents:upload"), reverse("admin:chat_analytics"),
                 reverse("admin:chat_reviewitem_changelist")):
        assert f'href="{link}"' in page, link
    assert 'href="/widget/demo"' in page  # "View site": the widget's page, not a 404 at /
