"""``GET /health``: a public liveness probe; ``GET /health/detail``: every component, for operators.

The public probe touches nothing (no database, broker or worker round trip) and says nothing
about the deployment: load balancers and container health checks may call it as often as they
like. The detail view names internal URLs, queues and errors, so it answers only a staff session
or an admin-role API token (``Authorization: Bearer ...``).
"""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from docsbot.core.health import health_report


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _detail_denied(request: HttpRequest) -> JsonResponse | None:
    """None when the caller may see the detail view, else the 401/403 to send."""
    from docsbot.teams.models import ApiToken
    from docsbot.teams.selectors import api_token_for

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        record = api_token_for(token=token.strip())
        if record is None:
            return _unauthorized("invalid or revoked API token")
        if record.role != ApiToken.Role.ADMIN:
            return JsonResponse({"detail": "the health detail needs an admin-role API token"}, status=403)
        return None
    if user is not None and user.is_authenticated:
        return JsonResponse({"detail": "the health detail needs a staff user"}, status=403)
    return _unauthorized("log in as staff or send an admin-role API token (Authorization: Bearer ...)")


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"detail": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="docsbot"'
    return response


@require_GET
def health_detail(request: HttpRequest) -> JsonResponse:
    denied = _detail_denied(request)
    if denied is not None:
        return denied
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
