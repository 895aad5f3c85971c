"""What a training job's steps cost by kind: the team's examples against rehearsal (the base model's own text).
Prints JSON.

    .venv/bin/python bench/step_kinds.py DATASET_JSON [--base-model PATH] [--steps N]

DATASET_JSON is a job's training data as the runner keeps it (``DATA_DIR/training/jobs/<job>/dataset.json``, e.g.
after ``make demo``); the job's recipe (auto settings, rehearsal included) trains ``--steps`` steps on its
``train`` examples in a scratch folder, and each step is timed from its loss call to the next one's (forward,
backward and optimizer step). A step whose labels cover most of its tokens is rehearsal. The ratio of the two
kinds' mean step times is the figure: both run in the same process, so the machine's speed cancels out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def job_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of a bench that trains on a job's data: its dataset.json and the base model."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--base-model", default=None, help="default: DATA_DIR/models/smollm2-135m-instruct")
    return parser


def job_training_data(args: argparse.Namespace) -> tuple[str, list[dict]]:
    """The base model to train and the job's training examples, as ``job_arguments`` named them."""
    from serve import default_real_base

    return args.base_model or str(default_real_base()), json.loads(args.dataset.read_text())["train"]


def main() -> None:
    parser = job_arguments(__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()

    from training.config import TrainConfig
    from training.data import IGNORE
    from training.recipe import Recipe

    base_model, examples = job_training_data(args)
    recipe = Recipe(base_model=base_model, config=TrainConfig(max_steps=args.steps), train_examples=examples,
                    work_dir=tempfile.mkdtemp(prefix="step-kinds-"))
    started = time.perf_counter()
    recipe.setup()
    setup_s = time.perf_counter() - started

    calls: list[tuple[float, bool, tuple[int, ...]]] = []
    loss = recipe.loss

    def timed_loss(batch):
        labelled = float((batch.labels[:, 1:] != IGNORE).float().mean())
        calls.append((time.perf_counter(), labelled > 0.5, tuple(batch.labels.shape)))
        return loss(batch)

    recipe.loss = timed_loss
    recipe.train()
    ends = [at for at, _, _ in calls[1:]] + [time.perf_counter()]
    kinds: dict[str, list[tuple[float, tuple[int, ...]]]] = {"team": [], "rehearsal": []}
    for (at, rehearsal, shape), end in zip(calls, ends):
        kinds["rehearsal" if rehearsal else "team"].append((end - at, shape))
    report = {
        "bench": "step_kinds", "dataset": str(args.dataset), "base_model": base_model, "steps": len(calls),
        "setup_s": round(setup_s, 1), "cpu_bf16": os.environ.get("DOCSBOT_CPU_BF16", "auto"),
        **{kind: {"steps": len(times), "mean_s": round(statistics.fmean(t for t, _ in times), 2),
                  "tokens_per_step": round(statistics.fmean(s[0] * s[1] for _, s in times)),
                  "shapes": sorted({s for _, s in times})[:6]}
           for kind, times in kinds.items() if times},
    }
    if kinds["team"] and kinds["rehearsal"]:
        report["rehearsal_over_team"] = round(report["rehearsal"]["mean_s"] / report["team"]["mean_s"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
