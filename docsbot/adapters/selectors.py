"""Reads for training jobs and adapter versions, always scoped to a team."""
from __future__ import annotations

from django.db.models import QuerySet

from docsbot.adapters.models import AdapterVersion, TrainingEvent, TrainingJob
from docsbot.teams.models import Team


def training_job_get(*, team: Team, job_id: int) -> TrainingJob | None:
    return TrainingJob.objects.filter(team=team, pk=job_id).first()


def training_job_list(*, team: Team) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(team=team)


def training_curve(*, job: TrainingJob) -> list[dict]:
    """(step, loss) points from the job's metrics events, for the live chart."""
    return [{"step": e["data"].get("step"), "loss": e["data"].get("loss")}
            for e in job.events.filter(type=TrainingEvent.Type.METRICS).values("data")
            if e["data"].get("loss") is not None]


def adapter_version_get_promoted(*, team: Team) -> AdapterVersion | None:
    return AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).first()


def adapter_version_get(*, team: Team, number: int) -> AdapterVersion | None:
    return AdapterVersion.objects.filter(team=team, number=number).first()


def adapter_version_list(*, team: Team) -> QuerySet[AdapterVersion]:
    return AdapterVersion.objects.filter(team=team)
