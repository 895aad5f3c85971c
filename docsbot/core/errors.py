"""The one application error, and the one place each surface turns it into what it shows.

Services raise ``AppError(message, code=...)`` for a failure the caller can fix or must be told
about (Django's ``ValidationError``, which services also raise for refused values, counts as
``invalid``). The code alone decides the HTTP status (the API and the widget/webhook views), the
exit status of a management command, and the level of an admin message; services never carry
an HTTP status.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Code:
    http_status: int
    exit_status: int
    admin_level: int = messages.ERROR


CODES: dict[str, Code] = {
    "invalid": Code(400, 2),  # the request's values are refused; fix them and send again
    "unauthenticated": Code(401, 3),
    "forbidden": Code(403, 3),
    "not_found": Code(404, 4),
    "conflict": Code(409, 5, messages.WARNING),  # the state does not allow it now (already running, ...)
    "too_large": Code(413, 2),
    "unsupported_type": Code(415, 2),
    "quota": Code(429, 6, messages.WARNING),
    "unavailable": Code(503, 7, messages.WARNING),  # a service docsbot needs is down; try again later
}


class AppError(Exception):
    """A failure the caller can act on; ``code`` is a key of ``CODES``."""

    def __init__(self, message: str, *, code: str = "invalid", retry_after: int | None = None):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after  # seconds, for a quota: the HTTP Retry-After header

    @property
    def http_status(self) -> int:
        return CODES[self.code].http_status


REFUSED = (AppError, ValidationError)  # what a caller catches to show a service's refusal


def app_error(exc: AppError | ValidationError) -> AppError:
    """``exc`` as an AppError: a Django ValidationError is ``invalid``, its messages joined."""
    if isinstance(exc, AppError):
        return exc
    return AppError("; ".join(exc.messages), code="invalid")


def command_error(exc: AppError | ValidationError):
    """The CommandError a management command raises for ``exc``: its message, the code's exit status."""
    from django.core.management.base import CommandError

    error = app_error(exc)
    return CommandError(error.message, returncode=CODES[error.code].exit_status)


def admin_error(model_admin, request, exc: AppError | ValidationError, *, prefix: str = "") -> None:
    """Show ``exc`` as an admin message at its code's level."""
    error = app_error(exc)
    model_admin.message_user(request, f"{prefix}{error.message}", level=CODES[error.code].admin_level)
