"""What the CPU decode attention (serving/cpu_attention.py) saves a batched decode step, against SDPA in the same run.

    OMP_NUM_THREADS=1 DOCSBOT_DATA_DIR=/tmp/bench-decode .venv/bin/python bench/decode_attention.py [--rows 16]

(JSON.) The serving engine in this process on the offline base model (converted into DATA_DIR when missing), its
compute dtype as the server picks it (bf16 on a CPU with native bf16; in float32 both run SDPA), 16 random rank-16
adapters; per round and attention implementation, ``--rows`` greedy requests of docsbot's chat prompt (350-500
tokens) submitted together, 64 tokens each, once all on the base model and once each row with its own adapter.
Reported: the median decode step (every row's next token) and the wall time of the whole batch, prefill included,
the two implementations alternating over ``--rounds``.
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


def _batch(engine, jobs: list[tuple[list[int], object]]) -> dict[str, float]:
    """Decode-step median (ms) and wall time (s) of ``jobs`` submitted together, 64 greedy tokens each."""
    from tests.serving.helpers import run_greedy

    steps: list[float] = []
    decode = engine._decode_step

    def timed(key: int) -> None:
        started = time.perf_counter()
        decode(key)
        steps.append(time.perf_counter() - started)

    engine._decode_step = timed
    try:
        started = time.perf_counter()
        run_greedy(engine, jobs, max_tokens=64)
        wall = time.perf_counter() - started
    finally:
        engine._decode_step = decode
    return {"decode_step_ms": round(statistics.median(steps) * 1000, 1), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
    import django

    django.setup()
    from serve import default_real_base, prepare_real_base, real_prompts, write_adapters

    from serving import cpu_attention
    from serving.adapters import load_adapter
    from serving.engine import Engine

    base = prepare_real_base(default_real_base())
    engine = Engine(str(base), device="cpu", max_loras=args.rows, max_lora_rank=16, prefix_cache_tokens=0)
    work = Path(tempfile.mkdtemp(prefix="bench-decode-"))
    paths = write_adapters(base, work, args.rows, rank=16, base_name=str(base))
    adapters = [load_adapter(f"bench-{i}", path, engine.base_info) for i, path in enumerate(paths)]
    prompts = [engine.tokenizer(p)["input_ids"] for p in real_prompts(engine.tokenizer, args.rows * (args.rounds + 1))]
    implementations = {"cpu_decode": cpu_attention.NAME, "sdpa": "sdpa"}
    results: dict[str, dict[str, list[dict]]] = {name: {"base": [], "mixed": []} for name in implementations}
    try:
        for round_ in range(args.rounds + 1):  # round 0 warms up
            chunk = prompts[round_ * args.rows:(round_ + 1) * args.rows]
            for name, implementation in implementations.items():
                engine.model.set_attn_implementation(implementation)
                for kind, jobs in (("base", [(p, None) for p in chunk]), ("mixed", list(zip(chunk, adapters)))):
                    measured = _batch(engine, jobs)
                    if round_:
                        results[name][kind].append(measured)
    finally:
        engine.shutdown()

    def median(name: str, kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name][kind])

    report = {
        "machine": {"cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "dtype": str(engine.base_info.dtype).removeprefix("torch."), "rows": args.rows,
                    "rounds": args.rounds, "load_average": [round(x, 2) for x in os.getloadavg()]},
        "medians": {name: {kind: {key: median(name, kind, key) for key in ("decode_step_ms", "wall_s")}
                           for kind in ("base", "mixed")} for name in implementations},
        "rounds": results,
    }
    report["decode_step_sdpa_vs_cpu_decode"] = {
        kind: round(median("sdpa", kind, "decode_step_ms") / median("cpu_decode", kind, "decode_step_ms"), 2)
        for kind in ("base", "mixed")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
