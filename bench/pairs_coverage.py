"""How much of a documentation set the structural generator asks about, before any filter. Prints JSON.

    .venv/bin/python bench/pairs_coverage.py FOLDER [FOLDER ...] [--sample N --sample-out FILE --seed S]

Each folder (HTML, Markdown, reStructuredText or text pages; Sphinx's ``_sources`` copies and index pages
skipped) is parsed and chunked exactly as ingestion does, and every chunk goes through the structural
generator with the vocabulary learned from the whole set, as ``generate_qa`` does, but without the
database, the embedding model or the filters: it measures what the rules ask, in seconds even for
Git's 200 man pages. Per folder: pages, chunks, chunks with at least one candidate, candidates, and
candidates per question kind. ``--sample`` writes N random candidates with their source chunk for
blind labelling (question, answer, source_chunk; the folder and page in a ``.key`` file beside it).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
os.environ.setdefault("DOCSBOT_DATA_DIR", "/tmp/bench-pairs-coverage")
PAGE_SUFFIXES = (".html", ".htm", ".md", ".rst", ".txt")
NOT_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


def pages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in PAGE_SUFFIXES and "_sources" not in p.parts
                  and p.name not in NOT_PAGES and not (p.suffix == ".txt" and p.with_suffix(".html").exists()))


def chunk_results(folder: Path) -> list[dict[str, Any]]:
    """Every chunk of the folder with the candidates the structural generator gives it."""
    from docsbot.documents.chunking import chunk_document
    from docsbot.documents.embedding import count_tokens, max_tokens
    from docsbot.documents.parsing import ParseError, parse_document
    from docsbot.qa.generators.inputs import SourceChunk, chunk_inputs
    from docsbot.qa.generators.sections import sections_of
    from docsbot.qa.generators.structural import StructuralGenerator

    chunks = []
    for path in pages(folder):
        relative = str(path.relative_to(folder))
        try:
            document = parse_document(relative, path.read_bytes())
        except ParseError:
            continue
        chunks += [SourceChunk(len(chunks) + index, relative, document.title or relative, tuple(draft.heading_path),
                               draft.text, document.blocks, draft.blocks, draft.cut)
                   for index, draft in enumerate(chunk_document(document, max_tokens=max_tokens() - 2,
                                                                count=count_tokens))]
    generator, rows = StructuralGenerator(), []
    inputs = chunk_inputs(chunks)
    results = [result for section in sections_of(inputs) for result in generator.generate_section(section)]
    for chunk, result in zip(chunks, results):
        rows.append({"page": chunk.page, "text": chunk.text, "rejection": result.rejection,
                     "candidates": [(c.question, c.answer, c.kind) for c in result.candidates]})
    return rows


def summary(folder: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_pairs = [r for r in rows if r["candidates"]]
    return {"folder": str(folder), "pages": len({r["page"] for r in rows}), "chunks": len(rows),
            "chunks_with_candidates": len(with_pairs),
            "chunk_share": round(len(with_pairs) / len(rows), 3) if rows else None,
            "candidates": sum(len(r["candidates"]) for r in rows),
            "by_kind": dict(Counter(kind for r in rows for _, _, kind in r["candidates"]).most_common())}


def write_sample(rows_by_folder: dict[str, list[dict[str, Any]]], *, size: int, out: Path, seed: int) -> None:
    everything = [(folder, row, candidate) for folder, rows in rows_by_folder.items() for row in rows
                  for candidate in row["candidates"]]
    chosen = random.Random(seed).sample(everything, min(size, len(everything)))
    with out.open("w") as sample, out.with_suffix(".key").open("w") as key:
        for index, (folder, row, (question, answer, _)) in enumerate(chosen):
            sample.write(json.dumps({"id": index, "question": question, "answer": answer,
                                     "source_chunk": row["text"]}) + "\n")
            key.write(json.dumps({"id": index, "folder": folder, "page": row["page"]}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=0, help="candidates to write for blind labelling")
    parser.add_argument("--sample-out", type=Path, default=Path("/tmp/pairs-sample.jsonl"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import django

    django.setup()
    rows_by_folder = {str(folder): chunk_results(folder) for folder in args.folders}
    if args.sample:
        write_sample(rows_by_folder, size=args.sample, out=args.sample_out, seed=args.seed)
    print(json.dumps([summary(Path(folder), rows) for folder, rows in rows_by_folder.items()], indent=2))


if __name__ == "__main__":
    main()
