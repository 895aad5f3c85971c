import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from docsbot.documents.models import Chunk, Document, DocumentStructure, IngestRun
from docsbot.documents.selectors import chunk_search
from docsbot.documents.services import ingest_paths


def _ingest(team, *paths, sync=False):
    return ingest_paths(team=team, items=[str(p) for p in paths], sync=sync)


def test_it_ingests_a_folder_of_mixed_formats(team, docs_dir):
    summary = _ingest(team, docs_dir)
    assert summary["failed"] == [] and summary["documents"] == 4 and summary["chunks"] >= 10
    documents = {d.source_path: d for d in Document.objects.filter(team=team)}
    assert set(documents) == {"api.html", "deploying.rst", "manual.pdf", "quickstart.md"}
    assert {d.format for d in documents.values()} == {"html", "rst", "pdf", "markdown"}
    chunk = Chunk.objects.get(team=team, document=documents["api.html"], anchor="delete-widget")
    assert chunk.link == "api.html#delete-widget"
    assert chunk.heading_path == ["API reference", "Deleting a widget"]
    assert len(bytes(chunk.embedding)) == 384 * 4


def test_it_keeps_each_documents_parsed_structure_and_where_each_chunk_lies_in_it(team, docs_dir):
    _ingest(team, docs_dir)
    document = Document.objects.get(team=team, source_path="quickstart.md")
    blocks = document.structure.blocks
    assert {"heading", "paragraph", "code", "table"} <= {block["kind"] for block in blocks}
    for chunk in Chunk.objects.filter(document=document):
        held = blocks[chunk.first_block:chunk.end_block]
        assert held and all(block["text"] in chunk.text for block in held)
    # A document stored before structure was kept is parsed again, even unchanged.
    DocumentStructure.objects.filter(document=document).delete()
    Chunk.objects.filter(document=document).update(first_block=None, end_block=None)
    again = _ingest(team, docs_dir)
    assert (again["documents"], again["unchanged"]) == (1, 3)
    assert DocumentStructure.objects.get(document=document).blocks == blocks
    assert not Chunk.objects.filter(document=document, first_block=None).exists()


def test_it_does_no_embedding_work_for_unchanged_documents(team, docs_dir):
    _ingest(team, docs_dir)
    before = set(Chunk.objects.filter(team=team).values_list("id", flat=True))
    again = _ingest(team, docs_dir)
    assert (again["documents"], again["unchanged"], again["embedded_chunks"]) == (0, 4, 0)
    assert set(Chunk.objects.filter(team=team).values_list("id", flat=True)) == before


def test_it_replaces_a_changed_document_and_reuses_unchanged_chunk_vectors(team, docs_dir):
    _ingest(team, docs_dir)
    page = docs_dir / "quickstart.md"
    page.write_text(page.read_text().replace("100 requests in a minute", "250 requests in a minute"))
    summary = _ingest(team, docs_dir)
    assert (summary["documents"], summary["unchanged"]) == (1, 3)
    assert summary["embedded_chunks"] == 1  # only the edited section's chunk
    texts = " ".join(Chunk.objects.filter(team=team, document__source_path="quickstart.md")
                     .values_list("text", flat=True))
    assert "250 requests" in texts and "100 requests" not in texts
    assert "250 requests" in chunk_search(team=team, query="how many requests per minute", k=1)[0].text


def test_it_removes_missing_documents_only_with_sync(team, docs_dir):
    _ingest(team, docs_dir)
    (docs_dir / "deploying.rst").unlink()
    assert _ingest(team, docs_dir)["removed"] == 0
    assert Document.objects.filter(team=team, source_path="deploying.rst").exists()
    summary = _ingest(team, docs_dir, sync=True)
    assert summary["removed"] == 1
    assert not Document.objects.filter(team=team, source_path="deploying.rst").exists()
    assert all("rollback" not in hit.text for hit in chunk_search(team=team, query="acme rollback", k=10))


def test_it_indexes_near_duplicate_pages_once(team, docs_dir):
    copy = docs_dir / "copy"
    copy.mkdir()
    text = (docs_dir / "quickstart.md").read_text()
    (copy / "quickstart-old.md").write_text(text.replace("eu-west", "eu-west ") + "\nEdited.\n")
    summary = _ingest(team, docs_dir)
    assert summary["duplicates"] == 1 and summary["documents"] == 4
    duplicate = Document.objects.get(team=team, source_path="copy/quickstart-old.md")
    assert duplicate.duplicate_of.source_path == "quickstart.md" and not duplicate.chunks.exists()
    item = next(item for item in IngestRun.objects.latest("pk").items if item["path"] == "copy/quickstart-old.md")
    assert item["status"] == "duplicate" and item["note"] == "the same text as quickstart.md"


def test_a_file_like_the_old_text_of_a_page_replaced_in_the_same_run_is_no_duplicate_of_it(team, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    old_text = "# Configuration\n\n" + "Set the sample interval and the buffer hours in the relay file. " * 30
    new_text = "# Configuration\n\n" + "Every variable of the server is read from the environment at start. " * 30
    first.mkdir()
    (first / "configuration.md").write_text(old_text)
    _ingest(team, first / "configuration.md")
    (second / "zephyr").mkdir(parents=True)
    (second / "configuration.md").write_text(new_text)
    (second / "zephyr" / "configuration.md").write_text(old_text)
    summary = _ingest(team, second)
    assert summary["duplicates"] == 0 and summary["documents"] == 2 and summary["updated"] == 1
    run = IngestRun.objects.latest("pk")
    assert {item["path"]: item["status"] for item in run.items} == {"configuration.md": "updated",
                                                                    "zephyr/configuration.md": "indexed"}
    copy = Document.objects.get(team=team, source_path="zephyr/configuration.md")
    assert copy.duplicate_of_id is None and copy.chunks.exists()


def test_it_records_bad_files_and_ingests_the_rest(team, docs_dir, settings):
    (docs_dir / "broken.pdf").write_bytes(b"%PDF-1.4\nnot a pdf at all")
    (docs_dir / "empty.md").write_bytes(b"")
    (docs_dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (docs_dir / "tool.exe").write_bytes(b"MZ\x90\x00")
    (docs_dir / "huge.md").write_bytes(b"# Huge\n\n" + b"x" * (1024 * 1024 + 10))
    settings.MAX_UPLOAD_MB = 1
    summary = _ingest(team, docs_dir)
    errors = {f["path"]: f["error"] for f in summary["failed"]}
    assert "PDF" in errors["broken.pdf"]
    assert errors["empty.md"] == "the file is empty"
    assert "not valid UTF-8" in errors["latin1.txt"]
    assert "unsupported file type '.exe'" in errors["tool.exe"]
    assert "over the 1 MB upload limit" in errors["huge.md"]
    assert summary["documents"] == 4
    failed = Document.objects.filter(team=team, status=Document.Status.FAILED)
    assert set(failed.values_list("source_path", flat=True)) == set(errors)
    assert not Chunk.objects.filter(document__in=failed).exists()


def test_it_ingests_archives_through_the_command_with_json(team, docs_dir, tmp_path, capsys):
    archive = shutil.make_archive(str(tmp_path / "bundle"), "gztar", docs_dir)
    call_command("ingest", "--team", team.slug, archive, "--json")
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) >= {"documents", "chunks", "unchanged", "removed", "failed", "seconds"}
    assert summary["documents"] == 4 and summary["failed"] == []
    run = IngestRun.objects.get(team=team)
    assert run.status == "succeeded" and run.progress == 1.0
    assert {item["status"] for item in run.items} == {"indexed"}


def test_it_names_an_unknown_team(db, docs_dir):
    with pytest.raises(CommandError, match="no team 'nope'"):
        call_command("ingest", "--team", "nope", str(docs_dir))


def test_it_removes_nothing_when_a_synced_archive_is_unreadable(team, docs_dir, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", docs_dir)
    _ingest(team, archive)
    broken = tmp_path / "bundle.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    summary = _ingest(team, broken, sync=True)
    assert summary["removed"] == 0 and "corrupt or unreadable archive" in summary["failed"][0]["error"]
    assert Document.objects.filter(team=team, status=Document.Status.INDEXED).count() == 4


def test_an_input_that_is_not_there_or_unreadable_fails_its_run_but_adds_no_document(team, docs_dir, tmp_path):
    broken = tmp_path / "bundle.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    summary = _ingest(team, tmp_path / "typo.md", broken, docs_dir)
    errors = {f["path"]: f["error"] for f in summary["failed"]}
    assert errors[str(tmp_path / "typo.md")] == "no such file or folder"
    assert "corrupt or unreadable archive" in errors["bundle.zip"]
    assert summary["documents"] == 4
    assert not Document.objects.filter(team=team, status=Document.Status.FAILED).exists()


def test_a_big_file_reports_its_embedding_progress_not_parsing_all_along(team, tmp_path):
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "\n\n".join(" ".join(words[(i + j) % 12] for j in range(150)) + f" part{i}."
                                               for i in range(150)))
    phases: list[tuple[int, int, str]] = []
    summary = ingest_paths(team=team, items=[str(big)], progress=lambda done, total, phase:
                           phases.append((done, total, phase)))
    assert summary["chunks"] > 64  # more than one embedding batch
    embedding = [phase for _, _, phase in phases if phase.startswith("embedding")]
    assert embedding[0] != "embedding 100%" and embedding[-1] == "embedding 100%"
    assert [phase for _, _, phase in phases][-1] == "building index"


def test_it_fails_a_second_file_of_the_same_name_in_one_run_and_keeps_the_first(team, tmp_path):
    docs = tmp_path / "docs"
    for folder, words in (("guide", "Install the widget with pip."), ("tutorial", "Write your first widget view.")):
        (docs / folder).mkdir(parents=True)
        (docs / folder / "views.md").write_text(f"# Views\n\n{words} " * 5)
    summary = _ingest(team, docs / "guide" / "views.md", docs / "tutorial" / "views.md")
    assert summary["documents"] == 1
    assert summary["failed"][0]["path"] == "views.md" and "ingest the folder" in summary["failed"][0]["error"]
    text = " ".join(Chunk.objects.filter(team=team, document__source_path="views.md").values_list("text", flat=True))
    assert "Install the widget" in text and "first widget view" not in text
    both = _ingest(team, docs)  # the folder keeps both, each under its own path
    assert both["failed"] == []
    assert {"guide/views.md", "tutorial/views.md"} <= set(Document.objects.filter(team=team)
                                                         .values_list("source_path", flat=True))


def test_the_command_exits_2_when_an_input_failed_and_still_ingests_the_others(team, docs_dir, tmp_path, capsys):
    (tmp_path / "empty.md").write_text("")
    with pytest.raises(CommandError, match="1 input failed") as raised:
        call_command("ingest", "--team", team.slug, str(docs_dir), str(tmp_path / "empty.md"))
    assert raised.value.returncode == 2
    assert "failed: empty.md: the file is empty" in capsys.readouterr().err
    assert Document.objects.filter(team=team, status=Document.Status.INDEXED).count() == 4


def test_an_ingestion_stopped_by_ctrl_c_marks_its_run_failed_and_leaves_no_half_indexed_document(team, docs_dir):
    from docsbot.documents.models import IngestRun
    from docsbot.documents.services import ingest_paths

    def interrupted(processed: int, total: int, phase: str) -> None:
        if processed == 2:
            raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, in the command) raises mid-run

    with pytest.raises(KeyboardInterrupt):
        ingest_paths(team=team, items=[str(docs_dir)], progress=interrupted)
    run = IngestRun.objects.get(team=team)
    assert run.status == "failed" and run.error.startswith("interrupted") and run.finished is not None
    assert not Document.objects.filter(team=team).exclude(status=Document.Status.INDEXED).exists()
