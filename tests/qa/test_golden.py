"""The structural generator's output on real documentation, recorded: a change to the rules that changes any pair
or rejection shows here, corpus by corpus and chunk by chunk.

The inputs (tests/qa/golden/<corpus>.inputs.json) are pages of each corpus as ingestion chunks them, with the
vocabulary learned from the whole corpus; the expected output (<corpus>.expected.json) is what the generator made
of them when it was recorded. Rewrite the expected files deliberately, after a change meant to change pairs:

    DOCSBOT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/qa/test_golden.py
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from docsbot.documents.parsing import Block
from docsbot.qa.generators import ChunkInput, vocabulary
from docsbot.qa.generators.sections import sections_of
from docsbot.qa.generators.structural import StructuralGenerator

GOLDEN = Path(__file__).parent / "golden"
CORPORA = sorted(path.name.removesuffix(".inputs.json") for path in GOLDEN.glob("*.inputs.json"))


def _inputs(corpus: str) -> list[ChunkInput]:
    data = json.loads((GOLDEN / f"{corpus}.inputs.json").read_text())
    names = vocabulary.Vocabulary.from_json(data["vocabulary"])
    return [ChunkInput(chunk_id=chunk["chunk_id"], title=chunk["title"], heading_path=tuple(chunk["heading_path"]),
                       text=chunk["text"], first_of_section=chunk["first_of_section"],
                       vocabulary=names, blocks=tuple(Block.from_json(block) for block in chunk["blocks"]))
            for chunk in data["chunks"]]


def _generated(corpus: str) -> list[dict]:
    generator = StructuralGenerator()
    recorded = []
    inputs = _inputs(corpus)
    results = [result for section in sections_of(inputs) for result in generator.generate_section(section)]
    for chunk, result in zip(inputs, results):
        recorded.append({"chunk_id": chunk.chunk_id, "rejection": result.rejection, "detail": result.detail,
                         "candidates": [{"question": c.question, "answer": c.answer, "kind": c.kind}
                                        for c in result.candidates]})
    return recorded


def test_there_is_a_golden_set_per_corpus():
    assert CORPORA == ["celery", "drf", "flask", "git", "requests"]


@pytest.mark.parametrize("corpus", CORPORA)
def test_it_generates_the_recorded_pairs_for_each_corpus(corpus):
    generated = _generated(corpus)
    expected_path = GOLDEN / f"{corpus}.expected.json"
    if os.environ.get("DOCSBOT_UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(generated, indent=1, ensure_ascii=False) + "\n")
        pytest.skip(f"rewrote {expected_path.name}")
    expected = json.loads(expected_path.read_text())
    assert [row["chunk_id"] for row in generated] == [row["chunk_id"] for row in expected]
    changed = [(new, old) for new, old in zip(generated, expected) if new != old]
    assert not changed, (f"{len(changed)} of {len(expected)} chunks changed; the first: chunk "
                         f"{changed[0][1]['chunk_id']}\nrecorded: {json.dumps(changed[0][1], indent=1)}\n"
                         f"now: {json.dumps(changed[0][0], indent=1)}")
