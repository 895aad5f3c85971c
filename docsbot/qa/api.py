"""/api/v1/qa/...: start generation runs, list pairs, import and export JSONL."""
from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from docsbot.core.errors import AppError
from docsbot.qa.models import GenerationRun, QAPair

router = Router(tags=["qa"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class GenerateIn(Schema):
    generator: str | None = None


class RunOut(Schema):
    id: int
    status: str
    generator: str
    done: int
    total: int
    percent: int
    summary: dict
    error: str


class PairOut(Schema):
    id: int
    question: str
    answer: str
    generator: str
    kind: str
    status: str
    split: str
    scores: dict
    reject_reason: str
    document_id: int | None
    chunk_id: int | None


class PairPage(Schema):
    count: int
    counts: dict
    results: list[PairOut]


@router.post("/qa/generate", response={202: RunOut}, summary="Start a pair generation run (Celery)")
def generate(request: HttpRequest, payload: GenerateIn | None = None):
    """With no body, the team's own generator setting."""
    from docsbot.documents.models import Chunk
    from docsbot.qa.services import generation_run_start

    if not Chunk.objects.filter(team=request.auth).exists():
        raise AppError(code="invalid", message="this team has no documents; ingest some first")
    with transaction.atomic():
        run = generation_run_start(team=request.auth, generator=payload.generator if payload else None)
    return 202, run


@router.get("/qa/runs/{run_id}", response=RunOut, summary="A generation run's progress and summary")
def run_get(request: HttpRequest, run_id: int):
    run = GenerationRun.objects.filter(team=request.auth, pk=run_id).first()
    if run is None:
        raise AppError(code="not_found", message="no such run")
    return run


@router.get("/qa/pairs", response=PairPage, summary="List pairs, filtered")
def pairs(request: HttpRequest, status: str | None = None, generator: str | None = None, split: str | None = None,
          document: int | None = None, limit: int = 100, offset: int = 0):
    from docsbot.qa.selectors import pair_counts, pair_list

    if status and status not in QAPair.Status.values:
        raise AppError(code="invalid", message=f"status must be one of {', '.join(QAPair.Status.values)}")
    found = pair_list(team=request.auth, status=status, generator=generator, split=split, document_id=document)
    limit = max(1, min(limit, 1000))
    return {"count": found.count(), "counts": pair_counts(team=request.auth),
            "results": list(found[max(offset, 0):max(offset, 0) + limit])}


@router.get("/qa/export", summary="Trainable pairs as OpenAI chat fine-tuning JSONL")
def export(request: HttpRequest, context: bool = False):
    from docsbot.qa.selectors import pairs_export_jsonl

    response = StreamingHttpResponse(pairs_export_jsonl(team=request.auth, with_context=context),
                                     content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="{request.auth.slug}-pairs.jsonl"'
    return response


@router.post("/qa/import", summary="Import OpenAI chat fine-tuning JSONL (bad lines are reported)")
def import_jsonl(request: HttpRequest, file: UploadedFile = File(...)):
    from docsbot.qa.services import pairs_import_jsonl
    from docsbot.teams.auth import api_rate_limit

    api_rate_limit(request, "import")
    if file.size and file.size > MAX_IMPORT_BYTES:
        raise AppError(code="too_large", message=f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    report = pairs_import_jsonl(team=request.auth, lines=file.read().splitlines())
    status = 200 if report.imported or not report.errors else 400
    return request_response(status, report.as_dict())


def request_response(status: int, body: dict):
    from django.http import JsonResponse

    return JsonResponse(body, status=status)
