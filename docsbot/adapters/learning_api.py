"""Continuous learning over HTTP (issue 20), scoped to the token's team: A/B experiments
(/experiments), the audit trail (/events) and the retrain-on-change settings (/retrain-policy)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema

from docsbot.adapters import events, experiments, retrain
from docsbot.adapters.models import AdapterVersion, Event, Experiment, RetrainPolicy
from docsbot.core.errors import AppError

router = Router(tags=["continuous learning"])


# --- experiments ------------------------------------------------------------------------------

class ExperimentIn(Schema):
    candidate: int  # version number
    traffic_share: float = 0.5
    days: float = experiments.DEFAULT_DAYS
    min_rated: int = 30
    alpha: float = 0.05


class ExperimentEndIn(Schema):
    outcome: Literal["promote", "rollback", "cancel"]
    reason: str = ""


class ExperimentOut(Schema):
    id: int
    status: str
    outcome: str
    reason: str
    control: int
    candidate: int
    traffic_share: float
    min_rated: int
    alpha: float
    started: datetime
    ends_by: datetime
    ended: datetime | None
    results: dict[str, Any]

    @staticmethod
    def resolve_control(experiment: Experiment) -> int:
        return experiment.control.number

    @staticmethod
    def resolve_candidate(experiment: Experiment) -> int:
        return experiment.candidate.number

    @staticmethod
    def resolve_results(experiment: Experiment) -> dict[str, Any]:
        if experiment.status == Experiment.Status.RUNNING:
            return experiments.experiment_results(experiment=experiment)
        return experiment.results


def _experiment_or_404(request: HttpRequest, experiment_id: int) -> Experiment:
    experiment = experiments.experiment_get(team=request.auth, experiment_id=experiment_id)
    if experiment is None:
        raise AppError(code="not_found", message=f"no experiment {experiment_id}")
    return experiment


@router.get("/experiments", response=list[ExperimentOut], summary="The team's A/B experiments, newest first")
def experiment_list(request: HttpRequest):
    return list(experiments.experiment_list(team=request.auth)[:50])


@router.post("/experiments", response={201: ExperimentOut},
             summary="Start an A/B experiment of a candidate version against the live one")
def experiment_create(request: HttpRequest, payload: ExperimentIn):
    candidate = AdapterVersion.objects.filter(team=request.auth, number=payload.candidate).first()
    if candidate is None:
        raise AppError(code="not_found", message=f"no adapter version {payload.candidate}")
    experiment = experiments.experiment_start(
        team=request.auth, candidate=candidate, traffic_share=payload.traffic_share, days=payload.days,
        min_rated=payload.min_rated, alpha=payload.alpha, actor="api")
    return 201, experiments.experiment_get(team=request.auth, experiment_id=experiment.pk)


@router.get("/experiments/{experiment_id}", response=ExperimentOut,
            summary="An experiment with each version's figures, significance and sample size still needed")
def experiment_detail(request: HttpRequest, experiment_id: int):
    return _experiment_or_404(request, experiment_id)


@router.post("/experiments/{experiment_id}/end", response=ExperimentOut,
             summary="End an experiment now: promote the candidate, roll it back, or cancel")
def experiment_end(request: HttpRequest, experiment_id: int, payload: ExperimentEndIn):
    experiment = _experiment_or_404(request, experiment_id)
    outcome = {"promote": Experiment.Outcome.PROMOTED, "rollback": Experiment.Outcome.ROLLED_BACK,
               "cancel": Experiment.Outcome.CANCELLED}[payload.outcome]
    experiments.experiment_end(experiment=experiment, outcome=outcome, actor="api",
                               reason=payload.reason.strip()[:2000] or f"ended through the API ({payload.outcome})")
    return _experiment_or_404(request, experiment_id)


@router.post("/experiments/{experiment_id}/evaluate", response=ExperimentOut,
             summary="Apply the decision rule now (it also runs after every vote and every 5 minutes)")
def experiment_evaluate(request: HttpRequest, experiment_id: int):
    experiment = _experiment_or_404(request, experiment_id)
    if experiment.status == Experiment.Status.RUNNING:
        experiments.experiment_evaluate(experiment=experiment)
    return _experiment_or_404(request, experiment_id)


# --- events -----------------------------------------------------------------------------------

class EventOut(Schema):
    id: int
    kind: str
    reason: str
    actor: str
    data: dict[str, Any]
    job: int | None
    version: int | None
    experiment: int | None
    reverted_by: int | None
    revertible: bool
    created: datetime

    @staticmethod
    def resolve_job(event: Event) -> int | None:
        return event.job_id

    @staticmethod
    def resolve_version(event: Event) -> int | None:
        return event.version.number if event.version_id else None

    @staticmethod
    def resolve_experiment(event: Event) -> int | None:
        return event.experiment_id

    @staticmethod
    def resolve_reverted_by(event: Event) -> int | None:
        return event.reverted_by_id

    @staticmethod
    def resolve_revertible(event: Event) -> bool:
        return events.event_revertible(event)


@router.get("/events", response=list[EventOut],
            summary="The audit trail: retrains queued, experiments, promotions and rollbacks, with reasons")
def event_list(request: HttpRequest, kind: str | None = None, limit: int = 100):
    if kind is not None and kind not in Event.Kind.values:
        raise AppError(code="invalid", message=f"kind: one of {', '.join(Event.Kind.values)}")
    return list(events.event_list(team=request.auth, kind=kind)[:max(1, min(limit, 500))])


@router.post("/events/{event_id}/revert", response=EventOut, summary="Undo the action an event recorded")
def event_revert(request: HttpRequest, event_id: int):
    event = events.event_get(team=request.auth, event_id=event_id)
    if event is None:
        raise AppError(code="not_found", message=f"no event {event_id}")
    return events.event_revert(event=event, actor="api")


# --- retrain on change ------------------------------------------------------------------------

class RetrainPolicyIn(Schema):
    enabled: bool | None = None
    threshold_percent: float | None = None
    threshold_chunks: int | None = None
    schedule: Literal["", "daily", "weekly"] | None = None
    schedule_hour: int | None = None


class RetrainPolicyOut(Schema):
    enabled: bool
    threshold_percent: float
    threshold_chunks: int
    schedule: str
    schedule_hour: int
    baseline_at: datetime | None
    due_at: datetime | None
    pending: dict[str, Any]


@router.get("/retrain-policy", response=RetrainPolicyOut, summary="The team's retrain-on-change settings")
def retrain_policy_detail(request: HttpRequest) -> RetrainPolicy:
    return retrain.retrain_policy_get(team=request.auth)


@router.put("/retrain-policy", response=RetrainPolicyOut, summary="Change the team's retrain-on-change settings")
def retrain_policy_update(request: HttpRequest, payload: RetrainPolicyIn) -> RetrainPolicy:
    values = {key: value for key, value in payload.dict().items() if value is not None}
    return retrain.retrain_policy_update(team=request.auth, **values)
