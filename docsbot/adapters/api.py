"""Training jobs and adapter versions over HTTP, scoped to the token's team."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema

from docsbot.adapters import selectors, services
from docsbot.adapters.models import TrainingJob
from docsbot.core.errors import AppError
from docsbot.teams.auth import api_rate_limit

router = Router(tags=["adapters"])


class TrainingJobIn(Schema):
    method: Literal["lora", "qlora", "dora", "ia3", "prompt_tuning", "prefix_tuning", "bottleneck"] = "lora"
    hyperparameters: dict[str, Any] = {}


class EventOut(Schema):
    level: str
    type: str
    message: str
    data: dict[str, Any]
    created: datetime


class TrainingJobOut(Schema):
    id: int
    status: str
    method: str
    hyperparameters: dict[str, Any]
    config: dict[str, Any]
    step: int
    total_steps: int
    loss: float | None
    eta_seconds: float | None
    error: str
    trigger: str
    reason: str
    changes: dict[str, Any]
    created: datetime
    started: datetime | None
    finished: datetime | None
    adapter_version: int | None
    events: list[EventOut]

    @staticmethod
    def resolve_adapter_version(job: TrainingJob) -> int | None:
        version = getattr(job, "adapter_version", None)
        return version.number if version else None

    @staticmethod
    def resolve_events(job: TrainingJob) -> list:
        return list(job.events.exclude(type="metrics").order_by("-created", "-id")[:50])[::-1]


class AdapterVersionOut(Schema):
    number: int
    status: str
    method: str
    rank: int
    servable_by: list[str]
    metrics: dict[str, Any]
    dataset_hash: str
    created: datetime
    promoted_at: datetime | None


def _job_or_404(request: HttpRequest, job_id: int) -> TrainingJob:
    job = selectors.training_job_get(team=request.auth, job_id=job_id)
    if job is None:
        raise AppError(code="not_found", message=f"no training job {job_id}")
    return job


@router.post("/training-jobs", response={201: TrainingJobOut}, summary="Queue a training job for the team")
def training_job_create(request: HttpRequest, payload: TrainingJobIn):
    api_rate_limit(request, "training")
    job = services.training_job_create(team=request.auth, method=payload.method,
                                       hyperparameters=payload.hyperparameters)
    return 201, job


@router.get("/training-jobs", response=list[TrainingJobOut], summary="The team's recent training jobs")
def training_job_list(request: HttpRequest):
    return list(selectors.training_job_list(team=request.auth)[:20])


@router.get("/training-jobs/{job_id}", response=TrainingJobOut, summary="A training job, with its progress")
def training_job_detail(request: HttpRequest, job_id: int):
    return _job_or_404(request, job_id)


@router.post("/training-jobs/{job_id}/cancel", response=TrainingJobOut, summary="Cancel a training job")
def training_job_cancel(request: HttpRequest, job_id: int):
    return services.training_job_cancel(job=_job_or_404(request, job_id))


@router.get("/adapter-versions", response=list[AdapterVersionOut], summary="The team's adapter versions")
def adapter_version_list(request: HttpRequest):
    return list(selectors.adapter_version_list(team=request.auth))


@router.post("/adapter-versions/rollback", response=AdapterVersionOut,
             summary="Make the version that was live before the current one live again")
def adapter_version_rollback(request: HttpRequest):
    return services.adapter_version_rollback(team=request.auth, actor="api")


@router.post("/adapter-versions/{number}/promote", response=AdapterVersionOut,
             summary="Make a version the team's live adapter (serving hot-loads it)")
def adapter_version_promote(request: HttpRequest, number: int):
    version = selectors.adapter_version_list(team=request.auth).filter(number=number).first()
    if version is None:
        raise AppError(code="not_found", message=f"no adapter version {number}")
    return services.adapter_version_promote(version=version, actor="api")


def _add_learning_routes() -> None:
    from docsbot.adapters.learning_api import router as learning_router

    router.add_router("", learning_router)


_add_learning_routes()
