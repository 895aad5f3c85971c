"""One application error: its code alone decides the API's status, a command's exit status and an
admin message's level, whichever service raised it."""
from __future__ import annotations

import pytest
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from docsbot.adapters.models import TrainingJob
from docsbot.core.errors import CODES, AppError, admin_error, app_error, command_error


def test_it_refuses_an_unknown_code():
    with pytest.raises(ValueError, match="unknown error code"):
        AppError("x", code="teapot")


def test_it_treats_a_django_validation_error_as_invalid():
    error = app_error(ValidationError(["rank: too big", "alpha: negative"]))
    assert (error.code, error.message, error.http_status) == ("invalid", "rank: too big; alpha: negative", 400)


def test_it_maps_each_code_to_an_exit_status_and_an_admin_level():
    for code, mapped in CODES.items():
        assert command_error(AppError("m", code=code)).returncode == mapped.exit_status > 1
    shown = []

    class Admin:
        def message_user(self, request, message, level):
            shown.append((message, level))

    admin_error(Admin(), None, AppError("already running", code="conflict"), prefix="job 3: ")
    admin_error(Admin(), None, ValidationError("bad"))
    assert shown == [("job 3: already running", messages.WARNING), ("bad", messages.ERROR)]


@pytest.mark.django_db
def test_it_answers_the_api_with_the_codes_status_and_the_code(api, team):
    job = TrainingJob.objects.create(team=team, status=TrainingJob.Status.SUCCEEDED)
    refused = api.post(f"/api/v1/training-jobs/{job.pk}/cancel", {})
    assert refused.status_code == 409 and refused.json() == {"detail": f"job {job.pk} already succeeded",
                                                             "code": "conflict"}
    upload = api.post("/api/v1/documents", {"files": [_file("notes.exe", b"MZ")]}, multipart=True)
    assert upload.status_code == 415 and upload.json()["code"] == "unsupported_type"


@pytest.mark.django_db
def test_it_exits_a_command_with_the_codes_status():
    with pytest.raises(CommandError) as raised:
        call_command("promote", "--team", "nobody", "--version", "1")
    assert raised.value.returncode == CODES["not_found"].exit_status and "createteam nobody" in str(raised.value)


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_an_api_number_past_what_the_database_stores_is_a_422_not_a_500(api):
    huge = "99999999999999999999"
    for path in (f"/api/v1/qa/pairs?offset={huge}", f"/api/v1/qa/pairs?document={2 ** 63}",
                 f"/api/v1/ingest-runs/{huge}", f"/api/v1/training-jobs/{huge}"):
        response = api.get(path)
        assert response.status_code == 422 and "out of range" in response.json()["detail"], path
    assert api.get(f"/api/v1/qa/pairs?offset={2 ** 63 - 1}").status_code == 200  # the largest that fits
