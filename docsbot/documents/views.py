"""The admin upload page: multi-file and archive upload, per-upload progress, per-document status."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_POST

from docsbot.core.errors import AppError
from docsbot.documents import services
from docsbot.documents.models import IngestRun
from docsbot.teams.models import Team
from docsbot.teams.selectors import teams_administered


def _teams(request: HttpRequest):
    return teams_administered(user=request.user)  # the admin's one team scope (teams/admin_scope.py)


def _team(request: HttpRequest, team_id: str | int | None) -> Team:
    try:
        return _teams(request).get(pk=int(team_id or 0))
    except (Team.DoesNotExist, ValueError):
        raise Http404("no such team") from None


RECENT_RUNS = 20


def _run_json(run: IngestRun) -> dict:
    return {"id": run.pk, "team": run.team.slug, "status": run.status, "phase": run.phase, "total": run.total,
            "processed": run.processed, "progress": run.progress, "items": run.items, "summary": run.summary,
            "error": run.error}


def _recent_runs(request: HttpRequest):
    return IngestRun.objects.filter(team__in=_teams(request)).select_related("team")[:RECENT_RUNS]


@staff_member_required
@require_GET
def upload_page(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Upload documentation", "teams": list(_teams(request)),
               "runs": _recent_runs(request), "max_upload_mb": settings.MAX_UPLOAD_MB}
    return render(request, "documents/upload.html", context)


@staff_member_required
@require_GET
def recent_runs(request: HttpRequest) -> JsonResponse:
    """The page's "Recent ingestions" table, refreshed while runs are queued or running (any door: a CLI
    ingest or an API upload shows up too)."""
    return JsonResponse({"runs": [
        {"id": run.pk, "team": run.team.slug, "origin": run.origin, "status": run.status, "outcome": run.outcome,
         "processed": run.processed, "total": run.total, "created": date_format(localtime(run.created), "DATETIME_FORMAT")}
        for run in _recent_runs(request)]})


@staff_member_required
@require_POST
def upload_submit(request: HttpRequest) -> JsonResponse:
    team = _team(request, request.POST.get("team"))
    try:
        run = services.upload_ingest(team=team, files=request.FILES.getlist("files"), origin="admin",
                                     sync=request.POST.get("sync") == "on")
    except AppError as refused:
        return JsonResponse({"error": refused.message}, status=refused.http_status)
    return JsonResponse(_run_json(run), status=202)


@staff_member_required
@require_POST
def resync(request: HttpRequest, team_id: int) -> JsonResponse:
    """Ingest the team's last upload again: changed files re-indexed; missing documents removed only
    when that upload was a sync upload (a complete set), never after a partial one."""
    team = _team(request, team_id)
    last = services.resync_source_run(team=team)
    if last is None:
        return JsonResponse({"error": "this team has no upload to re-sync from"}, status=400)
    run = services.ingest_run_start(team=team, origin="admin", inputs=last.inputs, sync=last.sync)
    return JsonResponse(_run_json(run), status=202)


@staff_member_required
@require_GET
def run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    run = IngestRun.objects.select_related("team").filter(pk=run_id, team__in=_teams(request)).first()
    if run is None:
        raise Http404("no such ingest run")
    return JsonResponse(_run_json(run))
