"""How the gate's answer generation batches its held-out prompts: balanced, length-sorted batches of at most 16
(``training.evaluate.generate_answers``) against the fixed batches of 8 in the examples' order it used before.
Prints JSON.

    .venv/bin/python bench/eval_batches.py DATASET_JSON [--base-model PATH] [--counts 10 32] [--rounds 2]

DATASET_JSON is a job's training data as the runner keeps it (``DATA_DIR/training/jobs/<job>/dataset.json``, e.g.
after ``make demo``): its held-out examples first, then training examples, make up each count. Both layouts run in
the same process, alternating, on the base model in the dtype the CPU computes fastest (float32 unless it has
native bf16; ``DOCSBOT_CPU_BF16=off`` forces float32), greedy, with the gate's answer budget. The figure is the
ratio of the median seconds; the answers of both layouts are compared too (greedy: they should be the same).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

OLD_BATCH = 8


def main() -> None:
    from step_kinds import job_arguments, job_training_data

    parser = job_arguments(__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 32])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.evaluate import answer_budget, generate_answers
    from training.hardware import cpu_has_native_bf16

    base_model, train = job_training_data(args)
    heldout = json.loads(args.dataset.read_text())["heldout"]
    dtype = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype).eval()

    def fixed_eights(examples: list[dict], budget: int) -> list[str]:
        return [answer for start in range(0, len(examples), OLD_BATCH)
                for answer in generate_answers(model, tokenizer, examples[start:start + OLD_BATCH],
                                               max_new_tokens=budget, batch_size=OLD_BATCH)]

    def balanced(examples: list[dict], budget: int) -> list[str]:
        return generate_answers(model, tokenizer, examples, max_new_tokens=budget)

    report: dict = {"bench": "eval_batches", "base_model": base_model, "dtype": str(dtype).removeprefix("torch."),
                    "rounds": args.rounds, "counts": {}}
    for count in args.counts:
        examples = (heldout + train)[:count]
        budget = answer_budget(tokenizer, examples, cap=96)
        seconds: dict[str, list[float]] = {"fixed_batches_of_8": [], "balanced_up_to_16": []}
        answers: dict[str, list[str]] = {}
        for _ in range(args.rounds):
            for name, layout in (("fixed_batches_of_8", fixed_eights), ("balanced_up_to_16", balanced)):
                started = time.perf_counter()
                answers[name] = layout(examples, budget)
                seconds[name].append(round(time.perf_counter() - started, 1))
        old, new = (statistics.median(seconds[name]) for name in seconds)
        report["counts"][str(len(examples))] = {
            "answer_budget": budget, "seconds": seconds, "speedup": round(old / new, 2),
            "same_answers": sum(a == b for a, b in zip(*answers.values(), strict=True))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
