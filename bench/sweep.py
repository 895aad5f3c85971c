"""The auto hyperparameters against a small sweep on the real base model (issue 21). Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bench-sweep .venv/bin/python bench/sweep.py --corpus requests \
        [--steps 100] [--learning-rates 1e-4,2e-4,4e-4] [--ranks 8,16] [--epochs auto] [--out FILE]

One corpus of bench/quality.py is ingested once (fresh team ``sweep-<corpus>``), its structural
pairs built into one RAFT dataset, and a LoRA job trained on SmolLM2 for every combination of
learning rate × rank × epochs (``auto`` is what TrainConfig picks), each the same number of
optimizer steps (``--steps``: a step count, not a time budget, so a busy machine changes the
wall clock but not the result; ``--steps 0`` trains whole epochs, so that epochs are compared) and evaluated by the production gate on the same held-out
examples. No refit, no promotion: every job is compared with the base only. Reports each
combination's held-out F1 and the auto settings' F1 as a share of the best (target: within 10 %).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import ROOT
from quality import QUALITY_CORPORA, _progress, corpus_team, emit

sys.path.insert(0, str(ROOT))
AUTO = "auto"
TARGET_SHARE_OF_BEST = 0.9


def _values(text: str, cast) -> list[Any]:
    return [AUTO if item == AUTO else cast(item) for item in text.split(",")]


def prepare(corpus_name: str):
    """The corpus ingested into a fresh team, its pairs generated, and the one dataset every job trains on."""
    from docsbot.qa.selectors import dataset_build

    team = corpus_team(corpus_name, prefix="sweep")
    return team, dataset_build(team=team)


def run_one(team, dataset, *, steps: int, eval_max: int, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.runner import evaluation_figures, training_job_run
    from docsbot.adapters.services import training_job_create

    chosen = {k: v for k, v in hyperparameters.items() if v != AUTO}
    job = training_job_create(team=team, method="lora", dataset=dataset, enqueue=False,
                              hyperparameters={"max_steps": steps or None, "eval_max_examples": eval_max, **chosen})
    started = time.monotonic()
    training_job_run(job_id=job.pk, owner="bench-sweep")
    job.refresh_from_db()
    if job.status != TrainingJob.Status.SUCCEEDED:
        return {"settings": hyperparameters, "error": f"{job.status}: {job.error}"}
    version = AdapterVersion.objects.get(job=job)
    figures = evaluation_figures(version.metrics["evaluation"])
    return {"settings": hyperparameters, "resolved": {k: job.config.get(k) for k in ("learning_rate", "rank", "epochs")},
            "steps": version.metrics["steps"], "f1": figures["f1_adapter"], "f1_base": figures["f1_base"],
            "p_f1": figures.get("p_f1"), "citation": figures.get("citation_accuracy_adapter"),
            "forgetting": round(version.metrics["evaluation"]["forgetting_ppl_ratio"], 4),
            "minutes": round((time.monotonic() - started) / 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=list(QUALITY_CORPORA), default="requests")
    parser.add_argument("--steps", type=int, default=100,
                        help="optimizer steps per job; 0: whole epochs (what --epochs compares)")
    parser.add_argument("--eval-max", type=int, default=40, help="held-out examples the gate scores")
    parser.add_argument("--learning-rates", default="1e-4,auto,4e-4")
    parser.add_argument("--ranks", default="8,auto")
    parser.add_argument("--epochs", default="auto")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.REFIT_ON_ALL_PAIRS = False  # the gate's adapter is what is compared
    settings.AUTO_PROMOTE = False  # no job becomes the bar the next one is compared with
    call_command("migrate", verbosity=0)
    call_command("prepare_base_model", stdout=sys.stderr)  # stdout is the JSON report
    team, dataset = prepare(args.corpus)
    _progress(f"{args.corpus}: {len(dataset.train)} training examples, {dataset.heldout_pairs} held-out pairs")
    grid = list(itertools.product(_values(args.learning_rates, float), _values(args.ranks, int),
                                  _values(args.epochs, int)))
    runs = []
    for learning_rate, rank, epochs in grid:
        settings_ = {"learning_rate": learning_rate, "rank": rank, "epochs": epochs}
        _progress(f"{args.corpus}: {settings_}")
        runs.append(run_one(team, dataset, steps=args.steps, eval_max=args.eval_max, hyperparameters=settings_))
        _progress(f"  -> {json.dumps({k: runs[-1].get(k) for k in ('f1', 'p_f1', 'forgetting', 'minutes', 'error')})}")
    scored = [run for run in runs if "f1" in run]
    best = max(scored, key=lambda run: run["f1"], default=None)
    auto = next((run for run in scored if all(v == AUTO for v in run["settings"].values())), None)
    share = round(auto["f1"] / best["f1"], 3) if auto and best and best["f1"] else None
    report = {"bench": "sweep", "corpus": args.corpus, "steps": args.steps, "runs": runs,
              "best": best and best["settings"], "auto_share_of_best_f1": share,
              "target": f">= {TARGET_SHARE_OF_BEST}", "met": share is not None and share >= TARGET_SHARE_OF_BEST}
    emit(report, args.out)


if __name__ == "__main__":
    main()
