"""Retrain on change (issue 20, item 1): after an ingest run whose chunk changes pass the team's
threshold, regenerate pairs for the changed chunks, retire pairs of removed chunks, and queue a
training job (at most one queued per team: a newer change supersedes a queued retrain).

Changes are counted against the team's baseline (``RetrainPolicy.baseline``: the content hashes of
its chunks per page, as of the last retrain), so several small ingests add up until they pass.
Only a team with a live (promoted) adapter is retrained: there is nothing to keep current before.
The retrain's own training and gate rules live here too (``changed_pages_emphasis``,
``changed_pages_first``, ``changed_pages_check``), which is why the module passes 400 lines: what
"changed" means is defined once, for the trigger and for the job it queues.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from docsbot.adapters.events import event_record
from docsbot.adapters.models import AdapterVersion, Event, RetrainPolicy, TrainingJob
from docsbot.core.errors import REFUSED, AppError, app_error
from docsbot.core.prompts import NO_ANSWER
from docsbot.teams.models import Team

log = logging.getLogger(__name__)
HASH_PREFIX = 16  # characters of a chunk's sha256 kept in the baseline
MAX_PAGES_LISTED = 50
RETIRED_REASON = "retired: its chunk was removed"
WARM_START = ("the job trains the live version's method and hyperparameters, starting from its adapter where "
              "the base model, method and shape allow (a warm start; the job says which it did when it starts)")


@dataclass
class ChunkChanges:
    changed: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0  # the team's chunks now
    pages: list[str] = field(default_factory=list)  # pages with any change, sorted
    removed_pages: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.changed + self.added + self.removed

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["pages"] = self.pages[:MAX_PAGES_LISTED]
        values["removed_pages"] = self.removed_pages[:MAX_PAGES_LISTED]
        values["pages_changed"] = len(self.pages)
        values["total"] = self.total
        return values

    def describe(self) -> str:
        return (f"{self.changed} changed, {self.added} added and {self.removed} removed chunks "
                f"({self.total} of {self.chunks}) on {len(self.pages)} page{'s' if len(self.pages) != 1 else ''}")


# --- settings and baseline --------------------------------------------------------------------

def retrain_policy_get(*, team: Team) -> RetrainPolicy:
    policy, _ = RetrainPolicy.objects.get_or_create(team=team)
    return policy


def retrain_policy_update(*, team: Team, **values: Any) -> RetrainPolicy:
    """Change a team's settings (enabled, threshold_percent, threshold_chunks, schedule, schedule_hour)."""
    policy = retrain_policy_get(team=team)
    allowed = {"enabled", "threshold_percent", "threshold_chunks", "schedule", "schedule_hour"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError(f"unknown retrain settings: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        setattr(policy, name, value)
    if not 0 < float(policy.threshold_percent) <= 100:
        raise ValidationError(f"threshold_percent: must be in (0, 100], got {policy.threshold_percent!r}")
    if int(policy.threshold_chunks) < 1:
        raise ValidationError(f"threshold_chunks: must be at least 1, got {policy.threshold_chunks!r}")
    if policy.schedule not in RetrainPolicy.Schedule.values:
        raise ValidationError(f"schedule: one of '', daily, weekly; got {policy.schedule!r}")
    if not 0 <= int(policy.schedule_hour) <= 23:
        raise ValidationError(f"schedule_hour: 0 to 23 (UTC), got {policy.schedule_hour!r}")
    if policy.schedule == RetrainPolicy.Schedule.ON_CHANGE and policy.due_at is not None:
        policy.due_at = timezone.now()  # a pending scheduled retrain goes at the next check
    policy.save()
    return policy


def chunk_snapshot(*, team: Team) -> dict[str, list[str]]:
    """{page path: [content-hash prefixes]} of the team's chunks now."""
    from docsbot.documents.models import Chunk

    snapshot: dict[str, list[str]] = {}
    for path, content_hash in (Chunk.objects.filter(team=team).order_by("document_id", "ordinal")
                               .values_list("document__source_path", "content_hash")):
        snapshot.setdefault(path, []).append(content_hash[:HASH_PREFIX])
    return snapshot


def retrain_baseline_ensure(*, team: Team) -> None:
    """Record the team's chunks as the baseline if it has none (called when an ingest run is created,
    so the first run's changes are counted against what was there before it)."""
    policy = retrain_policy_get(team=team)
    if policy.baseline_at is None:
        RetrainPolicy.objects.filter(pk=policy.pk, baseline_at__isnull=True).update(
            baseline=chunk_snapshot(team=team), baseline_at=timezone.now())


def chunk_changes(*, before: dict[str, list[str]], after: dict[str, list[str]]) -> ChunkChanges:
    """Per page, chunks whose text is in both are unchanged; of the rest, as many as both sides have
    are "changed" (edited in place), the surplus new ones "added", the surplus old ones "removed"."""
    changes = ChunkChanges(chunks=sum(len(hashes) for hashes in after.values()))
    for path in sorted(set(before) | set(after)):
        old, new = Counter(before.get(path, [])), Counter(after.get(path, []))
        old_only, new_only = sum((old - new).values()), sum((new - old).values())
        edited = min(old_only, new_only)
        changes.changed += edited
        changes.added += new_only - edited
        changes.removed += old_only - edited
        changes.unchanged += sum((old & new).values())
        if old_only or new_only:
            changes.pages.append(path)
            if path not in after:
                changes.removed_pages.append(path)
    return changes


def retrain_threshold(*, policy: RetrainPolicy, chunks: int) -> int:
    """Changed chunks that fire a retrain: threshold_chunks or threshold_percent of the team's chunks,
    whichever is fewer (at least 1)."""
    by_share = math.ceil(policy.threshold_percent / 100 * chunks) if chunks else policy.threshold_chunks
    return max(1, min(policy.threshold_chunks, by_share))


# --- the check after an ingest run ------------------------------------------------------------

@dataclass(frozen=True)
class RetrainDecision:
    action: str  # "queued", "scheduled", "below_threshold", "disabled", "no_live_version", "no_change"
    reason: str
    changes: ChunkChanges | None = None
    job: TrainingJob | None = None


def retrain_after_ingest(*, team: Team, run_id: int | None = None, execute: bool = True) -> RetrainDecision:
    """Count the changes since the baseline and decide. ``execute``: regenerate and queue now (the
    Celery task does); False is a dry run: the decision it would take, and a change over the threshold
    stays counted (the baseline moves only when a retrain is queued or scheduled)."""
    policy = retrain_policy_get(team=team)
    now_snapshot = chunk_snapshot(team=team)
    if policy.baseline_at is None:
        RetrainPolicy.objects.filter(pk=policy.pk).update(baseline=now_snapshot, baseline_at=timezone.now())
        return RetrainDecision("no_change", "no baseline yet: the team's chunks are the baseline from now on")
    changes = chunk_changes(before=policy.baseline, after=now_snapshot)
    live = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).first()
    if not policy.enabled:
        return RetrainDecision("disabled", "retrain on change is off for this team", changes)
    if live is None:
        # Nothing to keep current: the first training starts from these docs, count from here.
        RetrainPolicy.objects.filter(pk=policy.pk).update(baseline=now_snapshot, baseline_at=timezone.now())
        return RetrainDecision("no_live_version", "the team has no live adapter to retrain", changes)
    if not changes.total:
        return RetrainDecision("no_change", "no chunk changed since the last retrain", changes)
    threshold = retrain_threshold(policy=policy, chunks=max(changes.chunks, changes.unchanged + changes.removed))
    if changes.total < threshold:
        return RetrainDecision("below_threshold", f"{changes.describe()}: below the threshold of {threshold} "
                                                  "(changes add up until the next retrain)", changes)
    origin = f"ingest run {run_id}" if run_id else "an ingest"
    reason = (f"docs changed: {changes.describe()} since the last retrain, after {origin}; threshold "
              f"{threshold} ({policy.threshold_chunks} chunks or {policy.threshold_percent:g}% of the team's)")
    if not execute:  # a dry run: what would happen, and nothing changes (the baseline stays)
        return RetrainDecision("scheduled" if policy.schedule else "queued", reason, changes)
    RetrainPolicy.objects.filter(pk=policy.pk).update(baseline=now_snapshot, baseline_at=timezone.now())
    if policy.schedule:
        due = next_scheduled(policy=policy, after=timezone.now())
        earlier = policy.pending or {}
        merged = _merge(earlier.get("changes"), changes.as_dict())
        RetrainPolicy.objects.filter(pk=policy.pk).update(
            pending={"reason": reason, "changes": merged, "runs": [*earlier.get("runs", []), run_id]}, due_at=due)
        event_record(team=team, kind=Event.Kind.RETRAIN_SCHEDULED, reason=f"{reason}; queued at {due:%Y-%m-%d %H:%M} "
                                                                          f"UTC ({policy.schedule} schedule)",
                     data={"changes": merged, "due_at": due.isoformat(), "run": run_id})
        return RetrainDecision("scheduled", reason, changes)
    job = retrain_execute(team=team, reason=reason, changes=changes.as_dict())
    return RetrainDecision("queued", reason, changes, job)


def _merge(earlier: dict | None, later: dict) -> dict:
    if not earlier:
        return later
    merged = dict(later)
    for key in ("changed", "added", "removed", "total"):
        merged[key] = earlier.get(key, 0) + later.get(key, 0)
    merged["pages"] = sorted(set(earlier.get("pages", [])) | set(later.get("pages", [])))[:MAX_PAGES_LISTED]
    merged["removed_pages"] = sorted(set(earlier.get("removed_pages", [])) | set(later.get("removed_pages", [])))[
        :MAX_PAGES_LISTED]
    merged["pages_changed"] = max(len(merged["pages"]), later.get("pages_changed", 0))
    return merged


def next_scheduled(*, policy: RetrainPolicy, after: datetime) -> datetime:
    at = after.astimezone(UTC).replace(hour=policy.schedule_hour, minute=0, second=0, microsecond=0)
    if at <= after:
        at += timedelta(days=1)
    if policy.schedule == RetrainPolicy.Schedule.WEEKLY:
        at += timedelta(days=(7 - at.weekday()) % 7)  # the next Monday
    return at


def retrain_due(*, now: datetime | None = None) -> list[int]:
    """Queue the scheduled retrains that are due (Celery beat runs this every few minutes); job ids."""
    now = now or timezone.now()
    queued = []
    for policy in RetrainPolicy.objects.filter(due_at__lte=now).select_related("team"):
        if not RetrainPolicy.objects.filter(pk=policy.pk, due_at=policy.due_at).update(due_at=None, pending={}):
            continue  # another beat took it
        pending = policy.pending or {}
        if not policy.enabled:
            continue
        job = retrain_execute(team=policy.team, reason=f"scheduled ({policy.schedule}): {pending.get('reason', '')}",
                              changes=pending.get("changes") or {})
        if job is not None:
            queued.append(job.pk)
    return queued


# --- regenerate, retire, queue ---------------------------------------------------------------

def pairs_retire_removed(*, team: Team) -> int:
    """Generated pairs whose chunk text no longer exists and that a re-run keeps (approved or edited by
    a person) are retired (rejected, with the reason): they teach what the docs no longer say.
    Corrections and imported pairs are left to people."""
    from docsbot.documents.models import Chunk
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import GENERATED

    current = set(Chunk.objects.filter(team=team).values_list("content_hash", flat=True))
    stale = (QAPair.objects.filter(team=team, generator__in=GENERATED).exclude(chunk_hash="")
             .exclude(chunk_hash__in=current).exclude(status=QAPair.Status.REJECTED))
    return stale.update(status=QAPair.Status.REJECTED, reject_reason=RETIRED_REASON)


def pairs_regenerate(*, team: Team) -> dict[str, Any]:
    """Pairs for the changed and added chunks only: qa_generate skips every chunk whose text already has
    pairs, and drops the pending generated pairs of chunks that are gone."""
    from docsbot.qa.services import qa_generate

    try:
        report = qa_generate(team=team).as_dict()
    except AppError as exc:
        return {"error": str(exc)}
    report["retired"] = pairs_retire_removed(team=team)
    return report


def retrain_execute(*, team: Team, reason: str, changes: dict[str, Any], regenerate: bool = True
                    ) -> TrainingJob | None:
    """Regenerate pairs, then queue the retrain job (or fold the change into a queued one)."""
    pairs = pairs_regenerate(team=team) if regenerate else {}
    return retrain_queue(team=team, reason=reason, changes={**changes, "pairs": _pairs_summary(pairs)})


def _pairs_summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("chunks_generated", "chunks_unchanged", "kept", "removed_stale", "retired", "error")
    return {key: report[key] for key in keys if key in report}


def retrain_queue(*, team: Team, reason: str, changes: dict[str, Any]) -> TrainingJob | None:
    """At most one queued retrain per team: a queued one is superseded (cancelled, its changes carried
    over) by this newer change. A queued manual job is left alone: it builds its dataset when it
    starts, so it trains on the new pairs; the event says so. The job trains the live version's method
    and hyperparameters (see WARM_START)."""
    from docsbot.adapters.services import (
        training_event_add,
        training_job_cancel,
        training_job_create,
    )

    live = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).select_related("job").first()
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        queued = list(TrainingJob.objects.filter(team=team, status=TrainingJob.Status.QUEUED, cancel_requested=False))
        manual = next((job for job in queued if job.trigger == TrainingJob.Trigger.MANUAL), None)
        if manual is not None:
            training_event_add(job=manual, message=f"will train on the regenerated pairs: {reason}")
            event_record(team=team, kind=Event.Kind.RETRAIN_QUEUED, job=manual, data={"changes": changes},
                         reason=f"{reason}; job {manual.pk}, already queued, trains on the new pairs")
            return manual
        carried = {}
        for old in queued:
            training_job_cancel(job=old)
            carried = _merge(old.changes, carried) if carried else dict(old.changes)
            event_record(team=team, kind=Event.Kind.RETRAIN_SUPERSEDED, job=old,
                         reason=f"queued retrain job {old.pk} superseded by a newer docs change")
        if carried:
            changes = {**_merge(carried, changes), "pairs": changes.get("pairs", {}),
                       "superseded_jobs": [job.pk for job in queued]}
        method, hyperparameters = TrainingJob.Method.LORA, {}
        if live is not None and live.job is not None:
            method, hyperparameters = live.job.method, dict(live.job.hyperparameters)
        elif live is not None and live.method in TrainingJob.Method.values:
            method = live.method
        changes = {**changes, "warm_start": None, "warm_start_note": WARM_START,
                   "live_version": live.number if live else None}
        try:
            job = training_job_create(team=team, method=method, hyperparameters=hyperparameters)
        except REFUSED as exc:
            refusal = app_error(exc).message
            event_record(team=team, kind=Event.Kind.RETRAIN_QUEUED, data={"changes": changes, "error": [refusal]},
                         reason=f"{reason}; NOT queued: {refusal}")
            return None
        TrainingJob.objects.filter(pk=job.pk).update(trigger=TrainingJob.Trigger.DOCS_CHANGED, reason=reason,
                                                     changes=changes)
        job.trigger, job.reason, job.changes = TrainingJob.Trigger.DOCS_CHANGED, reason, changes
        training_event_add(job=job, message=f"retrain on change: {reason}", data={"changes": changes})
        training_event_add(job=job, message=WARM_START)
        event_record(team=team, kind=Event.Kind.RETRAIN_QUEUED, job=job, version=live, reason=reason,
                     data={"changes": changes})
    return job


def retrain_check_enqueue(*, team: Team, run_id: int | None = None) -> None:
    """The ingest's hook: the check (and pair regeneration) runs in a worker on the default queue once
    the run is committed; a broker that cannot be reached never fails the ingest run."""
    from docsbot.adapters.tasks import retrain_check

    def send() -> None:
        try:
            retrain_check.apply_async(args=[team.pk, run_id], queue="default")
        except Exception:
            log.exception("could not queue the retrain check after ingest run %s of team %s", run_id, team.slug)

    transaction.on_commit(send)


def retrain_check_run(*, team_id: int, run_id: int | None = None) -> RetrainDecision | None:
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return None
    decision = retrain_after_ingest(team=team, run_id=run_id)
    log.info("team %s: retrain check after ingest run %s: %s (%s)", team.slug, run_id, decision.action,
             decision.reason)
    return decision


def _pages_of(job: TrainingJob, pair_ids) -> dict[int, str]:
    """Each pair's page (its source chunk's document path)."""
    from docsbot.qa.models import QAPair

    return dict(QAPair.objects.filter(team=job.team, pk__in=pair_ids)
                .values_list("pk", "chunk__document__source_path"))


CHANGED_PAGE_REPEATS = 3


def changed_pages_emphasis(*, job: TrainingJob, train: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """A retrain on a docs change sees what changed more often: each training example of a changed page
    that answers appears CHANGED_PAGE_REPEATS times, the rest once (the warm start already knows it; here it is
    rehearsal). Returns the examples and how many were repeated. Any other job: unchanged."""
    changed = set((job.changes or {}).get("pages") or [])
    if job.trigger != TrainingJob.Trigger.DOCS_CHANGED or not changed:
        return train, 0
    page_of = _pages_of(job, {example.get("id") for example in train})
    # Only the examples that answer: repeating the source-left-out ones (their contexts are the changed page's
    # other chunks) taught the retrain to say "not covered" with the new fact in front of it (17 of 30 answers).
    repeated = [example for example in train if page_of.get(example.get("id")) in changed
                and not _teaches_not_covered(example)]
    return train + repeated * (CHANGED_PAGE_REPEATS - 1), len(repeated)


def _teaches_not_covered(example: dict[str, Any]) -> bool:
    messages = example.get("messages") or []
    return bool(messages) and messages[-1].get("content") == NO_ANSWER


def changed_pages_first(*, job: TrainingJob, heldout: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A retrain's held-out examples with those of the changed pages first (each group in its order): the
    gate scores only the first ``eval_max_examples``, and pairs of new text, with the newest ids, would
    otherwise come last and be cut, leaving changed_pages_check nothing to check."""

    changed = set((job.changes or {}).get("pages") or [])
    if job.trigger != TrainingJob.Trigger.DOCS_CHANGED or not changed:
        return heldout
    ids = {example.get("id") for example in heldout}
    page_of = _pages_of(job, ids)
    return sorted(heldout, key=lambda example: page_of.get(example.get("id")) not in changed)


def changed_pages_check(*, job: TrainingJob, evaluation: dict[str, Any], alpha: float = 0.05):
    """The gate's extra check for a retrain on a docs change, on the held-out pairs scored for the
    candidate and the live version in the same run: on the pages that changed the candidate must
    answer better (mean F1), and on the others it may not answer significantly worse (paired
    bootstrap, one-sided, ``alpha``). A GateDecision, or None where it cannot apply (not a retrain,
    no live version scored on the same examples, or no held-out pair on a changed page)."""
    from docsbot.adapters.services import GateDecision
    from training.stats import paired_bootstrap  # torch-free

    live = evaluation.get("current") or {}
    ids = evaluation.get("example_ids") or []
    if job.trigger != TrainingJob.Trigger.DOCS_CHANGED or "scores" not in live or len(ids) != len(live["scores"]):
        return None
    changed = set((job.changes or {}).get("pages") or [])
    page_of = _pages_of(job, ids)
    rows = [(page_of.get(pk) in changed, old["f1"], new["f1"])
            for pk, old, new in zip(ids, live["scores"], evaluation["adapter"]["scores"], strict=True)
            if old.get("covered")]
    on_changed = [(old, new) for is_changed, old, new in rows if is_changed]
    if not on_changed:
        return None
    old_changed, new_changed = (sum(values) / len(on_changed) for values in zip(*on_changed, strict=True))
    if new_changed <= old_changed:
        return GateDecision(False, f"changed pages: F1 {new_changed:.3f} on their {len(on_changed)} held-out pairs "
                                   f"does not beat the live version's {old_changed:.3f}")
    reason = f"changed pages: F1 {new_changed:.3f} vs the live version's {old_changed:.3f} (n={len(on_changed)})"
    unchanged = [(old, new) for is_changed, old, new in rows if not is_changed]
    if unchanged:
        drop = paired_bootstrap([new for _, new in unchanged], [old for old, _ in unchanged])
        if drop.p_value < alpha:
            return GateDecision(False, f"{reason}; but unchanged pages: F1 {drop.mean_a:.3f} vs the live version's "
                                       f"{drop.mean_b:.3f}, a significant drop (p={drop.p_value:.3g}, n={drop.n})")
        reason += f"; unchanged pages: F1 {drop.mean_a:.3f} vs {drop.mean_b:.3f}, no significant drop (n={drop.n})"
    return GateDecision(True, reason)
