"""Run one training job end to end: claim · data · train (checkpointed) · evaluate · publish · gate.

Called by the Celery task on the gpu queue and by ``train --foreground``. torch and
``training`` are imported inside functions only, so web processes never load them.

Over 400 lines because a job's failure paths (cancel, lease lost, soft time limit, kill and
resume at any step, refit included) must be read together with the happy path they interrupt.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from docsbot.adapters import paths
from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.retrain import (
    CHANGED_PAGE_REPEATS,
    changed_pages_check,
    changed_pages_emphasis,
    changed_pages_first,
)
from docsbot.adapters.selectors import adapter_version_get_promoted
from docsbot.adapters.services import (
    DATASET_FILE,
    EVAL_KEYS,
    GateDecision,
    JobCancelled,
    LeaseLost,
    _validate_hyperparameters,
    adapter_version_promote,
    adapter_version_publish,
    dataset_snapshot_write,
    gate_decide,
    training_event_add,
    training_job_claim,
    training_job_finish,
    training_job_heartbeat,
)
from docsbot.core import leases
from docsbot.core.errors import REFUSED, app_error
from docsbot.qa.selectors import TrainingDataset, dataset_build

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0  # how often progress is written and the cancel flag read
# Held-out examples the gate scores: 50 pairs with the source in context and the withheld-source
# twins of every second one (qa.selectors.WITHHELD_EVERY).
EVAL_MAX_EXAMPLES = 75
REFIT_DIR = "refit"  # the refit's work folder inside the job's (checkpoints, rehearsal text)


def load_dataset(job: TrainingJob) -> TrainingDataset:
    """The job's frozen dataset (written when it was queued, else built now and frozen)."""
    path = paths.job_dir(job.pk) / DATASET_FILE
    if not path.exists():
        dataset_snapshot_write(job=job, dataset=dataset_build(team=job.team))
    return TrainingDataset.from_json(json.loads(path.read_text()))


def feedback_pairs_summary(counts: dict[str, Any]) -> str:
    """"used 3 pairs from user feedback (2 corrections, 1 answered question; 1 held out)": the job's word on
    what the review queue and the answered unanswered questions added (qa.selectors.feedback_pair_counts)."""
    total = counts.get("total", 0)
    text = f"used {total} pair{'' if total == 1 else 's'} from user feedback"
    if not total:
        return text
    kinds = counts.get("kinds", {})
    parts = [f"{kinds[kind]} {label}{'' if kinds[kind] == 1 else plural}"
             for kind, label, plural in (("correction", "correction", "s"), ("unanswered", "answered question", "s"))
             if kinds.get(kind)]
    held = counts.get("heldout", 0)
    return f"{text} ({', '.join(parts)}; {held} held out for the evaluation)" if held else f"{text} ({', '.join(parts)})"


class _Monitor:
    """The recipe's progress callback and cancellation check, backed by the job row."""

    def __init__(self, job: TrainingJob, owner: str, soft_deadline: float | None = None):
        self.job, self.owner, self.soft_deadline = job, owner, soft_deadline
        self.last_beat = 0.0
        self.pending: dict[str, Any] | None = None
        self.stop_reason: Exception | None = None

    def on_progress(self, progress) -> None:
        self.pending = {"step": progress.step, "total_steps": progress.total_steps, "loss": progress.loss,
                        "eta_seconds": progress.eta_seconds, "learning_rate": progress.learning_rate,
                        "tokens_per_second": round(progress.tokens_per_second, 1)}
        if progress.step == progress.total_steps:
            self.beat()

    def should_stop(self) -> bool:
        # Celery's soft limit is a signal raised wherever the process happens to be; a library that catches
        # Exception around an import or a kernel probe swallows it. The deadline checked here, between steps,
        # still stops the job cleanly before the hard kill.
        if self.soft_deadline is not None and time.monotonic() >= self.soft_deadline:
            self.stop_reason = SoftTimeLimitExceeded()
            return True
        if time.monotonic() - self.last_beat >= HEARTBEAT_SECONDS:
            try:
                self.beat()
            except (JobCancelled, LeaseLost) as exc:
                self.stop_reason = exc
                return True
        return False

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        progress, self.pending = self.pending, None
        training_job_heartbeat(job=self.job, owner=self.owner, progress=progress)
        if progress:
            training_event_add(job=self.job, type="metrics", message=f"step {progress['step']}/"
                               f"{progress['total_steps']} loss {progress['loss']:.4f}", data=progress)


def training_job_run(*, job_id: int, owner: str, soft_deadline: float | None = None) -> TrainingJob | None:
    """Claim and run the job; None when another worker holds it or it is already finished. soft_deadline
    (time.monotonic()) is the worker's soft time limit, checked between training steps."""
    job = training_job_claim(job_id=job_id, owner=owner)
    if job is None:
        current = TrainingJob.objects.filter(pk=job_id).first()
        if current is not None:  # a redelivered or duplicate message: record it, run nothing
            training_event_add(job=current, message=f"duplicate delivery ignored: the job is {current.status}"
                               + (f" and held by {current.lease_owner}" if current.lease_owner else ""))
        return None
    existing = AdapterVersion.objects.filter(job=job).first()
    if existing is not None:  # published before a crash: only the gate and the final state are left
        _gate(job, existing)
        training_job_finish(job=job, owner=owner, status=TrainingJob.Status.SUCCEEDED)
        return TrainingJob.objects.get(pk=job.pk)
    training_event_add(job=job, message=f"claimed by {owner} (attempt {job.attempts})")
    # Steps renew the lease as they go; loading a model, the gate's evaluation and publishing have no steps.
    with leases.lease_kept(lambda: leases.lease_renew(TrainingJob, pk=job.pk, owner=owner,
                                                      running=TrainingJob.Status.RUNNING,
                                                      seconds=settings.TRAINING_LEASE_SECONDS),
                           lease_seconds=settings.TRAINING_LEASE_SECONDS, name=f"training job {job.pk}"):
        return _train_claimed(job, owner, soft_deadline)


def _train_claimed(job: TrainingJob, owner: str, soft_deadline: float | None) -> TrainingJob | None:
    monitor = _Monitor(job, owner, soft_deadline)
    recipe = None
    try:
        dataset = load_dataset(job)
        if dataset.feedback_pairs:
            training_event_add(job=job, message=feedback_pairs_summary(dataset.feedback_pairs),
                               data={"feedback_pairs": dataset.feedback_pairs})
        if not dataset.train:
            raise ValueError("dataset: the team has no approved training pairs (run generate_qa and review)")
        recipe = _recipe(job, dataset, monitor)
        recipe.setup()
        _record_warm_start(job, recipe)
        if recipe.resumed_from:
            training_event_add(job=job, message=f"resumed from checkpoint at step {recipe.resumed_from}")
        TrainingJob.objects.filter(pk=job.pk).update(config=recipe.config.to_dict(), total_steps=recipe.total_steps)
        training_event_add(job=job, message=f"training {recipe.total_steps} steps on {recipe.dataset.examples} "
                                            f"examples ({len(recipe.dataset.rows)} packed rows) on {recipe.device}"
                                            f"{_layers_note(recipe)}{_rehearsal_note(recipe)}",
                           data={"config": recipe.config.to_dict()})
        result = recipe.train()
        monitor.beat()
        version = _evaluate_and_publish(job, recipe, result, dataset, monitor)
    except Exception as exc:
        from training.recipe import Cancelled

        if isinstance(exc, Cancelled) and isinstance(monitor.stop_reason, LeaseLost):
            log.warning("training job %s: lease lost, stopping: %s", job.pk, monitor.stop_reason)
            return None
        at_deadline = isinstance(exc, Cancelled) and isinstance(monitor.stop_reason, SoftTimeLimitExceeded)
        if at_deadline:
            exc = monitor.stop_reason
        if isinstance(exc, Cancelled | JobCancelled):
            _cancel(job, owner, recipe)
        elif isinstance(exc, SoftTimeLimitExceeded):
            if recipe is not None:
                recipe.cleanup()  # free the memory before anything else
            if not at_deadline:  # the signal may have landed mid-query; the deadline check runs between queries
                _reopen_database_connection()
            reason = (f"time limit: stopped at step {recipe.step if recipe else 0} after the soft time limit of "
                      f"{settings.TRAINING_SOFT_TIME_LIMIT} s (DOCSBOT_TRAINING_SOFT_TIME_LIMIT)")
            training_event_add(job=job, level="error", message=f"failed: {reason}")
            training_job_finish(job=job, owner=owner, status=TrainingJob.Status.FAILED, error=reason)
        else:
            log.exception("training job %s failed", job.pk)
            training_event_add(job=job, level="error", message=f"failed: {exc}")
            training_job_finish(job=job, owner=owner, status=TrainingJob.Status.FAILED, error=str(exc))
        return TrainingJob.objects.get(pk=job.pk)
    finally:
        if recipe is not None:
            recipe.cleanup()
    _gate(job, version)
    training_job_finish(job=job, owner=owner, status=TrainingJob.Status.SUCCEEDED)
    training_event_add(job=job, message=f"succeeded: version {version.number}")
    return TrainingJob.objects.get(pk=job.pk)


def _recipe(job: TrainingJob, dataset: TrainingDataset, monitor: _Monitor, *, refit: bool = False):
    """The job's recipe on its training examples; ``refit``: on every pair (train + refit), from where the
    job's first run started, in its own work folder (its own checkpoints: a job killed while refitting resumes there).
    Tried once instead for the refit: the evaluated adapter continued on the held-out pairs with as many
    training pairs replayed (80 steps where this is 100 on the demo); it answered the demo's question
    "not covered" (README: the measured demo runs)."""
    from training.config import TrainConfig
    from training.recipe import Recipe

    # Checked again here: a job queued before a limit existed (or was lowered) does not run past it.
    _validate_hyperparameters(job.method, job.hyperparameters)
    values = {k: v for k, v in job.hyperparameters.items() if k not in EVAL_KEYS}
    values.setdefault("max_rank", settings.MAX_LORA_RANK)
    config = TrainConfig.from_dict({**values, "method": job.method})
    examples, work_dir = dataset.train, paths.job_dir(job.pk)
    if refit:
        examples, work_dir = examples + dataset.refit, work_dir / REFIT_DIR
    examples, repeated = changed_pages_emphasis(job=job, train=examples)
    if repeated and not refit:
        changes = {**(job.changes or {}), "changed_page_examples": repeated}
        TrainingJob.objects.filter(pk=job.pk).update(changes=changes)
        job.changes = changes
        training_event_add(job=job, message=f"{repeated} training examples of the changed pages, each seen "
                                            f"{CHANGED_PAGE_REPEATS}x as often as the rest")
    # The refit repeats the recipe from the same start: the live adapter for a retrain on a docs change.
    start = _live_adapter_to_continue(job)
    return Recipe(base_model=job.base_model, config=config, train_examples=examples, work_dir=work_dir,
                  on_progress=monitor.on_progress, should_stop=monitor.should_stop,
                  gpu_memory_fraction=settings.TRAINING_GPU_MEMORY_FRACTION, init_adapter=start,
                  rehearsal_cache=paths.rehearsal_cache_dir())


def _live_adapter_to_continue(job: TrainingJob) -> Path | None:
    """A retrain on a docs change starts from the live version's adapter when that version was trained
    on this base model with this method (the recipe checks the shape)."""
    number = (job.changes or {}).get("live_version")
    if job.trigger != TrainingJob.Trigger.DOCS_CHANGED or not number:
        return None
    live = AdapterVersion.objects.filter(team=job.team, number=number).first()
    if live is None or live.base_model != job.base_model or live.method != job.method:
        return None
    path = Path(live.path)
    return path if (path / "adapter_config.json").is_file() else None


def _record_warm_start(job: TrainingJob, recipe) -> None:
    """Say in the job whether a docs-changed retrain started from the live adapter, and why not."""
    if job.trigger != TrainingJob.Trigger.DOCS_CHANGED:
        return
    number = (job.changes or {}).get("live_version")
    warm = bool(recipe.warm_start.get("warm"))
    reason = recipe.warm_start.get("reason") or (
        "" if warm else f"live version {number} was trained on another base model or with another method, "
                        "or its adapter is gone" if number else "no live version")
    changes = {**(job.changes or {}), "warm_start": warm, **({"warm_start_reason": reason} if reason else {})}
    TrainingJob.objects.filter(pk=job.pk).update(changes=changes)
    job.changes = changes
    training_event_add(job=job, message=f"warm start from live version {number}'s adapter" if warm
                       else f"cold start from the base model: {reason}")


def _layers_note(recipe) -> str:
    """", adapting the upper 15 of 30 layers" when the adapter covers some layers only."""
    total = getattr(getattr(recipe.model, "config", None), "num_hidden_layers", None)
    layers = recipe.config.layer_indices(total) if total else None
    return f", adapting the upper {len(layers)} of {total} layers" if layers else ""


def _rehearsal_note(recipe) -> str:
    """", 8 of 40 steps per epoch on the base model's own text (rehearsal)" when there are any."""
    steps = recipe.dataset.rehearsal_steps
    return f", {steps} of {recipe.steps_per_epoch} steps per epoch on the base model's own text (rehearsal)" \
        if steps else ""


def _evaluate_and_publish(job: TrainingJob, recipe, result, dataset: TrainingDataset,
                          monitor: _Monitor) -> AdapterVersion:
    metrics: dict[str, Any] = {"final_loss": result.final_loss, "steps": result.steps,
                               "train_seconds": round(result.seconds, 2),
                               "tokens_per_second": round(result.real_tokens_per_second, 1),
                               "peak_memory_bytes": result.peak_memory_bytes, "dataset": result.dataset}
    if result.extra.get("time_budget"):
        metrics["time_budget"] = result.extra["time_budget"]
        training_event_add(job=job, message=result.extra["time_budget"])
    if dataset.heldout:
        from training.evaluate import MIN_HELDOUT

        max_examples = job.hyperparameters.get("eval_max_examples", EVAL_MAX_EXAMPLES)
        count = min(len(dataset.heldout), max_examples)
        pairs = len({example.get("id") for example in dataset.heldout[:count]})
        again = f"; {count - pairs} of them asked again with their source left out" if count > pairs else ""
        training_event_add(job=job, message=f"evaluating base and adapter on {count} held-out examples "
                                            f"({pairs} pairs it never trained on{again})")
        if dataset.note:
            training_event_add(job=job, level="warn", message=dataset.note)
        if count < MIN_HELDOUT:
            training_event_add(job=job, level="warn", message=(
                f"only {count} held-out example{'s' if count != 1 else ''}: the gate's comparison with the "
                f"base is noise at this size (at least {MIN_HELDOUT} make it meaningful: add documents or "
                "pairs, or raise the team's held-out share)"))
        heldout = changed_pages_first(job=job, heldout=dataset.heldout)
        metrics["evaluation"] = recipe.evaluate(
            heldout, max_examples=max_examples,
            max_new_tokens=job.hyperparameters.get("eval_max_new_tokens", 96),
            rival_adapter=_comparable_promoted_path(job))
        # which pair each score is of: the gate of a retrain on a docs change splits them by page
        metrics["evaluation"]["example_ids"] = [example.get("id") for example in heldout[:count]]
        training_event_add(job=job, message=evaluation_summary(metrics["evaluation"]),
                           data=evaluation_figures(metrics["evaluation"]))
    else:
        training_event_add(job=job, level="warn", message="no held-out examples: the version is not evaluated")
    path = paths.versions_dir(job.team.slug) / f"job-{job.pk}"
    manifest_extra = {"team": job.team.slug, "job": job.pk, "pair_ids": dataset.pair_ids,
                      "config": result.config}
    recipe.save_adapter(path, dataset_hash=dataset.dataset_hash, metrics=metrics, extra=manifest_extra)
    curve = result.curve
    if dataset.refit and settings.REFIT_ON_ALL_PAIRS and "evaluation" in metrics \
            and gate_decision(job, metrics).promote:
        recipe.cleanup()  # its adapter is saved: free the memory for the refit
        curve = _refit(job, dataset, monitor, metrics, path=path, manifest_extra=manifest_extra) or curve
    from training.artifacts import read_manifest

    version = adapter_version_publish(job=job, path=path, manifest=read_manifest(path), metrics=metrics,
                                      curve=curve, dataset_hash=dataset.dataset_hash,
                                      pair_ids=dataset.pair_ids)
    recipe.remove_checkpoints()
    return version


def _refit(job: TrainingJob, dataset: TrainingDataset, monitor: _Monitor, metrics: dict[str, Any], *, path: Path,
           manifest_extra: dict[str, Any]) -> list[dict] | None:
    """Train again on every pair (the held-out ones too) with the same settings and save that adapter
    over the evaluated one at ``path`` (``metrics["refit"]``: its figures); its loss curve, or None
    (the evaluated adapter stays) when the refit forgets more general text than the gate allows."""
    from training.evaluate import forgetting_ratio

    pairs = len({example["id"] for example in dataset.train + dataset.refit})
    heldout = len({example["id"] for example in dataset.refit})
    recipe = _recipe(job, dataset, monitor, refit=True)
    try:
        recipe.setup()
        TrainingJob.objects.filter(pk=job.pk).update(total_steps=recipe.total_steps)
        if recipe.resumed_from:
            training_event_add(job=job, message=f"refit resumed from checkpoint at step {recipe.resumed_from}")
        training_event_add(job=job, message=f"the gate passed: training again on all {pairs} pairs, the {heldout} "
                                            f"held-out ones included, with the same settings ({recipe.total_steps} "
                                            f"steps planned; DOCSBOT_REFIT_ON_ALL_PAIRS)")
        result = recipe.train()
        monitor.beat()
        if result.extra.get("time_budget"):
            training_event_add(job=job, message=f"refit: {result.extra['time_budget']}")
        ratio = forgetting_ratio(recipe.model, recipe.tokenizer,
                                 base_perplexity=metrics["evaluation"]["base"]["perplexity_general"])
        if ratio > settings.MAX_FORGETTING:
            training_event_add(job=job, level="warn", message=(
                f"the refit on all pairs raised general-text perplexity x{ratio:.3f} (limit x"
                f"{settings.MAX_FORGETTING:.3f}): the version keeps the adapter the gate evaluated"))
            recipe.remove_checkpoints()
            return None
        metrics["refit"] = {"pairs": pairs, "heldout_pairs_added": heldout, "steps": result.steps,
                            "warm_start": bool(recipe.warm_start.get("warm")),
                            "train_seconds": round(result.seconds, 2), "final_loss": result.final_loss,
                            "forgetting_ppl_ratio": round(ratio, 4)}
        recipe.save_adapter(path, dataset_hash=dataset.dataset_hash, metrics=metrics,
                            extra={**manifest_extra, "config": result.config})
        recipe.remove_checkpoints()
        training_event_add(job=job, message=f"refit on all {pairs} pairs: {result.steps} steps, final loss "
                                            f"{result.final_loss:.3f}, general-text perplexity x{ratio:.3f}")
        return result.curve
    finally:
        recipe.cleanup()


def _comparable_promoted_path(job: TrainingJob) -> str | None:
    """The promoted version's folder when it was trained on this job's base model (so the gate
    can score it on the same held-out examples), else None."""
    current = adapter_version_get_promoted(team=job.team)
    if current is None or current.base_model != job.base_model:
        return None
    return current.path if (Path(current.path) / "adapter_config.json").is_file() else None


def evaluation_figures(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The gate's numbers, flat: what the job event, the train command and the demo print."""
    base, adapter = evaluation["base"], evaluation["adapter"]
    tests = evaluation.get("significance") or {}
    figures: dict[str, Any] = {"heldout_examples": evaluation["heldout_examples"],
                               "covered_examples": adapter.get("covered_examples"),
                               "withheld_examples": adapter.get("withheld_examples")}
    for key in ("f1", "rouge_l", "citation_accuracy", "not_covered_accuracy"):
        for name, side in (("base", base), ("adapter", adapter)):
            value = side.get(key)
            figures[f"{key}_{name}"] = None if value is None else round(value, 4)
    for key in ("f1", "citation", "not_covered"):
        if key in tests:
            figures[f"p_{key}"] = tests[key]["p_value"]
    figures["forgetting_ppl_ratio"] = round(evaluation["forgetting_ppl_ratio"], 4)
    return figures


def evaluation_summary(evaluation: dict[str, Any]) -> str:
    f = evaluation_figures(evaluation)

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.0f}%"

    return (f"evaluation on {f['heldout_examples']} held-out examples: F1 base {f['f1_base']:.3f} -> adapter "
            f"{f['f1_adapter']:.3f} (p={f.get('p_f1', float('nan')):.3g}); citation accuracy "
            f"{pct(f['citation_accuracy_base'])} -> {pct(f['citation_accuracy_adapter'])}; not-covered accuracy "
            f"{pct(f['not_covered_accuracy_base'])} -> {pct(f['not_covered_accuracy_adapter'])}; "
            f"general-text perplexity x{f['forgetting_ppl_ratio']:.3f}")


def gate_decision(job: TrainingJob, metrics: dict[str, Any]):
    """The gate on a version's metrics against the team's promoted version; for a retrain on a docs
    change, also on the changed and the unchanged pages (retrain.changed_pages_check)."""
    current = adapter_version_get_promoted(team=job.team)
    decision = gate_decide(candidate=metrics, current=current.metrics if current else None,
                           max_forgetting=settings.MAX_FORGETTING, max_false_abstention=settings.MAX_FALSE_ABSTENTION)
    scoped = changed_pages_check(job=job, evaluation=metrics.get("evaluation") or {}) if decision.promote else None
    if scoped is None:
        return decision
    return GateDecision(scoped.promote, f"{decision.reason}; {scoped.reason}")


def _gate(job: TrainingJob, version: AdapterVersion) -> None:
    if version.status != AdapterVersion.Status.CANDIDATE:
        return
    decision = gate_decision(job, version.metrics)
    if decision.promote and settings.AUTO_PROMOTE:
        try:
            adapter_version_promote(version=version, reason=f"the gate promoted job {job.pk}'s version "
                                    f"{version.number}: {decision.reason}", actor="auto")
        except REFUSED as exc:
            training_event_add(job=job, level="warn", message=f"version {version.number} passed the gate "
                               f"({decision.reason}) but was not promoted: {app_error(exc).message}")
            return
        training_event_add(job=job, message=f"promoted version {version.number}: {decision.reason}")
    else:
        suffix = "" if settings.AUTO_PROMOTE else " (auto-promotion is off)"
        training_event_add(job=job, message=f"kept version {version.number} as a candidate: "
                                            f"{decision.reason}{suffix}")


def _reopen_database_connection() -> None:
    """The soft time limit arrives as a signal, possibly in the middle of a query (a progress
    write): that connection is unusable ("another command is already in progress"). Dropping it
    lets the next query open a fresh one, so the job can still be marked failed."""
    from django.db import DatabaseError, connection

    try:
        connection.close()
    except DatabaseError:
        log.warning("closing the interrupted database connection failed; a new one is opened", exc_info=True)


def _cancel(job: TrainingJob, owner: str, recipe) -> None:
    if recipe is not None:
        recipe.cleanup()  # free the memory before anything else
    training_job_finish(job=job, owner=owner, status=TrainingJob.Status.CANCELLED)
    training_event_add(job=job, message=f"cancelled at step {recipe.step if recipe else 0}")
