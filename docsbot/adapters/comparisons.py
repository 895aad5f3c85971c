"""Which adapter method buys the most for a team's docs, by measurement (``manage.py compare_methods``).

Every method trains on the same pairs and the same train/held-out split, each within the same
wall-clock budget (``TrainConfig.time_budget_s``), and is scored by the gate's own evaluation
(training/evaluate.py: base and adapter on the same held-out examples, paired tests from
training/stats.py). The report is kept on the team (``Team.method_comparison``); the admin shows
it and can promote the winner, which is then published as an adapter version.

torch and ``training`` are imported inside functions only (a management command, never a web process).
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError

from docsbot.adapters import paths
from docsbot.adapters.models import AdapterVersion
from docsbot.core.serving import base_model_path
from docsbot.teams.models import Team

if TYPE_CHECKING:
    from docsbot.qa.selectors import TrainingDataset


def comparable_methods() -> tuple[str, ...]:
    """Every method this machine can train: QLoRA needs bitsandbytes (0.50 runs its 4-bit kernels on a GPU
    and on a CPU)."""
    from importlib.util import find_spec

    from training.config import METHODS

    return tuple(m for m in METHODS if m != "qlora" or find_spec("bitsandbytes") is not None)


def method_comparison_run(*, team: Team, methods: Sequence[str], minutes_per_method: float,
                          dataset: TrainingDataset | None = None, max_steps: int | None = None,
                          eval_max_examples: int = 75, eval_max_new_tokens: int = 96, decode_tokens: int = 32,
                          on_method: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train, evaluate and measure each method; store and return the report."""
    from training.config import METHODS

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValidationError(f"methods: choose from {', '.join(METHODS)}, got {', '.join(unknown) or 'none'}")
    if dataset is None:
        from docsbot.qa.selectors import dataset_build

        dataset = dataset_build(team=team)
    if not dataset.train:
        raise ValidationError("dataset: the team has no approved training pairs (run generate_qa and review)")
    created = datetime.now(UTC)
    root = paths.versions_dir(team.slug) / f"compare-{created:%Y%m%d-%H%M%S}"
    rows: list[dict[str, Any]] = []
    base_scores: dict[str, Any] | None = None  # scored with the first method, reused by the rest
    for method in methods:
        row, base_scores = _method_row(
            method, dataset, root / method, minutes=minutes_per_method, max_steps=max_steps,
            eval_max_examples=eval_max_examples, eval_max_new_tokens=eval_max_new_tokens,
            decode_tokens=decode_tokens, base_scores=base_scores)
        rows.append(row)
        if on_method:
            on_method(row)
    report = {"created": created.isoformat(timespec="seconds"), "base_model": base_model_path(),
              "dataset_hash": dataset.dataset_hash, "train_examples": len(dataset.train),
              "heldout_examples": len(dataset.heldout), "minutes_per_method": minutes_per_method,
              "methods": rows, "winner": comparison_winner(
                  rows, max_forgetting=settings.MAX_FORGETTING, max_false_abstention=settings.MAX_FALSE_ABSTENTION),
              "pair_ids": list(dataset.pair_ids)}
    Team.objects.filter(pk=team.pk).update(method_comparison=report)
    return report


def _method_row(method: str, dataset: TrainingDataset, out: Path, *, minutes: float, max_steps: int | None,
                eval_max_examples: int, eval_max_new_tokens: int, decode_tokens: int,
                base_scores: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    import torch

    from training.artifacts import read_manifest
    from training.config import TrainConfig
    from training.recipe import Recipe

    config = TrainConfig(method=method, time_budget_s=minutes * 60, max_steps=max_steps,
                         max_rank=settings.MAX_LORA_RANK)
    recipe = Recipe(base_model=base_model_path(), config=config, train_examples=dataset.train,
                    work_dir=out.with_name(out.name + ".work"))
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        recipe.setup()
        result = recipe.train()
        heldout = dataset.heldout
        evaluation = recipe.evaluate(heldout, max_examples=eval_max_examples, max_new_tokens=eval_max_new_tokens,
                                     base=base_scores) if heldout else None
        metrics = {"final_loss": result.final_loss, "steps": result.steps, "train_seconds": round(result.seconds, 2),
                   "tokens_per_second": round(result.real_tokens_per_second, 1),
                   "peak_memory_bytes": result.peak_memory_bytes, "dataset": result.dataset,
                   **({"evaluation": evaluation} if evaluation else {})}
        recipe.save_adapter(out, dataset_hash=dataset.dataset_hash, metrics=metrics,
                            extra={"config": result.config, "comparison": True})
        recipe.remove_checkpoints()
    finally:
        recipe.cleanup()
    manifest = read_manifest(out)
    row = {"method": method, "path": str(out), "trainable_parameters": manifest["trainable_parameters"],
            "size_bytes": manifest["size_bytes"], "steps": result.steps, "train_seconds": round(result.seconds, 2),
            "train_tokens_per_second": round(result.real_tokens_per_second, 1),
            "peak_memory_bytes": result.peak_memory_bytes,
            "peak_memory": "GPU peak" if torch.cuda.is_available() else "process peak RSS (includes earlier methods)",
            "time_budget": result.extra.get("time_budget", ""), "servable_by": manifest["servable_by"],
            "serving_note": manifest.get("serving_note"), **quality_figures(evaluation),
            "serving": decode_speed(out, tokens=decode_tokens)}
    return row, (evaluation or {}).get("base", base_scores)


def quality_figures(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """Held-out F1 and citation accuracy with 95 % intervals, base and adapter, the paired tests
    against the base, and forgetting (general-text perplexity ratio)."""
    from training.stats import mean_interval, wilson_interval

    if not evaluation:
        return {"quality": None}
    figures: dict[str, Any] = {"heldout_examples": evaluation["heldout_examples"],
                               "forgetting_ppl_ratio": round(evaluation["forgetting_ppl_ratio"], 4)}
    for side in ("base", "adapter"):
        scores = evaluation[side]["scores"]
        f1 = [s["f1"] for s in scores if s["covered"]]
        cites = [s["cites_gold"] for s in scores if s["covered"] and s["cites_gold"] is not None]
        accuracy = sum(cites) / len(cites) if cites else None
        refused = evaluation[side].get("false_abstention")
        figures[side] = {"f1": round(evaluation[side]["f1"], 4), "f1_interval": _rounded(mean_interval(f1)),
                         "false_abstention": None if refused is None else round(refused, 4),
                         "citation_accuracy": None if accuracy is None else round(accuracy, 4),
                         "citation_interval": _rounded(wilson_interval(sum(cites), len(cites))) if cites else None}
    significance = evaluation.get("significance") or {}
    figures["vs_base"] = {key: significance[key] for key in ("f1", "citation") if key in significance}
    return figures


def _rounded(interval: tuple[float, float]) -> list[float]:
    return [round(interval[0], 4), round(interval[1], 4)]


OTHER_TEAMS = 7  # the serving cost is also measured beside this many other teams' LoRA adapters


def decode_speed(adapter_dir: Path, *, tokens: int) -> dict[str, Any]:
    """Decode tokens/s of the adapter in the embedded engine alone, and per stream while 7 other teams'
    adapters decode in the same batches, in a process of its own (docsbot does not import the engine; a
    fresh process also keeps the training's memory out of it)."""
    command = [sys.executable, "-m", "serving.measure", "--base-model", base_model_path(),
               "--adapter", str(adapter_dir), "--tokens", str(tokens), "--others", str(OTHER_TEAMS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["serving.measure failed"])[-1][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def comparison_winner(rows: Sequence[dict[str, Any]], *, max_forgetting: float,
                      max_false_abstention: float = 1.0) -> str | None:
    """The method with the best held-out F1 among those the gate would promote on forgetting and false "not
    covered" (gate_decide); ties go to fewer trainable parameters. None without an evaluation."""
    from docsbot.adapters.services import abstains_too_often

    eligible = [r for r in rows if r.get("adapter") and r["forgetting_ppl_ratio"] <= max_forgetting
                and not abstains_too_often(r["adapter"], r["base"], limit=max_false_abstention)]
    if not eligible:
        return None
    best = max(eligible, key=lambda r: (r["adapter"]["f1"], -r["trainable_parameters"]))
    return best["method"]


def method_comparison_promote(*, team: Team, method: str | None = None) -> AdapterVersion:
    """Publish the comparison's adapter for ``method`` (default: the winner) as a version and promote it."""
    from docsbot.adapters.services import adapter_version_promote, adapter_version_publish

    report = Team.objects.get(pk=team.pk).method_comparison or {}
    method = method or report.get("winner")
    row = next((r for r in report.get("methods", []) if r["method"] == method), None)
    if row is None:
        raise ValidationError(f"team {team.slug}: no compared adapter for {method or 'a winner'} "
                              "(run manage.py compare_methods)")
    path = Path(row["path"])
    existing = AdapterVersion.objects.filter(team=team, path=str(path)).first()
    if existing is None:
        from training.artifacts import read_manifest

        manifest = read_manifest(path)
        existing = adapter_version_publish(job=None, team=team, path=path, manifest=manifest,
                                           metrics=manifest.get("metrics", {}), curve=[],
                                           dataset_hash=report.get("dataset_hash", ""),
                                           pair_ids=report.get("pair_ids", []))
    return adapter_version_promote(version=existing)
