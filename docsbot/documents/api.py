"""Documents API: upload (multipart), ingestion progress, listing, deletion and search."""
from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile

from docsbot.core.errors import AppError
from docsbot.documents import selectors, services
from docsbot.teams.auth import api_rate_limit

router = Router(tags=["documents"])


class IngestRunOut(Schema):
    id: int
    status: str
    phase: str
    origin: str
    sync: bool
    total: int
    processed: int
    progress: float
    items: list[dict]
    summary: dict
    error: str
    created: datetime
    finished: datetime | None


class DocumentOut(Schema):
    id: int
    source_path: str
    url: str
    title: str
    format: str
    status: str
    error: str
    duplicate_of_id: int | None
    chunks: int
    updated: datetime


class HitOut(Schema):
    document: int
    chunk: int
    title: str
    section: str
    url: str
    score: float
    text: str


def _run_out(run) -> dict:
    return {**{f: getattr(run, f) for f in ("id", "status", "phase", "origin", "sync", "total", "processed",
                                            "progress", "items", "summary", "error", "created", "finished")}}


@router.post("/documents", response={202: IngestRunOut}, summary="Upload documents or archives to ingest")
def documents_upload(request: HttpRequest, files: list[UploadedFile] = File(...),
                     sync: bool = Form(False)):
    api_rate_limit(request, "upload")
    run = services.upload_ingest(team=request.auth, files=files, origin="api", sync=sync)
    return 202, _run_out(run)


@router.get("/ingest-runs/{run_id}", response=IngestRunOut, summary="Progress of an ingestion")
def ingest_run_detail(request: HttpRequest, run_id: int):
    run = selectors.ingest_run_get(team=request.auth, run_id=run_id)
    if run is None:
        raise AppError(code="not_found", message="no such ingest run")
    return _run_out(run)


@router.get("/documents", response=list[DocumentOut], summary="The team's documents")
def documents_list(request: HttpRequest):
    from django.db.models import Count

    documents = selectors.document_list(team=request.auth).annotate(chunk_count=Count("chunks"))
    return [{**{f: getattr(d, f) for f in ("id", "source_path", "url", "title", "format", "status", "error",
                                             "duplicate_of_id", "updated")}, "chunks": d.chunk_count}
            for d in documents]


@router.delete("/documents/{document_id}", response={204: None}, summary="Remove a document")
def documents_delete(request: HttpRequest, document_id: int):
    if not services.document_delete(team=request.auth, document_id=document_id):
        raise AppError(code="not_found", message="no such document")
    return 204, None


@router.get("/search", response=list[HitOut], summary="Hybrid search over the team's documents")
def search(request: HttpRequest, q: str, k: int = 5, mode: str = "hybrid"):
    api_rate_limit(request, "search")
    if not q.strip():
        raise AppError(code="invalid", message="q must not be empty")
    if not 1 <= k <= 50:
        raise AppError(code="invalid", message="k must be between 1 and 50")
    if mode not in selectors.SEARCH_MODES:
        raise AppError(code="invalid", message=f"mode must be one of {', '.join(selectors.SEARCH_MODES)}")
    return [hit.as_json() for hit in selectors.chunk_search(team=request.auth, query=q, k=k, mode=mode)]
