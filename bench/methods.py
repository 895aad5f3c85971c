"""Which PEFT method buys the most answer quality for a team's docs, by measurement. Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bench-methods .venv/bin/python bench/methods.py --corpus requests \
        [--minutes-per-method 5] [--eval-max 30] [--methods lora ia3 ...] [--out FILE]

The product's own path: ingest a corpus from bench/quality.py into a fresh team (``methods-<corpus>``),
structural pairs, the RAFT dataset, then ``manage.py compare_methods``' service: every method this
machine can train (QLoRA where bitsandbytes imports) on the same pairs and split, each within the same time budget,
scored by the gate's evaluation against the base on the same held-out examples (the base scored
once), with trainable parameters, adapter size, training tokens/s and wall time, peak memory,
forgetting, and decode tokens/s alone and per stream beside 7 other teams' LoRA adapters. Then every
trained adapter is loaded into one embedded engine (float32) and asked the same questions alone
and all together: the greedy tokens must not change.

Targets (issue 19): the report for every method in under 60 minutes on 2 idle cores; each method's
adapter loads in the embedded server and answers; mixed batches return each request's tokens alone.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
os.environ.setdefault("DOCSBOT_DATA_DIR", "/tmp/bench-methods")
TARGET_MINUTES = 60

# after the path and the data dir are set: quality sets its own default otherwise
from quality import _progress, corpus_team, emit


def mixed_check(base_model: str, rows: list[dict]) -> dict:
    adapters = [f"{row['method']}={row['path']}" for row in rows if "error" not in row.get("serving", {})]
    done = subprocess.run([sys.executable, "-m", "serving.measure", "--base-model", base_model, "--dtype", "float32",
                           "--mixed-check", *adapters], capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["serving.measure failed"])[-1][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="requests", help="a corpus of bench/quality.py")
    parser.add_argument("--methods", nargs="+", help="default: every method this machine can train")
    parser.add_argument("--minutes-per-method", type=float, default=5.0)
    parser.add_argument("--eval-max", type=int, default=30, help="held-out examples scored per method")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    from docsbot.adapters.comparisons import comparable_methods, method_comparison_run
    from docsbot.core.serving import base_model_path

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    call_command("prepare_base_model", stdout=sys.stderr)  # stdout is the JSON report
    team = corpus_team(args.corpus, prefix="methods")
    methods = args.methods or list(comparable_methods())
    _progress(f"{args.corpus}: pairs ready after {time.monotonic() - started:.0f} s; comparing {', '.join(methods)} "
              f"at {args.minutes_per_method} min each")

    def show(row: dict) -> None:
        quality = row.get("adapter") or {}
        _progress(f"{row['method']}: {row['steps']} steps, F1 {quality.get('f1')} (base {row.get('base', {}).get('f1')}), "
                  f"decode {row['serving'].get('decode_tokens_per_second')} tok/s")

    report = method_comparison_run(team=team, methods=methods, minutes_per_method=args.minutes_per_method,
                                   eval_max_examples=args.eval_max, on_method=show)
    mixed = mixed_check(base_model_path(), report["methods"])
    minutes = round((time.monotonic() - started) / 60, 1)
    loads = {row["method"]: "error" not in row["serving"] for row in report["methods"]}
    result = {"bench": "methods", "corpus": args.corpus, "load_average": os.getloadavg(), "minutes": minutes,
              "report": report, "mixed_batches": mixed,
              "targets": {"minutes": {"value": minutes, "target": TARGET_MINUTES, "met": minutes < TARGET_MINUTES},
                          "every_adapter_serves": {"value": loads, "met": all(loads.values())},
                          "mixed_equals_alone": {"met": bool(mixed.get("same_tokens"))}}}
    emit(result, args.out)


if __name__ == "__main__":
    main()
