"""What every pair generator shares: the chunk it reads (``ChunkInput``: its text and the blocks ingestion parsed),
the pairs it returns (``Candidate``, ``ChunkResult``), a chunk's body without the heading path, and the patterns
the filters share with the rules (a code name in prose, a list of ways)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from docsbot.documents.chunking import blocks_of_text
from docsbot.documents.parsing import Block
from docsbot.qa.generators.vocabulary import EMPTY, Vocabulary

MIN_CHUNK_CHARS = 40
MODEL_WRITTEN = "model"  # the kind of a pair whose question the base model wrote (the llm generator)

MAN_PAGE_TITLE = re.compile(r"^(?P<name>[a-z][\w.+-]*)\((?P<section>\d)\w*\)$")  # "git-log(1)", "curl(1)": a man page


@dataclass(frozen=True)
class ChunkInput:
    chunk_id: int
    title: str
    heading_path: tuple[str, ...]
    text: str
    # False for the second and later chunks of a long section: generators read a section's chunks together.
    first_of_section: bool = True
    # The team's names ("Flask", "Git"), learned from all its chunks (vocabulary.learn): the rules know no product.
    vocabulary: Vocabulary = EMPTY
    # The chunk's blocks as ingestion parsed them (documents.DocumentStructure); None for a chunk stored before
    # structure was kept, whose blocks are then read back from the way chunking renders them. A block too long for
    # one chunk is read whole with its first piece; its other pieces hold no block of their own.
    blocks: tuple[Block, ...] | None = None

    @property
    def body(self) -> str:
        return chunk_body(self.text, self.heading_path)

    def parsed_blocks(self) -> tuple[Block, ...]:
        return self.blocks if self.blocks is not None else tuple(blocks_of_text(self.body))


@dataclass(frozen=True)
class Candidate:
    question: str
    answer: str
    kind: str


@dataclass
class ChunkResult:
    candidates: list[Candidate] = field(default_factory=list)
    rejection: str = ""  # a reason when the whole chunk yielded nothing usable
    detail: str = ""


class PairGenerator(Protocol):
    name: str

    def generate(self, chunk: ChunkInput) -> ChunkResult: ...

    def generate_section(self, chunks: Sequence[ChunkInput]) -> list[ChunkResult]:
        """One result per chunk of one section (``sections.sections_of``), read as a whole."""


_HEADING_MARKS = re.compile(r"^[#\s]+|[\s¶#]+$")


def clean_heading(heading: str) -> str:
    return _HEADING_MARKS.sub("", heading).strip()


def chunk_body(text: str, heading_path: tuple[str, ...] | list[str]) -> str:
    """The chunk text without the heading-path prefix that ingestion puts in front of it."""
    headings = [clean_heading(h).lower() for h in heading_path if clean_heading(h)]
    joined = " ".join(headings)
    lines = text.strip().splitlines()
    while lines:
        first = clean_heading(lines[0]).lower()
        if not first:
            lines.pop(0)
            continue
        parts = [p.strip() for p in re.split(r"\s+(?:>|›|/|»|—)\s+", first) if p.strip()]
        if parts and all(part in headings or part in joined for part in parts):
            lines.pop(0)
            continue
        break
    return "\n".join(lines).strip()


CAPTION = re.compile(r"^[\w./-]+\.\w+$")  # "flaskr/static/style.css": a file name above a code block
# A code name in prose: `name`, a call, a dotted name, a command, an option, snake_case, key=value.
NAMES_CODE = re.compile(r"`|\w\(\)|\w\.\w|\$ |(?<![\w-])--?\w|\b[a-z]+_[a-z_]+\b|\w=")
# An overview that lists the ways, an answer to "How do I ...?" with or without code: "There are three ways to upload,
# and they all behave the same: the admin upload page, the HTTP API and the ingest command."
LISTS_THE_WAYS = re.compile(r"\b(?:two|three|four|five|several|\d) (?:different )?(?:ways|methods) (?:to|of)\b[^.]*:\s*\S")
