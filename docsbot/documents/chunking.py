"""Structure-following chunking bounded in embedding-model tokens.

A new chunk starts at every heading; blocks of a section are packed greedily up
to the limit; a code block is never cut unless it alone exceeds the limit
(then by lines), nor parted from the sentence that introduces it when the two fit
together; an over-long paragraph is cut by sentences, then by words.
Every chunk starts with its heading path so it reads on its own, and records which of the document's blocks it
holds, so pair generation reads the parsed structure rather than the chunk's text.
"""
from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from docsbot.documents.parsing import Block, ParsedDocument

TokenCounter = Callable[[list[str]], list[int]]


@dataclass(frozen=True)
class ChunkDraft:
    heading_path: list[str]
    anchor: str
    text: str
    token_count: int
    blocks: tuple[int, int] = (0, 0)  # [start, end) in the document's blocks
    cut: bool = False  # holds one piece of a block too long for any chunk

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass
class _Section:
    path: list[str]
    anchor: str
    blocks: list[Block]
    positions: list[int]  # each block's index in the document


def _sections(doc: ParsedDocument) -> list[_Section]:
    stack: list[tuple[int, str, str]] = []  # (level, heading, anchor)
    sections = [_Section([doc.title] if doc.title else [], "", [], [])]
    for position, block in enumerate(doc.blocks):
        if block.kind == "heading":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text, block.anchor))
            path = [h for _, h, _ in stack]
            if doc.title and path[0] != doc.title:
                path = [doc.title, *path]
            # The h1 is the page itself: its section links to the page, not to an anchor.
            anchor = "" if block.level == 1 and len(stack) == 1 else block.anchor
            sections.append(_Section(path, anchor, [], []))
        else:
            sections[-1].blocks.append(block)
            sections[-1].positions.append(position)
    return [s for s in sections if s.blocks]


def _prefix(path: list[str]) -> str:
    return " > ".join(path) + "\n\n" if path else ""


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _split_oversized(block: Block, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Cut one block that alone exceeds the budget into pieces that fit."""
    if block.kind == "code":
        units, joiner = block.text.split("\n"), "\n"
    else:
        units, joiner = _SENTENCE.split(block.text), " "
    sizes = count(units)
    pieces: list[tuple[str, int]] = []
    current: list[str] = []
    current_tokens = 0
    for unit, size in zip(units, sizes):
        if size > budget:  # one sentence/line longer than the budget: cut by words
            if current:
                pieces.append((joiner.join(current), current_tokens))
                current, current_tokens = [], 0
            words = unit.split(" ")
            step = max(1, len(words) * budget // (size + 1))
            for start in range(0, len(words), step):
                piece = " ".join(words[start:start + step])
                pieces.append((piece, count([piece])[0]))
            continue
        if current and current_tokens + size + 1 > budget:
            pieces.append((joiner.join(current), current_tokens))
            current, current_tokens = [], 0
        current.append(unit)
        current_tokens += size + (1 if len(current) > 1 else 0)
    if current:
        pieces.append((joiner.join(current), current_tokens))
    return pieces


# "Add the following import at the top of the file:", "... replace the class with the following."
_INTRODUCES = re.compile(r"(?::|\b(?:the following|as follows|like this|like so|below)\.)\s*$", re.IGNORECASE)


def _introduces_code(text: str) -> bool:
    """Whether a paragraph ends by announcing what comes next (a colon, "the following.")."""
    return bool(_INTRODUCES.search(text))


def _render(block: Block) -> str:
    return f"```\n{block.text}\n```" if block.kind == "code" else block.text


def _emit(drafts: list[ChunkDraft], section: _Section, prefix: str, prefix_tokens: int,
          parts: list[str], used: int, end: int) -> None:
    """A chunk of ``parts``, the blocks of ``section`` that end before its ``end``-th block."""
    if parts:
        start = section.positions[end - len(parts)]
        drafts.append(ChunkDraft(list(section.path), section.anchor, prefix + "\n\n".join(parts),
                                 prefix_tokens + used, (start, section.positions[end - 1] + 1)))


def chunk_document(doc: ParsedDocument, *, max_tokens: int, count: TokenCounter) -> list[ChunkDraft]:
    """Chunks of at most ``max_tokens`` tokens (prefix included, as counted by ``count``)."""
    sections = _sections(doc)
    rendered = [[_render(b) for b in s.blocks] for s in sections]
    flat = [text for texts in rendered for text in texts]
    flat_sizes = iter(count(flat))
    prefix_sizes = count([_prefix(s.path) for s in sections])
    drafts: list[ChunkDraft] = []
    for section, texts, prefix_tokens in zip(sections, rendered, prefix_sizes):
        prefix = _prefix(section.path)
        if prefix_tokens > max_tokens // 3:
            # A very deep or long heading path would eat the budget: keep only the last heading.
            prefix = _prefix([section.path[-1][: max_tokens // 3]])
            prefix_tokens = count([prefix])[0]
        budget = max_tokens - prefix_tokens - 2
        parts: list[str] = []
        used = 0
        lead: tuple[str, int] | None = None  # the last part when it introduces code, and its size
        for index, (block, text) in enumerate(zip(section.blocks, texts)):
            size = next(flat_sizes)
            if size > budget:
                _emit(drafts, section, prefix, prefix_tokens, parts, used, index)
                parts, used = [], 0
                pieces = _split_oversized(Block(block.kind, block.text), budget - 8, count)
                bodies = [f"```\n{piece}\n```" if block.kind == "code" else piece for piece, _ in pieces]
                position = section.positions[index]
                for body, body_size in zip(bodies, count(bodies)):
                    drafts.append(ChunkDraft(list(section.path), section.anchor, prefix + body,
                                             prefix_tokens + body_size, (position, position + 1), cut=True))
                lead = None
                continue
            if parts and used + size + 2 > budget:
                carried = lead is not None and block.kind == "code" and len(parts) > 1 \
                    and lead[1] + size + 2 <= budget
                if carried:  # "... add the following:" goes with its code, not to the end of this chunk
                    parts.pop()
                    used -= lead[1] + 2
                _emit(drafts, section, prefix, prefix_tokens, parts, used, index - 1 if carried else index)
                parts, used = ([lead[0]], lead[1]) if carried else ([], 0)
            parts.append(text)
            used += size + (2 if len(parts) > 1 else 0)
            lead = (text, size) if block.kind != "code" and _introduces_code(block.text) else None
        _emit(drafts, section, prefix, prefix_tokens, parts, used, len(section.blocks))
    return drafts


def blocks_of_text(body: str) -> list[Block]:
    """The blocks of a chunk body as ``chunk_document`` rendered them (paragraphs apart by a blank line, code
    fenced, lists as "- " lines, tables as rows of " | "): for chunks stored before their structure was."""
    blocks: list[Block] = []
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].strip():
            index += 1
        elif lines[index].startswith("```"):
            end = next((j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            blocks.append(Block("code", "\n".join(lines[index + 1:end])))
            index = end + 1
        else:
            end = next((j for j in range(index, len(lines)) if not lines[j].strip() or lines[j].startswith("```")),
                       len(lines))
            blocks += _rendered_blocks(lines[index:end])
            index = end
    return blocks


_ITEM = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^[\s|:-]+$")


def _rendered_blocks(lines: list[str]) -> list[Block]:
    """One group of lines between blank lines: runs of list items, and tables or paragraphs between them."""
    blocks: list[Block] = []
    for is_item, run in itertools.groupby((line.strip() for line in lines), key=lambda line: bool(_ITEM.match(line))):
        run = list(run)
        if is_item:
            blocks.append(Block("list", "\n".join(_ITEM.sub("- ", line, count=1) for line in run)))
            continue
        rows = [tuple(cell.strip() for cell in line.strip("|").split(" | ")) for line in run
                if not _TABLE_RULE.match(line)]
        if len(rows) > 1 and len(rows[0]) > 1 and all(len(row) == len(rows[0]) for row in rows):
            blocks.append(Block("table", "\n".join(" | ".join(row) for row in rows), rows=tuple(rows)))
        else:
            blocks.append(Block("paragraph", " ".join(run)))
    return blocks
