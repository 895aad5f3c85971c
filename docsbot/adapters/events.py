"""The audit trail: every automatic action on a team's adapters is an Event with its reason (issue 20).

Writers call ``event_record``; ``event_revert`` undoes one action in one step (the admin's
"Revert" button and ``POST /api/v1/events/{id}/revert``).
"""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from docsbot.adapters.models import AdapterVersion, Event, Experiment, TrainingJob
from docsbot.core.errors import AppError
from docsbot.teams.models import Team

log = logging.getLogger(__name__)

# What can be undone, and how (see event_revert).
REVERSIBLE = (Event.Kind.RETRAIN_QUEUED, Event.Kind.RETRAIN_SCHEDULED, Event.Kind.EXPERIMENT_STARTED,
              Event.Kind.PROMOTED, Event.Kind.ROLLED_BACK)


def event_record(*, team: Team, kind: str, reason: str, actor: str = "auto", data: dict[str, Any] | None = None,
                 job: TrainingJob | None = None, version: AdapterVersion | None = None,
                 experiment: Experiment | None = None) -> Event:
    log.info("team %s: %s (%s): %s", team.slug, kind, actor, reason)
    return Event.objects.create(team=team, kind=kind, reason=reason, actor=actor or "auto", data=data or {},
                                job=job, version=version, experiment=experiment)


def event_list(*, team: Team, kind: str | None = None) -> QuerySet[Event]:
    events = Event.objects.filter(team=team).select_related("job", "version", "experiment")
    return events.filter(kind=kind) if kind else events


def event_get(*, team: Team, event_id: int) -> Event | None:
    return Event.objects.filter(team=team, pk=event_id).first()


def event_revertible(event: Event) -> bool:
    return event.kind in REVERSIBLE and event.reverted_by_id is None


def event_revert(*, event: Event, actor: str) -> Event:
    """Undo the action ``event`` recorded; returns the new event that says so.

    - retrain queued: the job is cancelled (at once if still queued, at its next step if running);
    - retrain scheduled: the pending retrain is dropped;
    - experiment started: the experiment ends, cancelled (the control stays live);
    - promoted: the version live before it is promoted again;
    - rolled back: the version rolled back from is promoted again.
    """
    from docsbot.adapters import experiments
    from docsbot.adapters.services import adapter_version_promote, training_job_cancel

    if event.reverted_by_id is not None:
        raise AppError(f"event {event.pk} was already reverted", code="conflict")
    if event.kind not in REVERSIBLE:
        raise ValidationError(f"a {event.get_kind_display()} event cannot be reverted")
    why = f"revert of event {event.pk} ({event.get_kind_display()})"
    team = event.team
    if event.kind == Event.Kind.RETRAIN_QUEUED:
        if event.job is None or event.job.is_finished:
            raise AppError("the retrain's job is already finished; nothing to cancel", code="conflict")
        training_job_cancel(job=event.job)
    elif event.kind == Event.Kind.RETRAIN_SCHEDULED:
        from docsbot.adapters.models import RetrainPolicy

        if not RetrainPolicy.objects.filter(team=team, due_at__isnull=False).update(pending={}, due_at=None):
            raise AppError("no scheduled retrain is pending any more", code="conflict")
    elif event.kind == Event.Kind.EXPERIMENT_STARTED:
        experiment = event.experiment
        if experiment is None or experiment.status != Experiment.Status.RUNNING:
            raise AppError("the experiment has already ended", code="conflict")
        experiments.experiment_end(experiment=experiment, outcome=Experiment.Outcome.CANCELLED, reason=why,
                                   actor=actor)
    else:
        target = event.data.get("previous_version")
        if target is None:
            raise AppError("there was no live version before this one to go back to", code="conflict")
        version = AdapterVersion.objects.filter(team=team, number=target).first()
        if version is None:
            raise AppError(f"version {target} no longer exists", code="not_found")
        adapter_version_promote(version=version, rollback=event.kind == Event.Kind.PROMOTED, reason=why,
                                actor=actor)
    with transaction.atomic():
        undo = event_record(team=team, kind=Event.Kind.REVERTED, reason=why, actor=actor,
                            data={"reverted_event": event.pk}, job=event.job, version=event.version,
                            experiment=event.experiment)
        Event.objects.filter(pk=event.pk).update(reverted_by=undo)
    event.refresh_from_db()
    return undo
