"""How well the documents' support for an answer (docsbot.chat.support) tells grounded answers from the rest.
Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bq-requests .venv/bin/python bench/answer_support.py --corpus requests \
        --quality /tmp/bq-requests.json [--labels bench/labels/answer_support.jsonl] [--sample-out FILE]

Reads a ``bench/quality.py`` run (its JSON and its data dir, where the corpus's team still is), rebuilds each
natural question's prompt as that run asked it, and scores the served adapter's answers (and the base's) with
``answer_support``. ``--sample-out`` writes the answers that did not abstain, shuffled, with their prompt's
documents and nothing else, for a blind reader to judge whether the documents say what the answer says;
``--labels`` (that reader's verdicts: {"key", "grounded": true|false}) reports, per threshold, how many
grounded answers the check would withhold and how many ungrounded ones it would catch.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def answer_key(corpus: str, question_id: str, side: str, answer: str) -> str:
    """A label's key: the same answer to the same question keeps its label across runs (opaque, so a reader
    cannot tell the base model's answers from the adapter's)."""
    return hashlib.sha256(f"{corpus}\n{question_id}\n{side}\n{answer}".encode()).hexdigest()[:16]


def scored_answers(corpus: str, quality: dict[str, Any]) -> list[dict[str, Any]]:
    import django

    django.setup()
    from quality import load_questions, natural_examples

    from docsbot.chat.support import answer_support
    from docsbot.core.prompts import prompt_documents, prompt_question
    from docsbot.teams.models import Team
    from training.text_metrics import says_not_covered

    run = next(item for item in quality["corpora"] if item["corpus"] == corpus) if "corpora" in quality else quality
    natural = run["natural"]
    team = Team.objects.get(slug=f"quality-{corpus}")
    examples = {e["id"]: e for e in natural_examples(team, load_questions(corpus))}
    rows = []
    for item in natural["answers"]:
        example = examples[item["id"]]
        prompt = example["messages"][1]["content"]
        question, documents = prompt_question(prompt), prompt_documents(prompt)
        for side in ("adapter", "base"):
            answer = item[side]
            abstained = says_not_covered(answer)
            rows.append({"key": answer_key(corpus, item["id"], side, answer), "id": item["id"], "side": side,
                         "covered": example["covered"], "abstained": abstained, "answer": answer,
                         "question": question, "documents": documents,
                         "support": None if abstained else answer_support(
                             answer, documents=documents.values(), question=question)})
    return rows


def report(rows: list[dict[str, Any]], labels: dict[str, bool]) -> dict[str, Any]:
    answered = [row for row in rows if not row["abstained"]]
    labelled = [row for row in answered if row["key"] in labels and row["support"] is not None]
    per_threshold = {}
    for threshold in THRESHOLDS:
        per_threshold[str(threshold)] = {}
        for side in ("adapter", "base"):
            mine = [row for row in labelled if row["side"] == side]
            withheld = [row for row in mine if row["support"] < threshold]
            per_threshold[str(threshold)][side] = {
                "grounded_withheld": sum(labels[row["key"]] for row in withheld),
                "grounded": sum(labels[row["key"]] for row in mine),
                "ungrounded_caught": sum(not labels[row["key"]] for row in withheld),
                "ungrounded": sum(not labels[row["key"]] for row in mine)}
    return {"answers": len(rows), "answered": len(answered), "labelled": len(labelled),
            "grounded": sum(labels[row["key"]] for row in labelled),
            "too_short_to_tell": sum(row["support"] is None for row in answered),
            "per_threshold": per_threshold,
            "rows": [{k: row[k] for k in ("id", "side", "covered", "support")} | {"grounded": labels.get(row["key"])}
                     for row in answered]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--quality", type=Path, required=True, help="the JSON bench/quality.py printed")
    parser.add_argument("--labels", type=Path, default=ROOT / "bench" / "labels" / "answer_support.jsonl")
    parser.add_argument("--sample-out", type=Path, help="write the answers to label blind here")
    args = parser.parse_args()
    rows = scored_answers(args.corpus, json.loads(args.quality.read_text()))
    if args.sample_out:
        answered = [row for row in rows if not row["abstained"]]
        random.Random(7).shuffle(answered)
        with args.sample_out.open("w") as out:
            for row in answered:
                out.write(json.dumps({"key": row["key"], "question": row["question"],
                                      "documents": row["documents"], "answer": row["answer"]}) + "\n")
    labels = {}
    if args.labels.exists():
        for line in args.labels.read_text().splitlines():
            if line.strip():
                label = json.loads(line)
                labels[label["key"]] = bool(label["grounded"])
    print(json.dumps(report(rows, labels), indent=1))


if __name__ == "__main__":
    main()
