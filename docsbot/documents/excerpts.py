"""The sentences of retrieved chunks that bear on a question: what the prompt holds of each chunk.

A small model handed whole chunks quotes the heading or a neighbouring sentence of the right page
as often as the sentence that answers. Extractive context compression (as in RECOMP, Xu et al. 2023)
keeps, of each chunk, its heading line and the ``keep`` units most similar to the question (the
sentences of its prose, its code blocks whole), in the chunk's own order, with "…" where text was
left out. The embedding model that ranked the chunks ranks their sentences. Training examples,
the gate's held-out examples and chat all build their prompts through here, so an adapter is
trained on exactly the excerpts it is served.
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


def chunk_units(text: str) -> tuple[str, list[str]]:
    """A chunk's heading line (chunking starts every chunk with its heading path) and its units:
    prose sentences, list items, and code blocks whole."""
    blocks = [block for block in text.strip().split("\n\n") if block.strip()]
    heading = blocks.pop(0) if blocks and " > " in blocks[0] and "\n" not in blocks[0] else ""
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


def _excerpt(heading: str, units: list[str], kept: set[int]) -> str:
    """The kept units, each with its own joiner; a run of left-out units becomes one GAP with the
    joiner of the run's first unit (a left-out list item leaves "- …"'s line, a sentence " …")."""
    text = ""
    for index, unit in enumerate(units):
        if index in kept:
            text += unit
        elif index - 1 in kept or index == 0:
            text += unit[: len(unit) - len(unit.lstrip())] + GAP
    text = text.strip()
    return f"{heading}\n\n{text}" if heading else text


@lru_cache(maxsize=2048)
def _unit_vectors(text: str) -> tuple[str, tuple[str, ...], np.ndarray]:
    """A chunk's heading, units and their embeddings, kept: a dataset puts each chunk in many prompts,
    and chat retrieves the same chunks again and again."""
    from docsbot.documents.embedding import embed_texts

    heading, units = chunk_units(text)
    return heading, tuple(units), embed_texts([unit.strip() for unit in units])


def focus_contexts(question: str, contexts: Sequence[ContextChunk], *, keep: int) -> list[ContextChunk]:
    """Each chunk cut to its heading and the ``keep`` units most similar to ``question`` (0: whole
    chunks). A chunk of at most ``keep`` + 1 units stays whole."""
    if keep <= 0 or not contexts:
        return list(contexts)
    from docsbot.documents.embedding import embed_texts

    long = [i for i, chunk in enumerate(contexts) if len(chunk_units(chunk.text)[1]) > keep + 1]
    if not long:
        return list(contexts)
    query = embed_texts([question])[0]
    focused = list(contexts)
    for i in long:
        heading, units, vectors = _unit_vectors(contexts[i].text)
        kept = {int(j) for j in np.argsort(-(vectors @ query), kind="stable")[:keep]}
        focused[i] = replace(contexts[i], text=_excerpt(heading, list(units), kept))
    return focused


def prompt_contexts(question: str, contexts: Sequence[ContextChunk]) -> list[ContextChunk]:
    """The contexts as prompts hold them: cut to ``DOCSBOT_CONTEXT_SENTENCES`` units each."""
    from django.conf import settings

    return focus_contexts(question, contexts, keep=settings.CONTEXT_SENTENCES)
