"""Generation runs on the repository's small docs: filters, splits, re-runs, atomicity."""
import json

import pytest
from django.core.management import CommandError, call_command

from docsbot.core.errors import AppError
from docsbot.documents.models import Chunk
from docsbot.qa.generators.structural import StructuralGenerator
from docsbot.qa.models import QAPair
from docsbot.qa.services import qa_generate, split_for


def test_it_generates_filtered_pairs_with_scores_from_ingested_docs(generated, first_report):
    report, ingested = first_report, generated
    assert report.kept >= 8 and report.pairs == report.kept + sum(
        n for reason, n in report.rejected.items() if reason in {"boilerplate", "length", "grounding", "duplicate",
                                                                  "answerability", "weak_form"})
    kept = QAPair.objects.filter(team=ingested, status="pending")
    questions = set(kept.values_list("question", flat=True))
    assert "How do I install the CLI?" in questions
    assert "What does the error “ACME-401: invalid API key” mean?" in questions
    pair = kept.get(question="How do I install the CLI?")
    assert "```" in pair.answer
    assert pair.chunk.team == ingested and pair.chunk_hash == pair.chunk.content_hash
    assert pair.scores["grounding"] >= 0.75 and pair.scores["answerability"] > 0 and "duplicate" in pair.scores
    for rejected in QAPair.objects.filter(team=ingested, status="rejected"):
        assert rejected.reject_reason and rejected.scores
    # A how-to whose answer shows no code: held back for review.
    held = QAPair.objects.filter(team=ingested, reject_reason="weak_form")
    assert "how-to without code" in {pair.scores["form"] for pair in held}, [(p.question, p.scores) for p in held]
    assert "How do I configure the project?" in {pair.question for pair in held}


def test_it_keeps_the_split_stable_and_about_ten_percent():
    questions = [f"How do I configure option number {n}?" for n in range(2000)]
    splits = [split_for(q, heldout_percent=10) for q in questions]
    assert 150 < splits.count("heldout") < 250
    assert splits == [split_for(q.upper() + "  ", heldout_percent=10) for q in questions]


def test_it_regenerates_only_changed_chunks(generated, docs):
    from docsbot.documents.services import ingest_paths

    ingested = generated
    distinct_chunks = len(set(Chunk.objects.filter(team=ingested).values_list("content_hash", flat=True)))
    again = qa_generate(team=ingested)
    assert again.pairs == 0 and again.chunks_generated == 0 and again.chunks_unchanged > 0
    before = {p.question: p.pk for p in QAPair.objects.filter(team=ingested)}

    page = docs / "quickstart.md"
    original = page.read_text()
    page.write_text(original.replace("You sent more than 100 requests in a minute.",
                                     "You sent more than 500 requests in one minute."))
    try:
        ingest_paths(team=ingested, items=[str(docs)])
    finally:
        page.write_text(original)  # the docs copy is shared by the package
    changed = qa_generate(team=ingested)
    assert 1 <= changed.chunks_generated < distinct_chunks
    after = {p.question: p.pk for p in QAPair.objects.filter(team=ingested)}
    assert after["How do I configure the project?"] == before["How do I configure the project?"]
    rate = QAPair.objects.get(team=ingested, question__contains="ACME-429")
    assert "500 requests" in rate.answer and rate.pk != before[rate.question]
    assert rate.chunk_id == Chunk.objects.get(team=ingested, text__contains="500 requests").pk
    assert changed.removed_stale >= 1


def test_it_never_half_replaces_the_dataset(generated, monkeypatch):
    from docsbot.qa import services

    ingested = generated
    before = sorted(QAPair.objects.filter(team=ingested).values_list("pk", flat=True))
    Chunk.objects.filter(team=ingested, text__contains="ACME-429").update(content_hash="changed")

    def fail(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_relink", fail)  # fault injection after the delete and insert
    with pytest.raises(RuntimeError):
        qa_generate(team=ingested)
    assert sorted(QAPair.objects.filter(team=ingested).values_list("pk", flat=True)) == before


def test_it_refuses_a_team_without_documents(other_team, data_dir):
    team = other_team
    with pytest.raises(AppError, match="no documents"):
        qa_generate(team=team)
    with pytest.raises(CommandError, match="no documents"):
        call_command("generate_qa", "--team", team.slug)
    with pytest.raises(CommandError, match="no team"):
        call_command("generate_qa", "--team", "nope")


def test_it_prints_the_summary_from_the_command(ingested, capsys):
    call_command("generate_qa", "--team", ingested.slug, "--generator", "structural", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {"pairs", "kept", "rejected", "heldout", "seconds"} <= summary.keys()
    assert summary["kept"] > 0 and summary["rejected"].get("chunk_too_short", 0) >= 0
    call_command("generate_qa", "--team", ingested.slug)
    assert "0 pairs generated" in capsys.readouterr().out


def test_it_keeps_teams_apart(generated, other_team):
    with pytest.raises(AppError):
        qa_generate(team=other_team)
    assert not QAPair.objects.filter(team=other_team).exists()
    assert QAPair.objects.filter(team=generated).exists()


def test_each_chunk_is_read_from_its_documents_structure_and_a_section_is_read_whole(ingested):
    from docsbot.documents.models import Document, DocumentStructure
    from docsbot.documents.parsing import Block
    from docsbot.qa.services import _chunk_inputs

    path = ["Checksums"]
    intro = "The following example calculates the SHA1 checksum of the incoming data as it gets read:"
    structure = [Block("heading", "Checksums", level=1), Block("paragraph", "Some text."),
                 Block("paragraph", intro), Block("code", "import hashlib")]
    page = Document.objects.create(team=ingested, source_path="checksums.html", title="Checksums")
    DocumentStructure.objects.create(document=page, blocks=[block.as_json() for block in structure])
    older = Document.objects.create(team=ingested, source_path="older.html", title="Older")  # before structure
    texts = [(page, f"Checksums\n\nSome text.\n\n{intro}", 1, 3),
             (page, "Checksums\n\n```\nimport hashlib\n```", 3, 4),
             (older, "Checksums\n\nThe following example packs input:", None, None),
             (older, "Checksums\n\n```\nimport zlib\n```", None, None)]
    chunks = Chunk.objects.bulk_create([
        Chunk(team=ingested, document=document, ordinal=ordinal, heading_path=path, text=text, first_block=first,
              end_block=end, content_hash=str(ordinal)) for ordinal, (document, text, first, end) in enumerate(texts)])
    inputs = _chunk_inputs(chunks)
    assert inputs[1].blocks == (Block("code", "import hashlib"),)
    assert [item.first_of_section for item in inputs] == [True, False, True, False]
    assert [block.kind for block in inputs[3].parsed_blocks()] == ["code"]
    # The code's pair goes to the chunk holding the code, with the sentence that introduced it in the other chunk.
    results = StructuralGenerator().generate_section(inputs[:2])
    assert results[0].rejection and not results[1].rejection
    assert [c.answer for c in results[1].candidates] == [f"{intro}\n\n```\nimport hashlib\n```"]


def test_the_same_text_under_another_pages_headings_is_the_same_source():
    from docsbot.qa.screening import body_key

    option = "The `--merges` option selects only merge commits."
    log = body_key(f"git-log(1) > OPTIONS > Commit Limiting\n\n{option}", ["git-log(1)", "OPTIONS", "Commit Limiting"])
    rev_list = body_key(f"git-rev-list(1) > OPTIONS > Commit Limiting\n\n{option}",
                         ["git-rev-list(1)", "OPTIONS", "Commit Limiting"])
    assert log == rev_list
    assert log != body_key("git-log(1) > OPTIONS\n\nThe `--all` option walks every ref.", ["git-log(1)", "OPTIONS"])


def test_an_edit_to_one_chunk_of_a_section_regenerates_the_pairs_its_other_chunks_hold(db, data_dir, tmp_path):
    from docsbot.documents.services import ingest_paths
    from docsbot.teams.services import team_create

    team = team_create(slug="cut-section", name="Cut section")
    background = " ".join(f"Sentence {i} says something about how workers share the load." for i in range(14))
    code = "\n".join(f"$ gunicorn --workers 4 --bind 127.0.0.1:{8000 + i} --timeout {30 + i} app:app"
                     for i in range(12))
    page = tmp_path / "deploy.md"

    def publish(workers: str) -> set[str]:
        intro = f"To run the application with {workers} worker processes, use the following command:"
        page.write_text(f"# Deploying\n\n## Running Gunicorn\n\n{background}\n\n{intro}\n\n```\n{code}\n```\n")
        ingest_paths(team=team, items=[str(tmp_path)])
        qa_generate(team=team)
        return set(QAPair.objects.filter(team=team).values_list("answer", flat=True))

    answers = publish("four")
    section = Chunk.objects.filter(team=team, heading_path__contains=["Running Gunicorn"]).order_by("ordinal")
    texts = [chunk.text for chunk in section]
    assert any("four worker" in text and "gunicorn" not in text for text in texts), texts
    assert any("four worker" in answer and "gunicorn" in answer for answer in answers)
    # Only the first chunk changes; the pair its sentence makes lives in the second, which is read again with it.
    answers = publish("eight")
    assert any("eight worker" in answer for answer in answers)
    assert not any("four worker" in answer for answer in answers)


def test_a_table_too_long_for_one_chunk_is_read_whole_and_each_row_goes_to_the_piece_holding_it():
    from docsbot.documents.chunking import chunk_document
    from docsbot.documents.embedding import count_tokens
    from docsbot.documents.parsing import parse_document
    from docsbot.qa.generators.inputs import SourceChunk, chunk_inputs
    from docsbot.qa.generators.sections import sections_of

    rows = "".join(f"<tr><td>option_{i}</td><td>{i}</td><td>Sets how many widgets uploader {i} keeps.</td></tr>"
                   for i in range(14))
    html = (f"<main><h1>Settings</h1><h2>Options</h2><table><tr><th>Option</th><th>Default</th><th>Meaning</th></tr>"
            f"{rows}</table></main>")
    document = parse_document("settings.html", html.encode())
    drafts = chunk_document(document, max_tokens=120, count=count_tokens)
    assert sum(draft.cut for draft in drafts) >= 2
    chunks = [SourceChunk(number, "settings.html", document.title, tuple(draft.heading_path), draft.text,
                          document.blocks, draft.blocks, draft.cut) for number, draft in enumerate(drafts)]
    inputs = chunk_inputs(chunks)
    results = [result for section in sections_of(inputs) for result in StructuralGenerator().generate_section(section)]
    asked = {candidate.question: chunk.text for chunk, result in zip(chunks, results) for candidate in result.candidates}
    for i in range(14):
        assert f"option_{i} |" in asked[f"What does the `option_{i}` option do?"]
