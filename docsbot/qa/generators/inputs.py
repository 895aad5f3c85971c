"""What a generator is given for each chunk of a team: the chunk's own blocks from its document's parsed structure,
whether it opens its section, and the team's vocabulary. One function for generation runs, the benchmarks and the
golden files, so they all read chunks the same way."""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from docsbot.documents.parsing import Block
from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import ChunkInput, chunk_body


@dataclass(frozen=True)
class SourceChunk:
    chunk_id: int
    page: Hashable  # the chunk's document
    title: str
    heading_path: tuple[str, ...]
    text: str
    structure: Sequence[Block]  # the document's blocks; empty when it was stored before structure was kept
    span: tuple[int, int] | None  # [start, end) of the chunk's blocks in ``structure``
    cut: bool = False  # one piece of a block too long for a chunk: the piece is what the chunk holds

    @property
    def body(self) -> str:
        return chunk_body(self.text, self.heading_path)

    def blocks(self, previous: SourceChunk | None = None) -> tuple[Block, ...] | None:
        """None when the chunk was stored before structure was kept; a long block's later pieces hold none."""
        if self.span is None or not self.structure:
            return None
        if self.cut and previous is not None and previous.cut and previous.page == self.page \
                and previous.span == self.span:
            return ()
        return tuple(self.structure[self.span[0]:self.span[1]])


def learn_vocabulary(chunks: Sequence[SourceChunk]) -> vocabulary.Vocabulary:
    return vocabulary.learn((chunk.page, [chunk.title, *chunk.heading_path], chunk.body) for chunk in chunks)


def chunk_inputs(chunks: Sequence[SourceChunk], names: vocabulary.Vocabulary | None = None) -> list[ChunkInput]:
    """Inputs for ``chunks``, in document order, with the team's vocabulary (learned from ``chunks`` when not given)."""
    names = learn_vocabulary(chunks) if names is None else names
    inputs = []
    previous: SourceChunk | None = None
    for chunk in chunks:
        first = not (previous and previous.page == chunk.page and previous.heading_path == chunk.heading_path)
        inputs.append(ChunkInput(chunk_id=chunk.chunk_id, title=chunk.title, heading_path=chunk.heading_path,
                                 text=chunk.text, first_of_section=first, vocabulary=names,
                                 blocks=chunk.blocks(previous)))
        previous = chunk
    return inputs
