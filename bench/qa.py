"""Benchmark of pair generation (structural generator) on several documentation sets. Prints JSON.

    DATABASE_URL=... DOCSBOT_DATA_DIR=/tmp/bench-qa .venv/bin/python bench/qa.py \
        [--corpus flask requests celery git drf | all] [--sample-dir DIR] [--merge-verdicts CORPUS SAMPLE VERDICTS]
        [--rescore]

Per corpus (bench/corpora.py): a fresh team ``bench-qa-<corpus>``, the pages ingested with the documents
service, pairs generated from scratch, and the report: pairs/minute, kept pairs per substantive page,
the hand-label precision of kept pairs and the false-rejection share of rejected ones
(bench/labels/<corpus>_pairs.jsonl, keyed by status, question and answer, so a pair the generator has
since changed is not counted), and recall@5 of held-out questions back to their source chunk.

Labels are blind: ``--sample-dir`` writes, per corpus, a random sample of kept and rejected pairs as
``<corpus>.jsonl`` (id, question, answer, source chunk: no status) and ``<corpus>.key.jsonl`` (id, status,
reason); a reader given only the criterion writes verdicts (JSONL: id, good, note); ``--merge-verdicts``
adds them to the corpus's label file; ``--rescore`` scores the run already in the data dir against the labels as
they are now, without ingesting or generating again.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
from corpora import CORPORA, Corpus, pages_folder

LABELS = ROOT / "bench" / "labels"
# Issue 18: precision on sets nobody tuned for, and on Flask; coverage of substantive pages; false rejections.
TARGETS = {"kept_good_share": 0.85, "kept_good_share_tuned": 0.90, "pages_with_3_share": 0.90,
           "false_rejection_share_max": 0.20, "pairs_per_minute": 3000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", nargs="+", choices=[*CORPORA, "all"], default=["flask"])
    parser.add_argument("--profile", action="store_true", help="cProfile of each generation run, on stderr")
    parser.add_argument("--sample-dir", type=Path, help="write blind samples of kept and rejected pairs here")
    parser.add_argument("--sample-seed", type=int, default=0, help="a new seed gives a fresh sample")
    parser.add_argument("--sample-size", type=int, nargs=2, default=(60, 25), metavar=("KEPT", "REJECTED"))
    parser.add_argument("--merge-verdicts", nargs=3, metavar=("CORPUS", "SAMPLE_DIR", "VERDICTS"),
                        help="add a reader's verdicts on a sample to bench/labels/<corpus>_pairs.jsonl and stop")
    parser.add_argument("--rescore", action="store_true",
                        help="only score the pairs of the run already in DOCSBOT_DATA_DIR against the labels")
    args = parser.parse_args()
    if args.merge_verdicts:
        corpus, sample_dir, verdicts = args.merge_verdicts
        added = merge_verdicts(corpus, Path(sample_dir), Path(verdicts))
        print(json.dumps({"corpus": corpus, "labels_added": added}))
        return

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    names = list(CORPORA) if "all" in args.corpus else list(dict.fromkeys(args.corpus))
    if args.rescore:
        from docsbot.teams.models import Team

        teams = {name: Team.objects.filter(slug=f"bench-qa-{name}").first() for name in names}
        print(json.dumps({"corpora": [{"corpus": name, "quality": label_quality(team, CORPORA[name])}
                                      for name, team in teams.items() if team]}, indent=2))
        return
    results = [run_corpus(CORPORA[name], args) for name in names]
    print(json.dumps({"corpora": results, "targets": TARGETS}, indent=2))


def run_corpus(corpus: Corpus, args: argparse.Namespace) -> dict[str, Any]:

    from docsbot.documents.models import Chunk, Document
    from docsbot.documents.selectors import chunk_search
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.filters import boilerplate_kind
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    slug = f"bench-qa-{corpus.name}"
    Team.objects.filter(slug=slug).delete()
    team = team_create(slug=slug, name=corpus.name)
    with tempfile.TemporaryDirectory() as scratch:
        # One folder, so that "tutorial/views.html" and "views.html" stay two documents.
        folder = pages_folder(corpus, Path(scratch))
        started = time.monotonic()
        ingest_paths(team=team, items=[str(folder)])
        ingest_seconds = time.monotonic() - started

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
    # docs' front page: a root index.html is the table of contents). A page most of whose chunks the boilerplate
    # filter rejects is a changelog or a menu whatever its title ("Community Updates" holds Requests' release history).
    titles = {document.pk: document.title for document in documents}
    chunk_counts: dict[int, int] = {}
    boilerplate_chunks: dict[int, int] = {}
    for document_id, heading_path, text in Chunk.objects.filter(team=team).values_list("document_id", "heading_path",
                                                                                        "text"):
        chunk_counts[document_id] = chunk_counts.get(document_id, 0) + 1
        if boilerplate_kind(title=titles[document_id], heading_path=heading_path, text=text):
            boilerplate_chunks[document_id] = boilerplate_chunks.get(document_id, 0) + 1
    substantive = [document.pk for document in documents if chunk_counts.get(document.pk, 0) >= 3
                   and not boilerplate_kind(title=document.title, heading_path=[], text="")
                   and boilerplate_chunks.get(document.pk, 0) * 2 < chunk_counts[document.pk]
                   and document.source_path != "index.html"]
    per_page = [kept_per_doc[d] for d in substantive]
    by_pk = {d.pk: d for d in documents}
    under_target = sorted(
        ({"page": by_pk[d].source_path, "kept": kept_per_doc[d], "chunks": chunk_counts[d]}
         for d in substantive if kept_per_doc[d] < 3),
        key=lambda row: (row["kept"], row["page"]))

    heldout = list(kept.filter(split="heldout").select_related("chunk"))
    hits_at_5 = sum(
        any(h.chunk_id == p.chunk_id or h.text == p.chunk.text for h in chunk_search(team=team, query=p.question, k=5))
        for p in heldout)

    if args.sample_dir:
        _write_sample(args.sample_dir, corpus.name, team, seed=args.sample_seed, sizes=tuple(args.sample_size))

    minutes = max(report.seconds, 1e-9) / 60
    return {
        "corpus": corpus.name,
        "tuned_on": corpus.tuned_on,
        "documents": documents.count(),
        "chunks": summary["chunks"],
        "ingest_seconds": round(ingest_seconds, 1),
        "generation": summary,
        "pairs_per_minute": round(report.pairs / minutes),
        "kept_per_substantive_page": {
            "pages": len(per_page), "median": statistics.median(per_page) if per_page else 0,
            "mean": round(statistics.fmean(per_page), 2) if per_page else 0,
            "pages_with_at_least_3": sum(n >= 3 for n in per_page),
            "share_with_at_least_3": round(sum(n >= 3 for n in per_page) / len(per_page), 3) if per_page else None,
            "pages_under_3": under_target,
        },
        "quality": label_quality(team, corpus),
        "heldout_recall_at_5": {"questions": len(heldout),
                                "recall": round(hits_at_5 / len(heldout), 3) if heldout else None},
    }


def label_quality(team, corpus: Corpus) -> dict[str, Any]:
    """The kept pairs' precision and the rejected ones' false-rejection share, against the corpus's labels."""
    from docsbot.qa.models import QAPair

    all_pairs = list(QAPair.objects.filter(team=team))
    labels = _labels(LABELS / f"{corpus.name}_pairs.jsonl")
    # One verdict per labelled (status, question, answer): the same question can come from two chunks
    # (an app method and its blueprint twin), one kept and one rejected as a duplicate.
    labelled = {key: labels[key] for p in all_pairs for key in _label_keys(p) if key in labels}
    labelled_kept = [good for (status, *_), good in labelled.items() if status == "pending"]
    labelled_rejected = [good for (status, *_), good in labelled.items() if status == "rejected"]
    # Why each labelled rejected pair was rejected: a duplicate of another pair loses no fact, a filter's rejection may.
    reasons = {key: p.reject_reason for p in all_pairs if p.status == "rejected" for key in _label_keys(p)}
    by_reason: dict[str, list[bool]] = {}
    for key, good in labelled.items():
        if key[0] == "rejected":
            by_reason.setdefault(reasons[key], []).append(good)
    filtered = [good for reason, goods in by_reason.items() if reason != "duplicate" for good in goods]
    bad_kept = sum(not good for good in labelled_kept)
    good_rejected = sum(labelled_rejected)
    rejected_share = sum(p.status == "rejected" for p in all_pairs) / max(1, len(all_pairs))
    return {
        "labelled_kept": len(labelled_kept),
        "kept_good_share": round(1 - bad_kept / len(labelled_kept), 3) if labelled_kept else None,
        "kept_good_interval": _wilson(len(labelled_kept) - bad_kept, len(labelled_kept)),
        "kept_good_target": TARGETS["kept_good_share_tuned" if corpus.tuned_on else "kept_good_share"],
        "labelled_rejected": len(labelled_rejected),
        "false_rejection_share": round(good_rejected / len(labelled_rejected), 3) if labelled_rejected else None,
        "false_rejection_share_without_duplicates": round(sum(filtered) / len(filtered), 3) if filtered else None,
        "false_rejections_by_reason": {reason: f"{sum(goods)}/{len(goods)}" for reason, goods in sorted(by_reason.items())},
        # Share of all bad pairs the filters removed, extrapolated from the labelled samples.
        "bad_removed_share": _removed_share(bad_kept, len(labelled_kept), len(labelled_rejected) - good_rejected,
                                            len(labelled_rejected), rejected_share),
    }


def _label_keys(pair) -> tuple[tuple[str, str, str | None], ...]:
    """The label keys a pair matches: its status, question and answer, or a label that has no answer."""
    return (pair.status, pair.question, pair.answer), (pair.status, pair.question, None)


def _wilson(good: int, total: int, z: float = 1.96) -> list[float] | None:
    if not total:
        return None
    share = good / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * ((share * (1 - share) / total + z * z / (4 * total * total)) ** 0.5) / (1 + z * z / total)
    return [round(centre - half, 3), round(centre + half, 3)]


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


def _write_sample(folder: Path, corpus: str, team, *, seed: int, sizes: tuple[int, int]) -> None:
    """``<corpus>.jsonl`` for the reader (no status: the reader must not know what the filters did) and
    ``<corpus>.key.jsonl`` with each pair's status and rejection reason."""
    from docsbot.qa.models import QAPair

    rng = random.Random(seed)
    chosen = []
    for status, db_status, n in (("kept", "pending", sizes[0]), ("rejected", "rejected", sizes[1])):
        pairs = list(QAPair.objects.filter(team=team, status=db_status).select_related("chunk").order_by("id"))
        chosen += [(status, pair) for pair in rng.sample(pairs, min(n, len(pairs)))]
    rng.shuffle(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{corpus}.jsonl").open("w") as sample, (folder / f"{corpus}.key.jsonl").open("w") as key:
        for index, (status, pair) in enumerate(chosen):
            sample.write(json.dumps({"id": index, "question": pair.question, "answer": pair.answer,
                                     "source_chunk": pair.chunk.text if pair.chunk else ""}) + "\n")
            key.write(json.dumps({"id": index, "status": status, "reason": pair.reject_reason,
                                  "question": pair.question, "answer": pair.answer}) + "\n")


def merge_verdicts(corpus: str, sample_dir: Path, verdicts: Path) -> int:
    """Append a reader's verdicts (JSONL: id, good, note) on ``sample_dir``'s sample of ``corpus`` to its
    label file, as status_when_labelled, question, answer, good, note."""
    keys = {row["id"]: row for row in _jsonl(sample_dir / f"{corpus}.key.jsonl")}
    path = LABELS / f"{corpus}_pairs.jsonl"
    added = 0
    with path.open("a") as out:
        for verdict in _jsonl(verdicts):
            key = keys[verdict["id"]]
            out.write(json.dumps({"status_when_labelled": key["status"], "question": key["question"],
                                  "answer": key["answer"], "good": bool(verdict["good"]),
                                  "note": verdict.get("note", "")}) + "\n")
            added += 1
    return added


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    main()
