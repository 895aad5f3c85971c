"""Writes for training jobs and adapter versions: create, claim, heartbeat, finish, publish, promote.

The training itself (torch) lives in ``runner.py``; nothing here imports it.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from docsbot.adapters import paths
from docsbot.adapters.models import AdapterVersion, TrainingEvent, TrainingJob
from docsbot.core.errors import AppError
from docsbot.core.leases import LeaseLost
from docsbot.core.preflight import method_refused_by_serving
from docsbot.core.serving import base_model_path
from docsbot.processes import owner_dead_here
from docsbot.teams.models import Team

if TYPE_CHECKING:
    from docsbot.qa.selectors import TrainingDataset

log = logging.getLogger(__name__)
# Job settings that are not training hyperparameters (TrainConfig rejects unknown names).
EVAL_KEYS = ("eval_max_examples", "eval_max_new_tokens")
DATASET_FILE = "dataset.json"


class JobCancelled(Exception):
    """Someone asked to cancel the job."""


def _validate_hyperparameters(method: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    from training.config import TrainConfig  # stdlib-only module: no torch is loaded here

    if not isinstance(hyperparameters, dict):
        raise ValidationError("hyperparameters: must be an object")
    train_values = {k: v for k, v in hyperparameters.items() if k not in EVAL_KEYS}
    for key in EVAL_KEYS:
        value = hyperparameters.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValidationError(f"{key}: must be a positive integer, got {value!r}")
    if "method" in train_values and train_values.pop("method") != method:
        raise ValidationError("method: given twice with different values")
    serving_rank = settings.MAX_LORA_RANK
    # max_rank is the serving engine's limit: a job may lower it, never raise it (and a value above it
    # is refused, not rounded to an allowed rank).
    requested = train_values.get("max_rank", serving_rank)
    if not isinstance(requested, int) or isinstance(requested, bool) or not 1 <= requested <= serving_rank:
        raise ValidationError(f"max_rank: must be an integer from 1 to {serving_rank} (DOCSBOT_MAX_LORA_RANK, "
                              f"the serving limit), got {requested!r}")
    train_values["max_rank"] = requested
    for key, limit in settings.TRAINING_LIMITS.items():
        value = hyperparameters.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            raise ValidationError(f"{key}: at most {limit} on the shared gpu queue, got {value!r}")
    try:
        TrainConfig.from_dict({**train_values, "method": method})
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from None
    return dict(hyperparameters)


def training_event_add(*, job: TrainingJob, message: str, level: str = "info", type: str = "message",
                       data: dict[str, Any] | None = None) -> TrainingEvent:
    getattr(log, {"warn": "warning"}.get(level, level))("training job %s: %s", job.pk, message)
    return TrainingEvent.objects.create(job=job, level=level, type=type, message=message, data=data or {})


def training_job_create(*, team: Team, method: str = "lora", hyperparameters: dict[str, Any] | None = None,
                        dataset: Any = None, base_model: str | None = None, enqueue: bool = True) -> TrainingJob:
    """Queue a job. ``dataset`` (a TrainingDataset or dict) freezes the data now; when None the
    worker builds it from the team's approved pairs (``docsbot.qa.selectors.dataset_build``)."""
    if method not in TrainingJob.Method.values:
        raise ValidationError(f"method: must be one of {', '.join(TrainingJob.Method.values)}, got {method!r}")
    hyperparameters = _validate_hyperparameters(method, hyperparameters or {})
    refused = method_refused_by_serving(method)
    if refused:
        raise ValidationError(refused)
    with transaction.atomic():
        # The team row is the lock: two requests at once cannot both see room for one more job.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        limit = settings.MAX_ACTIVE_JOBS_PER_TEAM
        active = TrainingJob.objects.filter(team=team, status__in=(TrainingJob.Status.QUEUED,
                                                                   TrainingJob.Status.RUNNING)).count()
        if active >= limit:
            raise AppError(f"the team already has {active} queued or running training jobs, the most the shared "
                           f"gpu queue allows (DOCSBOT_MAX_ACTIVE_JOBS_PER_TEAM={limit}); wait for one to finish "
                           "or cancel one", code="quota")
        job = TrainingJob.objects.create(team=team, method=method, hyperparameters=hyperparameters,
                                         base_model=base_model or base_model_path())
    if dataset is not None:
        dataset_snapshot_write(job=job, dataset=dataset)
    training_event_add(job=job, message=f"queued: {method} on {job.base_model}")
    note = method_serving_note(method)
    if note:
        training_event_add(job=job, level="warn", message=f"{method}: {note}")
    if enqueue:
        transaction.on_commit(lambda: training_job_enqueue(job=job))
    return job


def method_serving_note(method: str) -> str | None:
    """Said before a team trains a method vLLM cannot serve (docsbot has no serving-backend setting;
    a vLLM deployment must know before it trains): where the adapter can be served instead."""
    from training.config import SERVABLE_BY, serving_note  # stdlib-only module

    return serving_note(SERVABLE_BY.get(method, ()))


def training_job_enqueue(*, job: TrainingJob) -> str:
    from docsbot.adapters.tasks import train_adapter

    result = train_adapter.delay(job.pk)
    TrainingJob.objects.filter(pk=job.pk).update(celery_task_id=result.id)
    return result.id


def dataset_snapshot_write(*, job: TrainingJob, dataset: TrainingDataset | dict) -> Path:
    """The job's data, frozen: a resumed job trains on exactly what it started with."""
    from docsbot.qa.selectors import TrainingDataset

    typed = dataset if isinstance(dataset, TrainingDataset) else TrainingDataset.from_json(dataset)
    path = paths.job_dir(job.pk) / DATASET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(typed.to_json()))
    os.replace(tmp, path)
    return path


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def training_job_claim(*, job_id: int, owner: str) -> TrainingJob | None:
    """Take the job with one conditional UPDATE: only a queued job, or a running one whose lease
    expired, is claimed; a redelivered message for a job someone else holds gets None."""
    now = timezone.now()
    claim = {"status": TrainingJob.Status.RUNNING, "lease_owner": owner,
             "lease_expires": now + timedelta(seconds=settings.TRAINING_LEASE_SECONDS), "attempts": F("attempts") + 1}
    claimed = (
        TrainingJob.objects.filter(pk=job_id, cancel_requested=False)
        .filter(Q(status=TrainingJob.Status.QUEUED)
                | Q(status=TrainingJob.Status.RUNNING, lease_expires__lt=now))
        .update(**claim)
    )
    if not claimed:
        # The holder's process on this host is gone (a pool child killed by -9 or the OOM killer,
        # its message redelivered to the same worker): take over without waiting for the lease.
        holder = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.RUNNING,
                                            cancel_requested=False).values_list("lease_owner", flat=True).first()
        if not holder or not owner_dead_here(holder, socket.gethostname()):
            return None
        claimed = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.RUNNING, lease_owner=holder,
                                             cancel_requested=False).update(**claim)
        if not claimed:
            return None
    job = TrainingJob.objects.select_related("team").get(pk=job_id)
    if job.started is None:
        TrainingJob.objects.filter(pk=job_id, started__isnull=True).update(started=now)
        job.started = now
    return job


def training_job_heartbeat(*, job: TrainingJob, owner: str, progress: dict[str, Any] | None = None) -> None:
    """Renew the lease and record progress. Raises ``JobCancelled`` when a cancel was requested
    and ``LeaseLost`` when the lease is no longer ours."""
    fields: dict[str, Any] = {"lease_expires": timezone.now() + timedelta(seconds=settings.TRAINING_LEASE_SECONDS)}
    if progress:
        fields.update(step=progress["step"], total_steps=progress["total_steps"], loss=progress["loss"],
                      eta_seconds=progress["eta_seconds"])
    updated = TrainingJob.objects.filter(pk=job.pk, lease_owner=owner, status=TrainingJob.Status.RUNNING,
                                         cancel_requested=False).update(**fields)
    if not updated:
        current = TrainingJob.objects.filter(pk=job.pk).values("cancel_requested", "lease_owner").first()
        if current and current["cancel_requested"]:
            raise JobCancelled()
        raise LeaseLost(f"job {job.pk} is now held by {current and current['lease_owner']!r}")


def training_job_finish(*, job: TrainingJob, owner: str, status: str, error: str = "") -> bool:
    """Set a terminal state, only while we still hold the lease."""
    return bool(TrainingJob.objects.filter(pk=job.pk, lease_owner=owner, status=TrainingJob.Status.RUNNING)
                .update(status=status, error=error[:5000], finished=timezone.now(), lease_expires=None,
                        eta_seconds=0 if status == TrainingJob.Status.SUCCEEDED else None))


def training_job_cancel(*, job: TrainingJob) -> TrainingJob:
    """A queued job is cancelled at once; a running one at its next step (within seconds)."""
    if job.is_finished:
        raise AppError(f"job {job.pk} already {job.status}", code="conflict")
    now = timezone.now()
    if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.CANCELLED, cancel_requested=True, finished=now):
        training_event_add(job=job, message="cancelled before it started")
    else:
        TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        training_event_add(job=job, message="cancel requested; the worker stops at its next step")
    job.refresh_from_db()
    return job


def training_jobs_recover(*, host: str | None = None) -> list[int]:
    """Requeue running jobs whose worker is gone: the lease expired, or the lease holder was a
    process on this host that no longer exists (a worker killed with -9 and restarted)."""
    host = host or socket.gethostname()
    now = timezone.now()
    recovered = []
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING):
        dead_here = owner_dead_here(job.lease_owner, host)
        expired = job.lease_expires is None or job.lease_expires < now
        if not (dead_here or expired):
            continue
        if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING,
                                      lease_owner=job.lease_owner).update(
                status=TrainingJob.Status.QUEUED, lease_owner="", lease_expires=None):
            training_event_add(job=job, level="warn",
                               message=f"worker {job.lease_owner} is gone; requeued to resume from the last "
                                       "complete checkpoint")
            training_job_enqueue(job=job)
            recovered.append(job.pk)
    return recovered


def training_job_fail_hard_time_limit(*, job_id: int, limit: int) -> bool:
    """The pool killed the job's process at the hard time limit: fail the job with that reason
    (the process, and with it the job's memory, is gone; the worker takes the next job)."""
    job = TrainingJob.objects.filter(pk=job_id).first()
    reason = (f"time limit: killed at the hard time limit of {limit} s (DOCSBOT_TRAINING_HARD_TIME_LIMIT); "
              f"the job did not stop at the soft limit")
    if job is None or not TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.RUNNING).update(
            status=TrainingJob.Status.FAILED, error=reason, finished=timezone.now(), lease_expires=None,
            eta_seconds=None):
        return False
    training_event_add(job=job, level="error", message=f"failed: {reason}")
    return True


# --- versions ---------------------------------------------------------------------------------
def adapter_version_publish(*, job: TrainingJob | None, path: Path, manifest: dict[str, Any],
                            metrics: dict[str, Any], curve: list[dict], dataset_hash: str, pair_ids: list[int],
                            team: Team | None = None) -> AdapterVersion:
    """One version per job, however often the job's message is delivered (the job is unique). Without
    a job (an adapter trained by compare_methods), ``team`` is given and the method is the manifest's."""
    existing = AdapterVersion.objects.filter(job=job).first() if job is not None else None
    if existing:
        return existing
    team = team or job.team
    for _ in range(5):
        try:
            with transaction.atomic():
                number = (AdapterVersion.objects.filter(team=team).aggregate(n=Max("number"))["n"] or 0) + 1
                return AdapterVersion.objects.create(
                    team=team, job=job, number=number, path=str(path),
                    method=job.method if job is not None else manifest["method"],
                    rank=int(manifest.get("rank") or 0), base_model=manifest.get("base_model") or job.base_model,
                    servable_by=manifest.get("servable_by", []), metrics=metrics, curve=curve,
                    dataset_hash=dataset_hash, pair_ids=list(pair_ids),
                )
        except IntegrityError:
            existing = AdapterVersion.objects.filter(job=job).first() if job is not None else None
            if existing:
                return existing  # a concurrent delivery won the race
    raise RuntimeError(f"could not allocate a version number for team {team}")


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def abstains_too_often(adapter: dict[str, Any], base: dict[str, Any], *, limit: float) -> bool:
    """The adapter's false "not covered" share (held-out questions given their source) is over ``limit`` and
    over the base model's own share."""
    refused = adapter.get("false_abstention")
    return refused is not None and refused > max(limit, base.get("false_abstention") or 0.0)


def gate_decide(*, candidate: dict[str, Any], current: dict[str, Any] | None, max_forgetting: float,
                max_false_abstention: float = 1.0, alpha: float = 0.05) -> GateDecision:
    """Promote a candidate whose held-out F1 gain over the base model is significant (paired
    bootstrap, p < ``alpha``), whose general-text perplexity grew by at most ``max_forgetting``,
    which says "not covered" on at most ``max_false_abstention`` of the held-out questions it was
    given the source for (or no more often than the base), and which beats the promoted version on
    the same held-out examples (scored in the same run; an older version's stored F1, from another
    held-out set, is the fallback)."""
    evaluation = candidate.get("evaluation") or {}
    if not evaluation.get("heldout_examples"):
        return GateDecision(False, "no held-out examples to evaluate on")
    mine, base = evaluation["adapter"], evaluation["base"]
    forgetting = evaluation.get("forgetting_ppl_ratio", 1.0)
    if forgetting > max_forgetting:
        return GateDecision(False, f"forgetting: general-text perplexity x{forgetting:.3f} > x{max_forgetting:.3f}")
    # Held-out F1 can rise while the adapter refuses most questions: it scores high on the few it
    # answers (Requests, 152 steps: F1 +0.21, p=0.004, yet "not covered" on 63 % of answerable
    # held-out questions and 97 % of natural ones). Not-covered must be a judgement, not a default.
    if abstains_too_often(mine, base, limit=max_false_abstention):
        return GateDecision(False, f"abstention: says the documentation does not cover {mine['false_abstention']:.0%} "
                                   f"of held-out questions whose source it was given (limit "
                                   f"{max_false_abstention:.0%}, base {base.get('false_abstention') or 0.0:.0%})")
    f1_test = (evaluation.get("significance") or {}).get("f1")
    versus_base = f"held-out F1 {mine['f1']:.3f} vs base {base['f1']:.3f}"
    if f1_test is not None:
        versus_base += f" (gain {f1_test['gain']:+.3f}, p={f1_test['p_value']:.3g}, n={f1_test['n']})"
        if f1_test["p_value"] >= alpha or f1_test["gain"] <= 0:
            return GateDecision(False, f"{versus_base}: not a significant gain over the base model")
    elif (mine["f1"], mine["rouge_l"]) <= (base["f1"], base["rouge_l"]):
        return GateDecision(False, f"{versus_base}: does not beat the base model")
    if current is None:
        return GateDecision(True, versus_base)
    rival = evaluation.get("current") or {}
    same_examples = "f1" in rival
    if not same_examples:
        rival = (current.get("evaluation") or {}).get("adapter") or {}
    if not rival:
        return GateDecision(True, f"{versus_base}; the current version has no evaluation")
    better = (mine["f1"], mine["rouge_l"]) > (rival["f1"], rival["rouge_l"])
    where = "on the same examples" if same_examples else "(its stored score, another held-out set)"
    verdict = "beats" if better else "does not beat"
    return GateDecision(better, f"{versus_base}; F1 {mine['f1']:.3f} {verdict} the current version's "
                                f"{rival['f1']:.3f} {where}")


def adapter_version_promote(*, version: AdapterVersion, rollback: bool = False, reason: str = "",
                            actor: str = "") -> AdapterVersion:
    """Make ``version`` the team's live adapter (the promoted one is retired).

    Serving is told first: an adapter the serving layer rejects is not promoted. ``promoted_at``
    orders the rollback history: a rollback keeps the target's original time and clears the
    one rolled back from, so repeated rollbacks walk further back. Every promotion and rollback
    is an Event (``reason``, ``actor``: "auto" for the gate and experiments, else who did it)."""
    from docsbot.adapters.events import event_record
    from docsbot.adapters.models import Event

    serving_notify(version=version)
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=version.team_id).first()
        previous = AdapterVersion.objects.filter(team=version.team, status=AdapterVersion.Status.PROMOTED) \
            .exclude(pk=version.pk).values_list("number", flat=True).first()
        AdapterVersion.objects.filter(team=version.team, status=AdapterVersion.Status.PROMOTED) \
            .exclude(pk=version.pk).update(status=AdapterVersion.Status.RETIRED,
                                           **({"promoted_at": None} if rollback else {}))
        AdapterVersion.objects.filter(pk=version.pk).update(
            status=AdapterVersion.Status.PROMOTED,
            **({} if rollback and version.promoted_at else {"promoted_at": timezone.now()}))
        word = "rolled back" if rollback else "promoted"
        event_record(team=version.team, kind=Event.Kind.ROLLED_BACK if rollback else Event.Kind.PROMOTED,
                     reason=reason or f"version {version.number} {word} by {actor or 'hand'}",
                     actor=actor or "manual", version=version, job=version.job,
                     data={"version": version.number, "previous_version": previous})
    version.refresh_from_db()
    return version


def adapter_version_rollback(*, team: Team, reason: str = "", actor: str = "") -> AdapterVersion:
    """Promote the version that was live before the current one."""
    current = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).first()
    previous = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.RETIRED,
                                             promoted_at__isnull=False)
    if current is not None:
        previous = previous.filter(promoted_at__lt=current.promoted_at)
    previous = previous.order_by("-promoted_at").first()
    if previous is None:
        raise AppError(f"team {team.slug}: no earlier promoted version to roll back to", code="conflict")
    return adapter_version_promote(version=previous, rollback=True, reason=reason, actor=actor)


def serving_notify(*, version: AdapterVersion) -> None:
    """Point the team's served adapter at ``version`` (symlink + hot load when serving is up).
    A serving endpoint that is down is logged by adapter_publish and catches up later; an
    adapter it rejects raises AppError (conflict: this version cannot go live)."""
    from docsbot.core.serving import adapter_publish
    from serving.client import ServingError

    try:
        adapter_publish(team_slug=version.team.slug, version_path=Path(version.path))
    except (ServingError, OSError) as exc:  # rejected by serving, or the live link could not be written
        raise AppError(f"serving did not take version {version.number}: {exc}", code="conflict") from exc
