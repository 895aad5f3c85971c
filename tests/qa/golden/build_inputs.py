"""(Re)build the golden inputs: a few real pages per corpus, ingested and chunked the way the product does it.

    .venv/bin/python tests/qa/golden/build_inputs.py [CORPUS ...]

Reads the documentation sets where bench/corpora.py finds them (../shared/corpora, Debian's doc packages) and writes
tests/qa/golden/<corpus>.inputs.json. Only this script needs those sources; the golden test reads the JSON.

The path is ingestion's and QA's, without the database: every page of the corpus is expanded (sources.expand_local:
its order, HTML preferred), parsed (parsing.parse_document), chunked with the embedding model's token counts
(chunking.chunk_document), and a near-duplicate of an earlier page is left out as ingestion leaves it out
(dedup). The chunk inputs are built from all those chunks by generators.inputs.chunk_inputs, as generation runs
build them (the vocabulary learned from every chunk, stored as learned; first of section; each chunk's parsed
blocks); the chosen pages' are kept, a page's chunks cut to a window (at most WINDOW_MAX) to keep the file
small. Chunk ids are the chunk's position in the corpus (the order services reads them in).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")

# Per corpus: (page path, first chunk, chunk count) for pages chosen to exercise many rules: API references, option
# and configuration pages, tutorials and how-tos, FAQs and troubleshooting.
PAGES: dict[str, list[tuple[str, int, int]]] = {
    "flask": [
        ("api.html", 0, 12), ("config.html", 12, 12), ("quickstart.html", 0, 12), ("tutorial/database.html", 0, 9),
        ("appcontext.html", 0, 7), ("reqcontext.html", 0, 10), ("deploying/gunicorn.html", 0, 7),
        ("patterns/appfactories.html", 0, 7), ("installation.html", 0, 8), ("patterns/methodoverrides.html", 0, 6),
        ("errorhandling.html", 0, 10), ("testing.html", 0, 10), ("patterns/lazyloading.html", 0, 5),
    ],
    "requests": [
        ("api.html", 0, 12), ("user/quickstart.html", 0, 12), ("user/advanced.html", 0, 12),
        ("community/faq.html", 0, 8), ("community/recommended.html", 0, 7), ("dev/contributing.html", 0, 11),
        ("user/authentication.html", 0, 8), ("user/install.html", 0, 3), ("community/support.html", 0, 4),
        ("community/updates.html", 0, 10), ("community/vulnerabilities.html", 0, 7),
    ],
    "celery": [
        ("faq.html", 0, 12), ("userguide/tasks.html", 0, 12), ("reference/celery.exceptions.html", 0, 12),
        ("userguide/configuration.html", 0, 10), ("getting-started/first-steps-with-celery.html", 0, 12),
        ("getting-started/next-steps.html", 0, 10), ("userguide/workers.html", 0, 10), ("userguide/routing.html", 0, 10),
        ("reference/celery.schedules.html", 0, 10), ("userguide/application.html", 0, 10),
        ("userguide/debugging.html", 0, 5),
    ],
    "drf": [
        ("api-guide/settings/index.html", 0, 12), ("api-guide/serializers/index.html", 0, 12),
        ("api-guide/authentication/index.html", 0, 12), ("api-guide/exceptions/index.html", 0, 12),
        ("api-guide/pagination/index.html", 0, 10), ("api-guide/schemas/index.html", 0, 10),
        ("tutorial/1-serialization/index.html", 0, 10), ("topics/internationalization/index.html", 0, 9),
        ("api-guide/throttling/index.html", 0, 10), ("coreapi/from-documenting-your-api/index.html", 0, 10),
        ("community/3.0-announcement/index.html", 0, 8),
    ],
    "git": [
        ("git-log.html", 0, 12), ("git-commit.html", 0, 12), ("git-config.html", 0, 10), ("git-clone.html", 0, 12),
        ("git-tag.html", 0, 12), ("gitcore-tutorial.html", 0, 10), ("user-manual.html", 0, 12),
        ("git-bisect-lk2009.html", 0, 10), ("git-cat-file.html", 0, 10), ("git-check-ref-format.html", 0, 10),
        ("MyFirstContribution.html", 0, 10),
    ],
}
WINDOW_MAX = 12


def corpus_chunks(name: str):
    """All the corpus's chunks in the order services reads them, as generators.inputs.SourceChunk."""
    import django

    django.setup()
    from corpora import CORPORA, pages_folder

    from docsbot.documents import dedup
    from docsbot.documents.chunking import chunk_document
    from docsbot.documents.embedding import count_tokens, max_tokens
    from docsbot.documents.parsing import ParseError, parse_document
    from docsbot.documents.sources import SourceFile, expand_local
    from docsbot.qa.generators.inputs import SourceChunk

    chunks = []
    known: list[tuple[int, list[int]]] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = pages_folder(CORPORA[name], Path(scratch))
        for source in expand_local(folder):
            if not isinstance(source, SourceFile):
                continue
            try:
                parsed = parse_document(source.path, source.read(), fmt=source.fmt)
            except ParseError:
                continue
            fingerprint = dedup.fingerprint(parsed.plain_text())
            if dedup.find_near_duplicate(fingerprint, known) is not None:
                continue
            known.append((len(known), fingerprint))
            drafts = chunk_document(parsed, max_tokens=max_tokens() - 2, count=count_tokens)
            base = len(chunks)
            chunks.extend(SourceChunk(base + index + 1, source.path, parsed.title or source.path,
                                      tuple(draft.heading_path), draft.text, parsed.blocks, draft.blocks, draft.cut)
                          for index, draft in enumerate(drafts))
    return chunks


def build(name: str) -> dict:
    from docsbot.qa.generators.inputs import chunk_inputs

    chunks = corpus_chunks(name)
    inputs = chunk_inputs(chunks)
    pages = {chunk.page for chunk in chunks}
    learned = inputs[0].vocabulary
    chosen = []
    for page, start, count in PAGES[name]:
        if page not in pages:
            raise SystemExit(f"{name}: no page {page!r}")
        positions = [i for i, chunk in enumerate(chunks) if chunk.page == page][start:start + min(count, WINDOW_MAX)]
        chosen += [{"chunk_id": item.chunk_id, "page": page, "title": item.title,
                    "heading_path": list(item.heading_path), "text": item.text,
                    "first_of_section": item.first_of_section,
                    "blocks": [block.as_json() for block in item.blocks]}
                   for item in (inputs[position] for position in positions)]
    return {
        "corpus": name, "pages_in_corpus": len(pages), "chunks_in_corpus": len(chunks),
        "pages": [page for page, _, _ in PAGES[name]],
        "vocabulary": learned.as_json(),
        "chunks": chosen,
    }


def main() -> None:
    for name in sys.argv[1:] or list(PAGES):
        data = build(name)
        target = HERE / f"{name}.inputs.json"
        target.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: {len(data['pages'])} pages, {len(data['chunks'])} chunks, {target.stat().st_size:,} bytes "
              f"(corpus: {data['pages_in_corpus']} pages, {data['chunks_in_corpus']} chunks)")


if __name__ == "__main__":
    main()
