"""Ingestion and retrieval benchmark; prints one JSON object.

    .venv/bin/python bench/ingest.py [--corpus PATH ...] [--sizes 1000,10000,100000] [--questions FILE]

Runs against a fresh SQLite database in a temporary DATA_DIR (nothing of the
checkout is touched), from cold: the embedding model is loaded inside the timed
ingestion. Measures:
  * end-to-end ingestion of each corpus (documents/s, chunks/s), a re-ingest of the
    unchanged set, embedding throughput alone, and peak RSS;
  * retrieval latency p50/p95 of the index at 1k/10k/100k chunks (synthetic chunks built
    from the corpus vocabulary, random unit vectors; saved and loaded back as served), in
    ``--rounds`` rounds each reported, against the previous dense/BM25 passes measured in
    the same rounds, plus the query-embedding time and an end-to-end ``chunk_search`` on
    the real corpus;
  * recall@5 of the expected page on a hand-written question set, hybrid vs dense vs BM25.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "flask-2.2-docs.tar.gz"
TARGETS = {"cold_ingest_s": 60.0, "unchanged_reingest_s": 5.0, "p95_ms_at_100k": 50.0}


def _setup(data_dir: Path) -> None:
    os.environ["DOCSBOT_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DOCSBOT_EMBEDDED_REDIS_AUTOSTART", "0")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")  # not used by ingestion
    os.environ.setdefault("DOCSBOT_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "docsbot.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def bench_ingest(team, corpus: Path) -> dict:
    from docsbot.documents.services import ingest_paths

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    cold = ingest_paths(team=team, items=[str(corpus)])
    cold_s, cold_cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    started = time.perf_counter()
    again = ingest_paths(team=team, items=[str(corpus)])
    warm_s = time.perf_counter() - started
    return {
        "corpus": corpus.name, "documents": cold["documents"], "chunks": cold["chunks"],
        "duplicates": cold["duplicates"], "failed": len(cold["failed"]),
        "cold_seconds": round(cold_s, 2),
        # CPU time is what the run needs whatever else the machine is doing; divided by the
        # cores it could use, it estimates the wall time on an idle machine.
        "cold_cpu_seconds": round(cold_cpu, 1),
        "documents_per_s": round(cold["documents"] / cold_s, 2),
        "chunks_per_s": round(cold["chunks"] / cold_s, 2),
        "unchanged_reingest_seconds": round(warm_s, 2),
        "unchanged_reingest_embedded": again["embedded_chunks"],
    }


def _dtype() -> str:
    from docsbot.documents.embedding import embedding_dtype

    return embedding_dtype()


def bench_embedding(team) -> dict:
    from docsbot.documents.embedding import embed_texts
    from docsbot.documents.models import Chunk

    texts = list(Chunk.objects.filter(team=team).order_by("id").values_list("text", flat=True)[:512])
    started = time.perf_counter()
    embed_texts(texts)
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "seconds": round(seconds, 2), "chunks_per_s": round(len(texts) / seconds, 1)}


def _synthetic_index(size: int, vocabulary: list[str], dim: int, folder: Path, seed: int = 0):
    """A synthetic index saved and loaded back the way chunk_search serves one (memory-mapped, prepared)."""
    import numpy as np

    from docsbot.documents.index import SearchIndex

    rng = np.random.default_rng(seed)
    # Zipf-like word frequencies, ~120 words per chunk, like real documentation chunks.
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    words = rng.choice(len(vocabulary), size=(size, 120), p=weights)
    texts = [" ".join(vocabulary[i] for i in row) for row in words]
    vectors = rng.standard_normal((size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    built = SearchIndex.build(chunk_ids=np.arange(size), texts=texts, vectors=vectors)
    build_s = time.perf_counter() - started
    built.save(folder)
    del built, vectors
    started = time.perf_counter()
    index = SearchIndex.load(folder).prepare()
    return index, build_s, time.perf_counter() - started


def _baseline_bm25(index, query: str, depth: int):
    """The previous BM25 pass (a sliced sparse copy summed per query), for comparison."""
    import numpy as np

    from docsbot.documents.index import _top, tokenize

    columns = [index.vocab[t] for t in set(tokenize(query)) if t in index.vocab]
    if columns:
        scores = np.asarray(index.bm25[:, columns].sum(axis=1)).ravel()
        _top(scores, depth)


def bench_latency(team, questions: list[dict], sizes: list[int], rounds: int, folder: Path) -> dict:
    """Each size's index is queried ``rounds`` times over the question set; every round is reported.

    Timed as chunk_search runs it (one torch thread, see embedding.single_threaded). The baselines,
    in the same rounds: ``dense_float32_scan`` is the previous dense pass (full float32 matrix-vector
    product, the whole matrix read per query), ``bm25_sliced_sum`` the previous BM25 pass.
    """
    from docsbot.documents.embedding import embed_texts, single_threaded
    from docsbot.documents.index import CANDIDATES, tokenize
    from docsbot.documents.models import Chunk
    from docsbot.documents.selectors import chunk_search

    queries = [q["question"] for q in questions]
    vectors = embed_texts(queries)
    vocabulary = sorted({t for text in Chunk.objects.filter(team=team).values_list("text", flat=True)
                         for t in tokenize(text)})
    result: dict = {"rounds": rounds, "query_embedding": [], "index": {}}
    for _ in range(rounds):
        per_query = []
        for query in queries:  # one at a time, as production embeds each question
            t0 = time.perf_counter()
            embed_texts([query])
            per_query.append(time.perf_counter() - t0)
        result["query_embedding"].append(_percentiles(per_query))
    for size in sizes:
        index, build_s, load_s = _synthetic_index(size, vocabulary, vectors.shape[1], folder / f"n{size}")
        entry: dict = {"build_seconds": round(build_s, 2), "load_seconds": round(load_s, 2),
                       "int8_scan": index.uses_int8_scan(), "rounds": []}
        for _ in range(rounds):
            timings: dict[str, list[float]] = {m: [] for m in ("hybrid", "dense", "bm25", "dense_float32_scan",
                                                               "bm25_sliced_sum")}
            with single_threaded():
                for query, vector in zip(queries * 3, list(vectors) * 3):
                    for mode, samples in timings.items():
                        t0 = time.perf_counter()
                        if mode == "dense_float32_scan":
                            index.scan = "float32"
                            index.search(query=query, query_vector=vector, k=5, mode="dense")
                            index.scan = "auto"
                        elif mode == "bm25_sliced_sum":
                            _baseline_bm25(index, query, CANDIDATES)
                        else:
                            index.search(query=query, query_vector=vector, k=5, mode=mode)
                        samples.append(time.perf_counter() - t0)
            entry["rounds"].append({mode: _percentiles(s) for mode, s in timings.items()})
        result["index"][str(size)] = entry
        del index
    chunk_search(team=team, query="warm up", k=5)
    end_to_end = []
    for query in queries * 2:
        t0 = time.perf_counter()
        chunk_search(team=team, query=query, k=5)
        end_to_end.append(time.perf_counter() - t0)
    result["chunk_search_end_to_end"] = {"chunks": Chunk.objects.filter(team=team).count(),
                                         **_percentiles(end_to_end)}
    return result


def bench_recall(team, questions: list[dict], k: int = 5) -> dict:
    from docsbot.documents.models import Document
    from docsbot.documents.selectors import SEARCH_MODES, chunk_search

    paths = dict(Document.objects.filter(team=team).values_list("pk", "source_path"))
    result = {}
    misses: dict[str, list[str]] = {}
    for mode in SEARCH_MODES:
        found = 0
        for q in questions:
            hits = chunk_search(team=team, query=q["question"], k=k, mode=mode)
            if any(paths.get(hit.document_id) == q["page"] for hit in hits):
                found += 1
            elif mode == "hybrid":
                misses.setdefault(mode, []).append(q["question"])
        result[mode] = round(found / len(questions), 3)
    return {"questions": len(questions), f"recall@{k}": result, "hybrid_misses": misses.get("hybrid", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", type=Path,
                        help="documentation archive or folder (repeatable); default: the Flask docs")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds per index size, each reported")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "questions" / "flask.jsonl")
    args = parser.parse_args()
    corpora = args.corpus or [DEFAULT_CORPUS]
    missing = [str(c) for c in corpora if not c.exists()]
    if missing:
        sys.exit(f"corpus not found: {', '.join(missing)}")
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]

    with tempfile.TemporaryDirectory(prefix="docsbot-bench-") as tmp:
        _setup(Path(tmp))
        from docsbot.teams.services import team_create

        report: dict = {"machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)},
                        "targets": TARGETS, "ingest": []}
        first_team = None
        for number, corpus in enumerate(corpora):
            team = team_create(slug=f"bench-{number}", name=corpus.name)
            first_team = first_team or team
            report["ingest"].append(bench_ingest(team, corpus))
        report["embedding"] = {**bench_embedding(first_team), "dtype": _dtype()}
        report["recall"] = bench_recall(first_team, questions)
        report["latency"] = bench_latency(first_team, questions, [int(s) for s in args.sizes.split(",")],
                                          args.rounds, Path(tmp) / "bench-index")
        report["peak_rss_mb"] = _peak_rss_mb()
        flask = report["ingest"][0]
        rounds_100k = report["latency"]["index"].get("100000", {}).get("rounds", [])
        largest = max((r["hybrid"] for r in rounds_100k), key=lambda r: r["p95_ms"], default={})
        embedding_p95 = max(r["p95_ms"] for r in report["latency"]["query_embedding"])
        report["meets_targets"] = {
            "cold_ingest": flask["cold_seconds"] < TARGETS["cold_ingest_s"],
            "unchanged_reingest": flask["unchanged_reingest_seconds"] < TARGETS["unchanged_reingest_s"],
            "p95_at_100k_index": largest["p95_ms"] < TARGETS["p95_ms_at_100k"] if largest else None,
            "p95_at_100k_index_plus_query_embedding": (
                largest["p95_ms"] + embedding_p95 < TARGETS["p95_ms_at_100k"]) if largest else None,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
