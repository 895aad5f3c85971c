"""The natural questions of a corpus asked again of one trained adapter, with the prompt's chunks cut to those within
a similarity margin of the best one (DOCSBOT_CHAT_CONTEXT_MARGIN), margin by margin, each compared with the first
margin on the same questions (paired tests both ways). Prints JSON.

Run after bench/quality.py, with the same data directory:

    DOCSBOT_DATA_DIR=/tmp/bq-req .venv/bin/python bench/context_margin.py --corpus requests --margins 0 0.1 0.15 0.2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="requests", help="the quality-<corpus> team bench/quality.py trained")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.15, 0.2])
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from bench.quality import (
        adapter_model,
        load_questions,
        natural_examples,
        score_natural,
        side_rates,
    )
    from docsbot.adapters.models import AdapterVersion
    from docsbot.core.serving import base_model_path
    from docsbot.teams.models import Team

    team = Team.objects.get(slug=f"quality-{args.corpus}")
    version = AdapterVersion.objects.filter(team=team).order_by("-number").first()
    if version is None:
        raise SystemExit(f"no adapter version for team quality-{args.corpus}: run bench/quality.py first")
    from training.evaluate import compare, inference_dtype

    tokenizer, model = adapter_model(base_model_path(), version.path)
    questions = load_questions(args.corpus)
    sides, results = {}, []
    for margin in args.margins:
        settings.CHAT_CONTEXT_MARGIN = margin
        examples = natural_examples(team, questions)
        with inference_dtype(model):  # the gate's dtype, as bench/quality.py asks them
            sides[margin] = score_natural(model, tokenizer, examples, max_new_tokens=80)
        documents = [e["messages"][1]["content"].count("<document index=") for e in examples]
        results.append({"margin": margin, "documents_per_prompt": round(sum(documents) / len(documents), 2),
                        "expected_page_in_prompt": sum(e["page_retrieved"] for e in examples if e["covered"]),
                        "adapter": side_rates(sides[margin]),
                        # one-sided p-values both ways against the first margin, on the same questions
                        "vs_first": {"better": compare(sides[args.margins[0]], sides[margin]),
                                     "worse": compare(sides[margin], sides[args.margins[0]])}
                        if margin != args.margins[0] else None})
        print(f"margin {margin}: adapter F1 {results[-1]['adapter']['f1']}, citation "
              f"{results[-1]['adapter']['citation_accuracy']}", file=sys.stderr, flush=True)
    print(json.dumps({"corpus": args.corpus, "adapter_version": version.number, "results": results}, indent=2))


if __name__ == "__main__":
    main()
