from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from docsbot.core.health import health_report


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
