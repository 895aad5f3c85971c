"""What the base model adds to pair generation: the LLM generator's answer-first round trip on prose sentences the
structural rules leave unasked. Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bench-qa-llm .venv/bin/python bench/qa_llm.py [--corpus requests] [--spans 40]
        [--base-model PATH] [--sample-dir DIR]

Per corpus (bench/corpora.py): a fresh team, the pages ingested, then ``--spans`` answer spans drawn at random (fixed
seed) from all chunks (``docsbot.qa.generators.llm.answer_spans``: prose sentences no structural pair quotes). For
each, the embedded server running the base model (default: the offline SmolLM2) writes the question and answers it
from the chunk, as the generator does. The report: questions written, round trips passed (reply agrees with the
sentence, token F1 >= the generator's threshold), seconds per span, and the agreement of every span. ``--sample-dir``
writes ``<corpus>.jsonl`` (id, question, answer = the sentence, source chunk) for a blind reader, and
``<corpus>.key.jsonl`` (id, agreement, passed): the reader's verdicts say how many model questions are good and
whether the round trip keeps the good ones.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
from corpora import CORPORA, pages_folder

SEED = 18


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=list(CORPORA), default="requests")
    parser.add_argument("--spans", type=int, default=40)
    parser.add_argument("--base-model", help="default: the converted offline base model")
    parser.add_argument("--sample-dir", type=Path)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from docsbot.core.serving import base_model_path, embedded_server
    from docsbot.documents.models import Chunk
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.generators import vocabulary
    from docsbot.qa.generators.llm import LLMGenerator, answer_spans
    from docsbot.qa.services import _chunk_inputs
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create
    from serving.client import ServingClient

    call_command("migrate", verbosity=0)
    slug = f"bench-qa-llm-{args.corpus}"
    Team.objects.filter(slug=slug).delete()
    team = team_create(slug=slug, name=args.corpus)
    with tempfile.TemporaryDirectory() as scratch:
        ingest_paths(team=team, items=[str(pages_folder(CORPORA[args.corpus], Path(scratch)))])
    chunks = list(Chunk.objects.filter(team=team).select_related("document").order_by("document_id", "ordinal"))
    inputs = _chunk_inputs(chunks)
    base_model = args.base_model or base_model_path()
    with embedded_server(base_model=base_model) as url:
        generator = LLMGenerator(ServingClient(url, api_key=settings.SERVING_API_KEY))
        candidates = []
        for item in inputs:
            with vocabulary.using(item.vocabulary):
                answered = [c.answer for c in generator.structural.generate(item).candidates]
                candidates += [(item, span) for span in answer_spans(item.parsed_blocks(), answered)]
        drawn = random.Random(SEED).sample(candidates, min(args.spans, len(candidates)))
        rows, started = [], time.monotonic()
        for number, (item, span) in enumerate(drawn, start=1):
            with vocabulary.using(item.vocabulary):
                trip = generator.round_trip(item, span)
            rows.append({"span": span, "chunk": item.text, "question": trip.question if trip else "",
                         "agreement": round(trip.agreement, 3) if trip else None,
                         "passed": bool(trip and trip.agreement >= generator.min_agreement)})
            print(f"{number}/{len(drawn)} spans", file=sys.stderr)
        seconds = time.monotonic() - started
    written = [row for row in rows if row["question"]]
    agreements = [row["agreement"] for row in written]
    report = {
        "corpus": args.corpus, "base_model": base_model, "chunks": len(chunks), "answer_spans": len(candidates),
        "spans_tried": len(rows), "questions_written": len(written), "round_trips_passed": sum(r["passed"] for r in rows),
        "min_agreement": generator.min_agreement, "seconds_per_span": round(seconds / max(1, len(rows)), 2),
        "agreement_median": round(statistics.median(agreements), 3) if agreements else None,
        "agreement_max": max(agreements) if agreements else None,
    }
    if args.sample_dir:
        args.sample_dir.mkdir(parents=True, exist_ok=True)
        with (args.sample_dir / f"{args.corpus}.jsonl").open("w") as sample, \
                (args.sample_dir / f"{args.corpus}.key.jsonl").open("w") as key:
            for index, row in enumerate(written):
                sample.write(json.dumps({"id": index, "question": row["question"], "answer": row["span"],
                                         "source_chunk": row["chunk"]}) + "\n")
                key.write(json.dumps({"id": index, "agreement": row["agreement"], "passed": row["passed"]}) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
