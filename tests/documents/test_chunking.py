import itertools

from docsbot.documents.chunking import blocks_of_text, chunk_document
from docsbot.documents.embedding import count_tokens
from docsbot.documents.parsing import Block, ParsedDocument, parse_document

from .conftest import DOCS


def test_it_starts_a_chunk_at_each_heading_with_its_path_and_anchor():
    doc = parse_document("quickstart.md", (DOCS / "quickstart.md").read_bytes())
    chunks = chunk_document(doc, max_tokens=254, count=count_tokens)
    paths = [c.heading_path for c in chunks]
    assert ["Quickstart", "Troubleshooting", "Error ACME-401: invalid API key"] in paths
    chunk = next(c for c in chunks if c.heading_path[-1] == "Installing the CLI")
    assert chunk.text.startswith("Quickstart > Installing the CLI\n\n")
    assert chunk.anchor == "installing-the-cli"
    assert "pip install acme-widgets" in chunk.text and "acme login" in chunk.text


def _long_doc():
    words = " ".join(f"word{i}" for i in range(30))
    code = "\n".join(f"x{i} = compute({i})" for i in range(12))
    blocks = [Block("heading", "Guide", level=1, anchor="guide"), Block("heading", "Part", level=2, anchor="part")]
    for i in range(6):
        blocks.append(Block("paragraph", f"Paragraph {i}. {words}."))
        blocks.append(Block("code", code))
    blocks.append(Block("code", "\n".join(f"line_{i} = {i}" for i in range(400))))
    blocks.append(Block("paragraph", " ".join(f"Sentence number {i} is here." for i in range(200))))
    return ParsedDocument(title="Guide", format="markdown", blocks=blocks)


def test_it_bounds_every_chunk_in_model_tokens():
    chunks = chunk_document(_long_doc(), max_tokens=120, count=count_tokens)
    assert len(chunks) > 10
    for chunk in chunks:
        assert count_tokens([chunk.text])[0] <= 120, chunk.text
        assert chunk.text.startswith("Guide > Part\n\n")


def test_it_never_splits_a_code_block_that_fits():
    chunks = chunk_document(_long_doc(), max_tokens=120, count=count_tokens)
    small_code = "\n".join(f"x{i} = compute({i})" for i in range(12))
    holding = [c for c in chunks if "x0 = compute(0)" in c.text]
    assert holding and all(small_code in c.text for c in holding)
    # The oversized block is split by lines, each piece still a fenced code block.
    pieces = [c for c in chunks if "line_" in c.text]
    assert len(pieces) > 1 and all(c.text.count("```") == 2 for c in pieces)
    joined = "\n".join(c.text.split("```\n", 1)[1].rsplit("\n```", 1)[0] for c in pieces)
    assert joined == "\n".join(f"line_{i} = {i}" for i in range(400))


def test_it_keeps_the_sentence_that_introduces_code_with_its_code():
    words = " ".join(f"word{i}" for i in range(40))
    code = "\n".join(f"urlpatterns += path('p{i}', view_{i})" for i in range(8))
    intro = "Add the following import at the top of the file:"
    blocks = [Block("heading", "Tutorial", level=1, anchor="tutorial"), Block("paragraph", f"Background. {words}."),
              Block("paragraph", intro), Block("code", code)]
    doc = ParsedDocument(title="Tutorial", format="markdown", blocks=blocks)
    sizes = count_tokens([f"Background. {words}.", intro, f"```\n{code}\n```", "Tutorial\n\n"])
    # The background and the intro fit in one chunk, the intro and the code too, not all three.
    budget = sizes[3] + max(sizes[0], sizes[2]) + sizes[1] + 8
    assert sizes[3] + sum(sizes[:3]) + 6 > budget
    chunks = chunk_document(doc, max_tokens=budget, count=count_tokens)
    holding = next(c for c in chunks if "urlpatterns" in c.text)
    assert intro in holding.text and "Background." not in holding.text
    assert not any(c.text.rstrip().endswith(":") for c in chunks)
    # A paragraph that introduces nothing stays where packing put it.
    blocks[2] = Block("paragraph", "The view is ready.")
    chunks = chunk_document(doc, max_tokens=budget, count=count_tokens)
    assert "The view is ready." in next(c.text for c in chunks if "Background." in c.text)


def test_each_chunk_records_which_of_the_documents_blocks_it_holds():
    doc = _long_doc()
    chunks = chunk_document(doc, max_tokens=120, count=count_tokens)
    for chunk in chunks:
        start, end = chunk.blocks
        held = doc.blocks[start:end]
        assert held and all(block.kind != "heading" for block in held)
        if chunk.cut:  # one piece of the over-long code or paragraph
            assert end == start + 1 and held[0].text not in chunk.text
        else:
            assert [block.text for block in blocks_of_text(chunk.text.split("\n\n", 1)[1])] == \
                [block.text for block in held]
    assert sum(chunk.cut for chunk in chunks) > 2
    spans = [chunk.blocks for chunk in chunks if not chunk.cut]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # in order, none twice


def test_a_chunk_body_reads_back_as_the_blocks_it_was_rendered_from():
    body = ("Pick one:\n\n- fast\n- safe\n\nName | Default\nretries | 3\n\n```\nx = 1\n\ny = 2\n```\n\n"
            "A paragraph.")
    assert [(b.kind, b.text, b.rows) for b in blocks_of_text(body)] == [
        ("paragraph", "Pick one:", ()), ("list", "- fast\n- safe", ()),
        ("table", "Name | Default\nretries | 3", (("Name", "Default"), ("retries", "3"))),
        ("code", "x = 1\n\ny = 2", ()), ("paragraph", "A paragraph.", ())]
