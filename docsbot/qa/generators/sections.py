"""Generating a whole section at once: the rules read a section's blocks in one piece, however chunking cut it, and
each pair goes to the chunk of the section that holds its answer: the chunk with the answer's code when it quotes
code (the part a reader came for), else the one with most of the answer's words.

A section's chunks are consecutive inputs, the first with ``first_of_section``."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from docsbot.qa.generators.base import ChunkInput, ChunkResult

_WORD = re.compile(r"\w+")


def sections_of(inputs: Sequence[ChunkInput]) -> Iterator[list[ChunkInput]]:
    section: list[ChunkInput] = []
    for item in inputs:
        if section and item.first_of_section:
            yield section
            section = []
        section.append(item)
    if section:
        yield section


def section_results(generate: Callable[[ChunkInput], ChunkResult], chunks: Sequence[ChunkInput]
                    ) -> list[ChunkResult]:
    """One result per chunk of the section, from one generation over all its blocks."""
    if len(chunks) == 1:
        return [generate(chunks[0])]
    first = chunks[0]
    bodies = [chunk.body for chunk in chunks]
    whole = replace(first, text=first.text[:len(first.text) - len(bodies[0])] + "\n\n".join(bodies),
                    blocks=tuple(block for chunk in chunks for block in chunk.parsed_blocks()))
    result = generate(whole)
    if result.rejection:
        return [ChunkResult(rejection=result.rejection, detail=result.detail) for _ in chunks]
    words = [set(_WORD.findall(body.lower())) for body in bodies]
    held: list[list] = [[] for _ in chunks]
    for candidate in result.candidates:
        held[holder(candidate.answer, bodies, words)].append(candidate)
    return [ChunkResult(candidates=candidates) if candidates else
            ChunkResult(rejection="no_structure", detail="its section's pairs are answered in its other chunks")
            for candidates in held]


_FIRST_CODE_LINE = re.compile(r"```\n(.*\S.*)\n")


def holder(answer: str, bodies: Sequence[str], words: Sequence[set[str]]) -> int:
    """Which of a section's chunk bodies (and their ``words``) holds the answer; the first of equals."""
    code = _FIRST_CODE_LINE.search(answer)
    if code:
        with_code = [index for index, body in enumerate(bodies) if code.group(1) in body]
        if with_code:
            return with_code[0]
    answer_words = _WORD.findall(answer.lower())
    shares = [sum(word in chunk_words for word in answer_words) for chunk_words in words]
    return shares.index(max(shares))
