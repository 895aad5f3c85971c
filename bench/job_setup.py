"""What a training job's setup costs with the rehearsal text sampled and read from the shared cache. Prints JSON.

    .venv/bin/python bench/job_setup.py DATASET_JSON [--base-model PATH] [--rounds N]

DATASET_JSON is a job's training data as the runner keeps it (``DATA_DIR/training/jobs/<job>/dataset.json``, e.g.
after ``make demo``). Each round sets the job's recipe up twice in fresh work folders (model, tokenizer, dataset
and the rehearsal text): once sampling the rehearsal text, as every job did before the shared cache and the first
job on a base model still does, and once reading it from a cache folder an earlier setup filled; the two
alternate in order, in one process, so the machine's speed cancels out of the ratio.
"""
from __future__ import annotations

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


def main() -> None:
    from step_kinds import job_arguments, job_training_data

    parser = job_arguments(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from training.config import TrainConfig
    from training.recipe import Recipe

    base_model, examples = job_training_data(args)
    cache = Path(tempfile.mkdtemp(prefix="rehearsal-cache-"))

    def setup_seconds(cache_dir: Path | None) -> float:
        recipe = Recipe(base_model=base_model, config=TrainConfig(), train_examples=examples,
                        work_dir=tempfile.mkdtemp(prefix="job-setup-"), rehearsal_cache=cache_dir)
        started = time.perf_counter()
        recipe.setup()
        seconds = time.perf_counter() - started
        recipe.cleanup()
        return seconds

    setup_seconds(cache)  # fills the cache (and warms the file cache for both sides)
    times: dict[str, list[float]] = {"sampled": [], "cached": []}
    for round_ in range(args.rounds):
        for side in ("sampled", "cached") if round_ % 2 == 0 else ("cached", "sampled"):
            times[side].append(setup_seconds(None if side == "sampled" else cache))
    medians = {side: statistics.median(values) for side, values in times.items()}
    print(json.dumps({
        "bench": "job_setup", "dataset": str(args.dataset), "base_model": base_model,
        "cpu_bf16": os.environ.get("DOCSBOT_CPU_BF16", "auto"), "load_average": [round(x, 2) for x in os.getloadavg()],
        "setup_s": {side: [round(x, 1) for x in values] for side, values in times.items()},
        "sampled_over_cached": round(medians["sampled"] / medians["cached"], 1),
    }, indent=2))


if __name__ == "__main__":
    main()
