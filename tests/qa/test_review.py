"""Datasets, review, import/export and corrections through services, the API and the admin."""
import json
import re
import statistics
from collections import Counter

import pytest

from docsbot.core.errors import AppError
from docsbot.core.prompts import NO_ANSWER, ContextChunk
from docsbot.documents.excerpts import prompt_contexts
from docsbot.qa.models import GenerationRun, QAPair
from docsbot.qa.selectors import dataset_build
from docsbot.qa.services import generation_run_execute, pair_create_from_correction
from training.evaluate import gold_citation


def _excerpt_of(pair: QAPair) -> str:
    """The pair's source chunk as prompts hold it for the pair's question."""
    source = ContextChunk(title=pair.chunk.document.title, section=pair.chunk.section, text=pair.chunk.text)
    return prompt_contexts(pair.question, [source])[0].text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _document(prompt: str, number: int) -> str:
    """The text of the prompt's document ``number``."""
    return prompt.split(f'<document index="{number}"', 1)[1].split(">\n", 1)[1].split("\n</document>", 1)[0]


def test_it_builds_raft_examples_with_retrieved_distractors_and_a_stable_hash(generated):
    dataset = dataset_build(team=generated, distractors=2, seed=0)
    trainable = QAPair.objects.filter(team=generated).exclude(status="rejected")
    assert sorted(dataset.pair_ids) == sorted(trainable.values_list("id", flat=True))
    train_ids, heldout_ids = {e["id"] for e in dataset.train}, {e["id"] for e in dataset.heldout}
    assert len(train_ids) + dataset.heldout_pairs == trainable.count() and not train_ids & heldout_ids
    # A small team's pairs come back several times, with other distractors in other places (up to 4), fewer
    # times on a page that holds many more pairs than the others.
    variants = min(4, -(-100 // len(train_ids)))
    per_pair = Counter(e["id"] for e in dataset.train)
    assert set(per_pair) == train_ids and max(per_pair.values()) == variants > 1
    page_of = {pk: trainable.get(pk=pk).document_id for pk in train_ids}
    per_page = Counter(page_of.values())
    (crowded, most), median = per_page.most_common(1)[0], statistics.median(per_page.values())
    assert most > 2 * median  # the test team has one crowded page (6 of 9 training pairs)
    assert all(per_pair[pk] < variants for pk in train_ids if page_of[pk] == crowded)
    assert all(per_pair[pk] == variants for pk in train_ids if per_page[page_of[pk]] <= median)
    repeated = next(pk for pk in train_ids if per_pair[pk] == variants)
    assert len({e["messages"][1]["content"] for e in dataset.train if e["id"] == repeated}) > 1
    split_heldout = set(trainable.filter(split="heldout").values_list("id", flat=True))
    # The hash split's held-out pairs stay held out; a small team lends training pairs up to a quarter.
    assert split_heldout <= heldout_ids and dataset.heldout_pairs == max(len(split_heldout),
                                                                         int(trainable.count() * 0.25))
    assert "only" in dataset.note  # fewer than the gate's 50: the job says so
    for example in dataset.train:
        pair = trainable.get(pk=example["id"])
        messages = example["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        assert messages[1]["content"].endswith(f"Question: {pair.question}")
        assert messages[1]["content"].count("<document index=") <= 3
        if messages[-1]["content"] == NO_ANSWER:
            assert pair.chunk.text not in messages[1]["content"]
        else:
            # The cited document is the source, as its excerpt for the question or whole; either way
            # it holds the answer the target quotes (a table row's answer in its own words).
            assert messages[-1]["content"].startswith(pair.answer) and messages[-1]["content"].endswith("]")
            block = _document(messages[1]["content"], gold_citation(messages[-1]["content"]))
            assert set(_words(pair.answer)[:12]) <= set(_words(block)), (pair.answer, block)
            assert block in (pair.chunk.text.strip(), _excerpt_of(pair))
    again = dataset_build(team=generated, distractors=2, seed=0)
    assert again.dataset_hash == dataset.dataset_hash


def test_some_examples_hold_fewer_documents_answering_or_not_down_to_one(generated, monkeypatch):
    from docsbot.qa import selectors

    # Chat drops weak hits (its margin), so production prompts often hold one or two documents;
    # training only ever on full prompts left the adapter lost there (it answered "[1]").
    dataset = dataset_build(team=generated, distractors=2, seed=0)
    answering = [e for e in dataset.train if e["messages"][-1]["content"] != NO_ANSWER]
    counts = [e["messages"][1]["content"].count("<document index=") for e in answering]
    assert 1 in counts and counts.count(3) >= len(counts) / 3, counts
    for example, count in zip(answering, counts, strict=True):
        assert 1 <= gold_citation(example["messages"][-1]["content"]) <= count
    # The not-covered examples too: how many documents a prompt holds must not tell the model which to say.
    monkeypatch.setattr(selectors, "SOURCE_LEFT_OUT", 0.5)  # enough of them in a small team to see it
    monkeypatch.setattr(selectors, "FEWER_DOCUMENTS", 1.0)
    abstaining = [e["messages"][1]["content"].count("<document index=")
                  for e in dataset_build(team=generated, distractors=2, seed=0).train
                  if e["messages"][-1]["content"] == NO_ANSWER]
    assert 1 in abstaining, abstaining


def test_a_small_teams_held_out_pairs_come_back_as_refit_training_examples(generated, monkeypatch):
    from docsbot.qa import selectors

    dataset = dataset_build(team=generated, distractors=2, seed=0)
    heldout_ids = {e["id"] for e in dataset.heldout}
    # Under the gate's 50 held-out pairs: each held-out pair as RAFT examples, shaped like the training ones.
    assert {e["id"] for e in dataset.refit} == heldout_ids
    variants = len(dataset.train) // len({e["id"] for e in dataset.train})
    assert len(dataset.refit) == variants * len(heldout_ids)
    for example in dataset.refit:
        pair = QAPair.objects.get(pk=example["id"])
        assert example["messages"][1]["content"].endswith(f"Question: {pair.question}")
        assert example["messages"][1]["content"].count("<document index=") <= 3
    # A team that holds out the gate's 50 pairs trains no refit.
    monkeypatch.setattr(selectors, "HELDOUT_TARGET", len(heldout_ids))
    assert dataset_build(team=generated, distractors=2, seed=0).refit == []


def test_it_holds_out_each_pair_with_its_source_cited_and_some_with_the_source_withheld(generated):
    dataset = dataset_build(team=generated)
    withheld = [e for e in dataset.heldout if e.get("withheld")]
    covered = [e for e in dataset.heldout if not e.get("withheld")]
    assert len(covered) == dataset.heldout_pairs and 0 < len(withheld) <= len(covered)
    for example in covered:
        pair = QAPair.objects.get(pk=example["id"])
        prompt, reference = example["messages"][1]["content"], example["messages"][-1]["content"]
        assert prompt.count("<document index=") <= 4
        # The source is always in the context (retrieval's place, or the last one), and the reference cites it.
        block = _document(prompt, gold_citation(reference))
        assert block == _excerpt_of(pair) and reference.startswith(pair.answer)
    for example in withheld:
        pair = QAPair.objects.get(pk=example["id"])
        assert example["messages"][-1]["content"] == NO_ANSWER
        assert pair.chunk.text.strip() not in example["messages"][1]["content"]


def test_it_creates_approved_pairs_from_corrections(generated, other_team):
    from docsbot.documents.models import Chunk

    chunk = Chunk.objects.filter(team=generated).first()
    pair = pair_create_from_correction(team=generated, question="How do I log in?", answer="Run acme login.",
                                       source_chunk_id=chunk.pk)
    assert pair.status == "approved" and pair.chunk == chunk and pair.generator == "correction"
    with pytest.raises(AppError):
        pair_create_from_correction(team=other_team, question="Q?", answer="A.", source_chunk_id=chunk.pk)


def test_it_lists_exports_and_imports_pairs_over_the_api(generated, api_for, other_api):
    api = api_for(generated)
    listing = api.get("/api/v1/qa/pairs?status=pending").json()
    assert listing["count"] == listing["counts"]["pending"] > 0
    assert all(p["status"] == "pending" for p in listing["results"])
    assert other_api.get("/api/v1/qa/pairs").json()["count"] == 0
    assert api.get("/api/v1/qa/pairs?status=bogus").status_code == 400

    exported = b"".join(api.get("/api/v1/qa/export").streaming_content).decode().splitlines()
    assert len(exported) == listing["count"] and "messages" in json.loads(exported[0])

    from django.core.files.uploadedfile import SimpleUploadedFile

    good = json.dumps({"messages": [{"role": "user", "content": "How do I rotate keys?"},
                                    {"role": "assistant", "content": "Create a new key on the account page."}]})
    body = "\n".join([good, "{not json", json.dumps({"messages": [{"role": "user", "content": "x"}]}), ""])
    response = api.post("/api/v1/qa/import", data={"file": SimpleUploadedFile("p.jsonl", body.encode())},
                        multipart=True)
    report = response.json()
    assert response.status_code == 200 and report["imported"] == 1
    assert [e["line"] for e in report["errors"]] == [2, 3] and "invalid JSON" in report["errors"][0]["error"]
    assert QAPair.objects.get(team=generated, generator="import").question == "How do I rotate keys?"


def test_it_queues_a_generation_run_and_reports_progress(ingested, api_for, other_api,
                                                         django_capture_on_commit_callbacks):
    api = api_for(ingested)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post("/api/v1/qa/generate", {"generator": "structural"})
    assert response.status_code == 202 and len(callbacks) == 1
    run_id = response.json()["id"]
    assert other_api.get(f"/api/v1/qa/runs/{run_id}").status_code == 404
    assert other_api.post("/api/v1/qa/generate", {}).status_code == 400
    assert api.post("/api/v1/qa/generate", {"generator": "gpt"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=False):  # no body at all (curl -X POST): the team's generator
        for content_type in ("", "application/json"):
            bare = api._client.post("/api/v1/qa/generate", data="", content_type=content_type)
            assert bare.status_code == 202 and bare.json()["generator"] == "structural", bare.content
    run = generation_run_execute(run_id=run_id)  # what the Celery task does
    assert run.status == GenerationRun.Status.DONE and run.summary["kept"] > 0
    progress = api.get(f"/api/v1/qa/runs/{run_id}").json()
    assert progress["percent"] == 100 and progress["done"] == progress["total"] > 0
    assert generation_run_execute(run_id=run_id).summary == run.summary  # a redelivery does not run again


def test_it_reviews_pairs_in_the_admin(generated, admin_client):
    pairs = QAPair.objects.filter(team=generated, status="pending")
    page = admin_client.get(f"/admin/qa/qapair/?team__id__exact={generated.pk}&status__exact=pending")
    assert page.status_code == 200 and b"pending</strong>" in page.content
    chosen = list(pairs.values_list("id", flat=True)[:2])
    admin_client.post("/admin/qa/qapair/", {"action": "reject", "_selected_action": chosen})
    assert set(QAPair.objects.filter(pk__in=chosen).values_list("status", flat=True)) == {"rejected"}
    assert admin_client.get("/admin/qa/qapair/import/").status_code == 200
    assert admin_client.get("/admin/qa/generationrun/").status_code == 200
    assert admin_client.get(f"/admin/qa/qapair/{chosen[0]}/change/").status_code == 200
    thin, other = pairs.exclude(pk__in=chosen).exclude(scores__has_key="kept_for_coverage")[:2]
    thin.scores = {**thin.scores, "kept_for_coverage": "answerability"}
    thin.save()
    listed = admin_client.get(f"/admin/qa/qapair/?team__id__exact={generated.pk}&kept_for_coverage=yes").content
    assert thin.question.encode() in listed and other.question.encode() not in listed
