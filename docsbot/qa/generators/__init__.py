"""Pair generators: one interface, picked per team and per run.

A generator turns one chunk into candidate pairs, or rejects the chunk with a reason
(too short, malformed model output, timeout). Filters run afterwards, in services.

The shared types live in base.py and are re-exported here; the structural generator's rules are in one module per
question family (see structural.py), and none of them imports this package's names back.
"""
from __future__ import annotations

from docsbot.qa.generators.base import (
    CAPTION,
    LISTS_THE_WAYS,
    MIN_CHUNK_CHARS,
    NAMES_CODE,
    Candidate,
    ChunkInput,
    ChunkResult,
    PairGenerator,
    chunk_body,
    clean_heading,
)
from docsbot.qa.generators.vocabulary import EMPTY, Vocabulary

__all__ = [
    "CAPTION", "EMPTY", "LISTS_THE_WAYS", "MIN_CHUNK_CHARS", "NAMES_CODE", "Candidate",
    "ChunkInput", "ChunkResult", "PairGenerator", "Vocabulary", "chunk_body", "clean_heading",
    "generator_get",
]


def generator_get(name: str) -> PairGenerator:
    if name == "structural":
        from docsbot.qa.generators.structural import StructuralGenerator

        return StructuralGenerator()
    if name == "llm":
        from docsbot.qa.generators.llm import LLMGenerator

        return LLMGenerator.from_settings()
    raise ValueError(f"unknown generator {name!r}; use structural or llm")
