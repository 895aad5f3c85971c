import json
import shutil

import pytest
from django.core.management import call_command

from docsbot.documents import search
from docsbot.documents.selectors import SearchHit, chunk_search
from docsbot.documents.services import ingest_paths


def test_it_finds_the_section_that_answers(team, docs_dir):
    ingest_paths(team=team, items=[str(docs_dir)])
    hits = chunk_search(team=team, query="How do I roll back to the previous bundle?", k=3)
    assert isinstance(hits[0], SearchHit)
    assert hits[0].section == "Rolling back" and hits[0].url == "deploying.rst#rolling-back"
    assert hits[0].score > hits[-1].score
    lexical = chunk_search(team=team, query="ACME-429", k=1, mode="bm25")
    assert lexical[0].section == "Error ACME-429: too many requests"
    dense = chunk_search(team=team, query="keeping spare parts cool", k=1, mode="dense")
    assert dense[0].url == "manual.pdf#page=2"


def test_it_never_returns_another_teams_chunks(team, other_team, docs_dir, tmp_path):
    ingest_paths(team=team, items=[str(docs_dir)])
    other = tmp_path / "other"
    other.mkdir()
    (other / "bravo.md").write_text("# Bravo\n\nBravo rockets launch from pad nine every Tuesday.")
    ingest_paths(team=other_team, items=[str(other)])
    assert all("Bravo" not in hit.text for hit in chunk_search(team=team, query="rockets launch pad", k=10))
    assert {hit.title for hit in chunk_search(team=other_team, query="deploy widgets", k=10)} == {"Bravo"}


def test_it_rebuilds_a_missing_index_from_the_database(team, docs_dir):
    ingest_paths(team=team, items=[str(docs_dir)])
    expected = chunk_search(team=team, query="API token environment variable", k=3)
    shutil.rmtree(search.index_dir(team.pk))
    search._cache.clear()
    assert chunk_search(team=team, query="API token environment variable", k=3) == expected
    assert (search.index_dir(team.pk) / "meta.json").exists()


def test_it_prints_json_hits_from_the_command(team, docs_dir, capsys):
    ingest_paths(team=team, items=[str(docs_dir)])
    call_command("search", "--team", team.slug, "which data centre is the default", "--k", "2", "--json")
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2
    assert set(hits[0]) >= {"document", "title", "section", "url", "score", "text"}
    assert hits[0]["url"] == "quickstart.md#configuring-the-project"


def test_it_returns_nothing_for_an_empty_team(team):
    assert chunk_search(team=team, query="anything", k=5) == []


def test_the_search_command_refuses_a_k_out_of_range_as_invalid_input(team):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--k must be between 1 and 100") as raised:
        call_command("search", "--team", team.slug, "anything", "--k", "0")
    assert raised.value.returncode == 2
