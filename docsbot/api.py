"""The HTTP API under /api/v1/, one router per app, authenticated by team token."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as RefusedValue
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from docsbot.core.errors import AppError, app_error
from docsbot.teams.auth import TeamTokenAuth

api = NinjaAPI(
    title="docsbot API",
    version="1",
    urls_namespace="api-v1",
    auth=TeamTokenAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError):
    return api.create_response(
        request, {"detail": "Missing or invalid team token (Authorization: Bearer ...)"}, status=401
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError):
    return api.create_response(request, {"detail": "Invalid request", "errors": exc.errors}, status=422)


@api.exception_handler(AppError)
@api.exception_handler(RefusedValue)
def _app_error(request: HttpRequest, exc: AppError | RefusedValue):
    """Every service's refusal, at its code's status (docsbot.core.errors)."""
    error = app_error(exc)
    response = api.create_response(request, {"detail": error.message, "code": error.code}, status=error.http_status)
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(TooManyFilesSent)
def _too_many_files(request: HttpRequest, exc: TooManyFilesSent):
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return api.create_response(request, {"detail": f"at most {limit} files per request; send an archive "
                                                   "(.zip or .tar.gz) or several requests"}, status=400)


@api.exception_handler(TooManyFieldsSent)
def _too_many_fields(request: HttpRequest, exc: TooManyFieldsSent):
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return api.create_response(request, {"detail": f"at most {limit} form fields per request"}, status=400)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError):
    response = api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _register_routers() -> None:
    from docsbot.teams.api import router as teams_router

    api.add_router("/", teams_router)
    for module in ("documents", "qa", "adapters", "chat"):
        api.add_router("/", __import__(f"docsbot.{module}.api", fromlist=["router"]).router)


_register_routers()
