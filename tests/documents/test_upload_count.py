"""More files in one upload than the request may carry: the API's JSON error, not Django's HTML 400."""
from django.core.files.uploadedfile import SimpleUploadedFile

from docsbot.documents.models import IngestRun


def test_it_refuses_more_than_a_hundred_files_with_a_json_400(api, settings):
    files = [SimpleUploadedFile(f"page-{n}.md", b"# Page\n") for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]
    response = api.post("/api/v1/documents", data={"files": files}, multipart=True)
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("at most 100 files per request; send an archive")
    assert not IngestRun.objects.exists()
