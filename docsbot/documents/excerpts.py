"""The sentences of retrieved chunks that bear on a question: what the prompt holds of each chunk.

A small model handed whole chunks quotes the heading or a neighbouring sentence of the right page
as often as the sentence that answers. Extractive context compression (as in RECOMP, Xu et al. 2023)
keeps, of each chunk, the ``keep`` units most similar to the question (the sentences of its prose,
its list items, its code blocks whole), in the chunk's own order, with "…" where text was left out;
the heading line goes (the prompt's title and section attributes say it). The embedding model that
ranked the chunks ranks their sentences. Training examples, the gate's held-out examples and chat
all build their prompts through here, so an adapter is trained on exactly the excerpts it is served.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np

from docsbot.core.prompts import ContextChunk

GAP = "…"
# A sentence ends at . ! or ? before a capital, a digit, a quote, a bracket or a flattened list's "- ".
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[-])")


def chunk_units(text: str, section: str = "") -> tuple[str, list[str]]:
    """A chunk's heading line and its units: prose sentences, list items, and code blocks whole.
    Chunking starts every chunk with its heading path ("Page > Section", or the page title alone,
    which ``section`` recognises)."""
    blocks = [block for block in text.strip().split("\n\n") if block.strip()]
    first = blocks[0].strip() if blocks else ""
    is_heading = "\n" not in first and (" > " in first or bool(section) and first == section.strip())
    heading = blocks.pop(0) if is_heading else ""
    units: list[str] = []
    for block in blocks:
        if block.startswith("```"):
            units.append("\n\n" + block)
            continue
        for number, line in enumerate(block.split("\n")):
            sentences = [part for part in _SENTENCE.split(line.strip()) if part]
            if sentences:  # a unit carries what joins it to the text before it
                opener = "\n\n" if number == 0 else "\n"
                units.extend([opener + sentences[0], *(" " + s for s in sentences[1:])])
    return heading, units


def _excerpt(units: list[str], kept: set[int]) -> str:
    """The kept units, each with its own joiner; a run of left-out units becomes one GAP with the
    joiner of the run's first unit (a left-out list item leaves "- …"'s line, a sentence " …")."""
    text = ""
    for index, unit in enumerate(units):
        if index in kept:
            text += unit
        elif index - 1 in kept or index == 0:
            text += unit[: len(unit) - len(unit.lstrip())] + GAP
    return text.strip()


@lru_cache(maxsize=2048)
def _unit_vectors(units: tuple[str, ...]) -> np.ndarray:
    """The embeddings of a chunk's units, kept: a dataset puts each chunk in many prompts, and chat
    retrieves the same chunks again and again."""
    from docsbot.documents.embedding import embed_texts

    return embed_texts([unit.strip() for unit in units])


def focus_contexts(question: str, contexts: Sequence[ContextChunk], *, keep: int) -> list[ContextChunk]:
    """Each chunk cut to the ``keep`` units most similar to ``question``, without its heading line
    (the document's title and section attributes carry it: a heading first in every document is what
    a small model quotes when unsure). A chunk of at most ``keep`` + 1 units keeps them all.
    ``keep`` 0: whole chunks, as stored."""
    if keep <= 0 or not contexts:
        return list(contexts)
    from docsbot.documents.embedding import embed_query

    query: np.ndarray | None = None
    focused = []
    for chunk in contexts:
        heading, units = chunk_units(chunk.text, chunk.section or chunk.title)
        if len(units) <= keep + 1:
            kept = set(range(len(units)))
        else:
            query = embed_query(question) if query is None else query
            similarity = _unit_vectors(tuple(units)) @ query
            kept = {int(j) for j in np.argsort(-similarity, kind="stable")[:keep]}
        text = _excerpt(units, kept) if units else heading
        focused.append(replace(chunk, text=text))
    return focused


def prompt_contexts(question: str, contexts: Sequence[ContextChunk]) -> list[ContextChunk]:
    """The contexts as prompts hold them: cut to ``DOCSBOT_CONTEXT_SENTENCES`` units each."""
    from django.conf import settings

    return focus_contexts(question, contexts, keep=settings.CONTEXT_SENTENCES)
