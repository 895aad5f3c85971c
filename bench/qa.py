"""Benchmark of pair generation on the Flask docs (structural generator). Prints JSON.

    DATABASE_URL=... REDIS_URL=... DOCSBOT_DATA_DIR=/tmp/bench-qa .venv/bin/python bench/qa.py \
        [--corpus /work/shared/corpora/flask-2.2-docs.tar.gz] [--sample out.jsonl]

Creates (or reuses) the team ``bench-qa``, ingests the corpus with the documents service,
generates pairs from scratch, and reports: pairs/s, kept pairs per substantive page, the
hand-label quality of kept pairs and the share of bad pairs the filters removed
(bench/labels/flask_pairs.jsonl, keyed by status, question and answer), and recall@5 of held-out questions
back to their source chunk.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
# Labels of the current generator's output: three random samples of 150 kept + 30 rejected pairs (seeds
# 19191919, 20202020 and 21212121, three readers), merged into one file, a pair read in two samples counted once;
# a pair the generator has since changed no longer matches and is not counted.
LABELS = [ROOT / "bench" / "labels" / "flask_pairs.jsonl"]
TARGETS = {"kept_per_substantive_page": 3, "pairs_per_minute": 1000, "kept_good_share": 0.9}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="/work/shared/corpora/flask-2.2-docs.tar.gz")
    parser.add_argument("--profile", action="store_true", help="cProfile of the generation run, on stderr")
    parser.add_argument("--labels", nargs="+", default=[str(p) for p in LABELS],
                        help="hand labels (JSONL: status_when_labelled, question, answer, good), one file per sample")
    parser.add_argument("--sample", help="write a random sample of kept and rejected pairs here, for labelling")
    parser.add_argument("--sample-seed", type=int, default=0, help="a new seed gives a fresh sample")
    parser.add_argument("--sample-size", type=int, nargs=2, default=(60, 25), metavar=("KEPT", "REJECTED"))
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count

    call_command("migrate", verbosity=0)
    from docsbot.documents.models import Chunk, Document
    from docsbot.documents.selectors import chunk_search
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.models import ChunkRejection, QAPair
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    team = Team.objects.filter(slug="bench-qa").first() or team_create(slug="bench-qa", name="Flask")
    with tempfile.TemporaryDirectory() as tmp:
        # The pages, not Sphinx's _sources/_static; ingested as one folder so that "tutorial/views.html" and
        # "views.html" stay two documents.
        with tarfile.open(args.corpus) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".html")
                       and not m.name.split("/html/", 1)[-1].startswith("_")]
            archive.extractall(tmp, members=members, filter="data")
        started = time.monotonic()
        ingest_paths(team=team, items=[str(Path(tmp) / "html")])
        ingest_seconds = time.monotonic() - started

    QAPair.objects.filter(team=team).delete()
    ChunkRejection.objects.filter(team=team).delete()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        report = profiler.runcall(qa_generate, team=team, generator="structural")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    else:
        report = qa_generate(team=team, generator="structural")
    summary = report.as_dict()

    kept = QAPair.objects.filter(team=team, status="pending")
    documents = Document.objects.filter(team=team)
    kept_per_doc = {d.pk: 0 for d in documents}
    for document_id in kept.values_list("document_id", flat=True):
        kept_per_doc[document_id] = kept_per_doc.get(document_id, 0) + 1
    # A substantive page: real documentation with at least 3 chunks (not an index, search or changelog page, nor the
    # docs' front page: the root index.html is the table of contents, "Welcome to Flask").
    from docsbot.qa.filters import boilerplate_kind

    chunk_counts = dict(Chunk.objects.filter(team=team).values("document_id").annotate(n=Count("id"))
                        .values_list("document_id", "n"))
    substantive = [document.pk for document in documents if chunk_counts.get(document.pk, 0) >= 3
                   and not boilerplate_kind(title=document.title, heading_path=[], text="")
                   and document.source_path != "index.html"]
    per_page = [kept_per_doc[d] for d in substantive]
    by_pk = {d.pk: d for d in documents}
    under_target = sorted(
        ({"page": by_pk[d].source_path, "kept": kept_per_doc[d],
          "chunks": chunk_counts[d]}
         for d in substantive if kept_per_doc[d] < TARGETS["kept_per_substantive_page"]),
        key=lambda row: (row["kept"], row["page"]))

    heldout = list(kept.filter(split="heldout").select_related("chunk"))
    hits_at_5 = sum(
        any(h.chunk_id == p.chunk_id or h.text == p.chunk.text for h in chunk_search(team=team, query=p.question, k=5))
        for p in heldout)

    all_pairs = list(QAPair.objects.filter(team=team))
    labelled_kept: list[bool] = []
    labelled_rejected: list[bool] = []
    for path in args.labels:
        labels = _labels(Path(path))
        # One verdict per labelled (status, question, answer) in a sample: the same question can come from two chunks
        # (an app method and its blueprint twin), one kept and one rejected as a duplicate.
        labelled = {key: labels[key] for p in all_pairs
                    for key in ((p.status, p.question, p.answer), (p.status, p.question, None)) if key in labels}
        labelled_kept += [good for (status, *_), good in labelled.items() if status == "pending"]
        labelled_rejected += [good for (status, *_), good in labelled.items() if status == "rejected"]
    bad_kept = sum(not good for good in labelled_kept)
    bad_rejected = sum(not good for good in labelled_rejected)
    rejected_share = QAPair.objects.filter(team=team, status="rejected").count() / max(1, len(all_pairs))

    if args.sample:
        _write_sample(Path(args.sample), team, seed=args.sample_seed, sizes=tuple(args.sample_size))

    minutes = max(report.seconds, 1e-9) / 60
    result = {
        "corpus": Path(args.corpus).name,
        "documents": documents.count(),
        "chunks": summary["chunks"],
        "ingest_seconds": round(ingest_seconds, 1),
        "generation": summary,
        "pairs_per_second": round(report.pairs / max(report.seconds, 1e-9), 1),
        "pairs_per_minute": round(report.pairs / minutes),
        "kept_per_substantive_page": {
            "pages": len(per_page), "median": statistics.median(per_page) if per_page else 0,
            "mean": round(statistics.fmean(per_page), 2) if per_page else 0,
            "pages_with_at_least_3": sum(n >= 3 for n in per_page),
            "pages_under_3": under_target,
        },
        "quality": {
            "labelled_kept": len(labelled_kept),
            "kept_good_share": round(1 - bad_kept / len(labelled_kept), 3) if labelled_kept else None,
            "labelled_rejected": len(labelled_rejected),
            "rejected_bad_share": round(bad_rejected / len(labelled_rejected), 3) if labelled_rejected else None,
            # Share of all bad pairs the filters removed, extrapolated from the labelled samples.
            "bad_removed_share": _removed_share(bad_kept, len(labelled_kept), bad_rejected, len(labelled_rejected),
                                                rejected_share),
        },
        "heldout_recall_at_5": {"questions": len(heldout),
                                "recall": round(hits_at_5 / len(heldout), 3) if heldout else None},
        "targets": TARGETS,
    }
    print(json.dumps(result, indent=2))


def _removed_share(bad_kept: int, n_kept: int, bad_rejected: int, n_rejected: int, rejected_share: float):
    if not n_kept or not n_rejected:
        return None
    bad_in_kept = bad_kept / n_kept * (1 - rejected_share)
    bad_in_rejected = bad_rejected / n_rejected * rejected_share
    total = bad_in_kept + bad_in_rejected
    return round(bad_in_rejected / total, 3) if total else None


def _labels(path: Path) -> dict[tuple[str, str, str | None], bool]:
    if not path.exists():
        return {}
    labels = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            # Keyed by the status it was sampled from (each verdict counts in its own sample), the question, and
            # the answer when the label has it (a changed answer needs a new label).
            status = {"kept": "pending", "rejected": "rejected"}.get(record.get("status_when_labelled", ""), "")
            labels[(status, record["question"], record.get("answer"))] = bool(record["good"])
    return labels


def _write_sample(path: Path, team, *, seed: int, sizes: tuple[int, int]) -> None:
    import random

    from docsbot.qa.models import QAPair

    rng = random.Random(seed)
    kept = list(QAPair.objects.filter(team=team, status="pending").select_related("chunk"))
    rejected = list(QAPair.objects.filter(team=team, status="rejected").select_related("chunk"))
    with path.open("w") as out:
        for status, pairs, n in (("kept", kept, sizes[0]), ("rejected", rejected, sizes[1])):
            for pair in rng.sample(pairs, min(n, len(pairs))):
                out.write(json.dumps({"status": status, "reason": pair.reject_reason, "question": pair.question,
                                      "answer": pair.answer, "source": pair.chunk.text if pair.chunk else ""})
                          + "\n")


if __name__ == "__main__":
    main()
