"""A chunk's blocks as the rules read them, from the structure ingestion parsed: paragraphs, list items, tables
with their cells, definition terms, code and headings. Nothing here reads markup back out of a chunk's text."""
from __future__ import annotations

import re
from collections.abc import Sequence

from docsbot.documents.parsing import Block as ParsedBlock
from docsbot.qa.generators.base import clean_heading
from docsbot.qa.generators.text import ADMONITION, Block


def rule_blocks(parsed: Sequence[ParsedBlock]) -> list[Block]:
    """One rule block per paragraph, term, list item, table, code block and heading."""
    blocks: list[Block] = []
    for block in parsed:
        if block.kind == "code":
            blocks.append(Block("code", block.text.strip("\n").rstrip()))
        elif block.kind == "heading":
            blocks.append(Block("heading", clean_heading(block.text)))
        elif block.kind == "table":
            blocks.append(Block("table", rows=[list(row) for row in block.rows]))
        elif block.kind == "list":
            blocks += [Block("paragraph", item) for item in block.text.splitlines() if item.strip()]
        elif block.text.strip():
            blocks.append(Block("paragraph", block.text.strip()))
    return _titled_asides(blocks)


# Sphinx renders the titles of asides ("Circular Imports", "How to generate good secret keys") as a plain line
# before their text: a short capitalised line with no final punctuation, followed by prose.
_ASIDE_TITLE = re.compile(r"^[A-Z][\w’'-]*(?: [\w’'.-]+){1,8}(?<=\w)$")


def _titled_asides(blocks: list[Block]) -> list[Block]:
    for index, block in enumerate(blocks[:-1]):
        if (block.kind == "paragraph" and blocks[index + 1].kind == "paragraph" and _ASIDE_TITLE.match(block.text)
                and not block.text.startswith("Released") and not ADMONITION.match(block.text)):
            blocks[index] = Block("heading", block.text)
    return blocks
