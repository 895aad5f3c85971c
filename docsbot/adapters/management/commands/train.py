"""``manage.py train --team SLUG [--method lora|qlora|dora] [--wait | --foreground] [--json]``."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.management.base import BaseCommand, CommandError

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.services import method_serving_note, training_job_create, worker_identity
from docsbot.core.errors import REFUSED, command_error
from docsbot.teams.commands import team_or_error

if TYPE_CHECKING:
    from docsbot.qa.selectors import TrainingDataset


class Command(BaseCommand):
    help = "Train the team's adapter: queue a job (default), wait for a worker, or run it here."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--method", choices=TrainingJob.Method.values, default="lora")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="queue the job and wait for a gpu-queue worker")
        mode.add_argument("--foreground", action="store_true", help="run the job in this process")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                            help='a hyperparameter, e.g. --set rank=8 --set epochs=auto (repeatable)')
        parser.add_argument("--dataset", type=Path, help="train on this dataset file (JSON with train, heldout, "
                            "dataset_hash, pair_ids) instead of the team's approved pairs")
        parser.add_argument("--timeout", type=float, default=6 * 3600, help="--wait gives up after this (s)")
        parser.add_argument("--json", action="store_true", help="print only the JSON summary")

    def handle(self, *args, team: str, method: str, wait: bool, foreground: bool, overrides: list[str],
               dataset: Path | None, timeout: float, json: bool, **options):
        started = time.monotonic()
        self.quiet = json
        try:
            job = training_job_create(team=team_or_error(team), method=method,
                                      hyperparameters=parse_settings(overrides), enqueue=not foreground,
                                      dataset=_load_dataset(dataset) if dataset else None)
        except REFUSED as exc:
            raise command_error(exc) from None
        self.note(f"training job {job.pk} ({method}) for team {team}")
        serving = method_serving_note(method)
        if serving:
            self.stderr.write(f"note: {method}: {serving}")
        if foreground:
            from docsbot.adapters.runner import training_job_run

            training_job_run(job_id=job.pk, owner=f"{worker_identity()}:foreground")
        elif wait:
            self.wait_for(job, timeout)
        job.refresh_from_db()
        summary = _summary(job, time.monotonic() - started)
        self.stdout.write(_dumps(summary, indent=None if json else 2))
        if job.status in (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED):
            raise CommandError(f"job {job.pk} {job.status}: {job.error or 'see its events'}")

    def note(self, text: str) -> None:
        if not self.quiet:
            self.stderr.write(text)

    def wait_for(self, job: TrainingJob, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_event = 0
        while True:
            job.refresh_from_db()
            for event in job.events.filter(pk__gt=last_event).exclude(type="metrics"):
                self.note(f"  [{event.level}] {event.message}")
                last_event = event.pk
            if job.is_finished:
                return
            if job.status == TrainingJob.Status.RUNNING and job.total_steps and sys.stderr.isatty():
                self.stderr.write(f"\r  step {job.step}/{job.total_steps} loss {job.loss or 0:.4f} "
                                  f"eta {job.eta_seconds or 0:.0f}s ", ending="")
            if time.monotonic() > deadline:
                raise CommandError(f"job {job.pk} still {job.status} after {timeout:.0f}s; is a worker "
                                   "consuming the gpu queue? (celery -A docsbot worker -Q gpu)")
            time.sleep(1)


def parse_settings(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--set {item!r}: use NAME=VALUE")
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw  # e.g. auto, lora
    return values


def _load_dataset(path: Path) -> TrainingDataset:
    from docsbot.qa.selectors import TrainingDataset

    try:
        return TrainingDataset.from_json(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise CommandError(f"--dataset {path}: {exc}") from None


def _summary(job: TrainingJob, seconds: float) -> dict:
    version = AdapterVersion.objects.filter(job=job).first()
    return {"job": job.pk, "status": job.status,
            "adapter_version": version.number if version else None,
            "adapter_status": version.status if version else None,
            "metrics": _short_metrics(version.metrics) if version else {},
            "seconds": round(seconds, 1), **({"error": job.error} if job.error else {})}


def _short_metrics(metrics: dict) -> dict:
    evaluation = metrics.get("evaluation") or {}
    short = {"final_loss": metrics.get("final_loss"), "steps": metrics.get("steps")}
    if evaluation:
        from docsbot.adapters.runner import evaluation_figures

        short.update(evaluation_figures(evaluation))
    return short


def _dumps(value, indent):
    return json.dumps(value, indent=indent, default=str)
