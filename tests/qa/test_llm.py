"""The LLM generator, answer first: the sentences it asks the model about, the questions it accepts, and runs against
the real embedded server with the tiny random-init model, whose questions must never survive the round trip while the
structural pairs still come back."""
import pytest

from docsbot.documents.chunking import blocks_of_text
from docsbot.qa.generators import ChunkInput
from docsbot.qa.generators.base import MODEL_WRITTEN
from docsbot.qa.generators.llm import LLMGenerator, answer_spans, clean_question
from docsbot.qa.models import ChunkRejection, QAPair

CHUNK = ChunkInput(1, "Quickstart", ("Quickstart", "Configuring the project"),
                   "Quickstart > Configuring the project\n\nCreate a file named acme.toml in the project root. "
                   "The region option selects the data centre; the default is eu-west.")
PROSE = ChunkInput(2, "Storage", ("Storage", "Background"), "Storage > Background\n\nMembers of the open-source "
                   "community frequently write storage handlers for less common backends.")


def test_answer_spans_are_prose_sentences_that_stand_alone_and_no_pair_quotes():
    body = ("The Session object allows you to persist certain parameters across requests. It also persists cookies "
            "across all requests made from the Session instance.\n\nSee the following example for how it works in "
            "practice today.\n\n- A list item that names one of several ways to do it.\n\nRequests allows you to "
            "specify your own authentication mechanism.")
    assert answer_spans(blocks_of_text(body), answered=["Requests allows you to specify your own authentication mechanism."]) == [
        "The Session object allows you to persist certain parameters across requests."]


@pytest.mark.parametrize("reply, question", [
    ("What does the Session object allow you to persist?\nIt persists parameters.",
     "What does the Session object allow you to persist?"),
    ("Question: How do I persist cookies across requests?", "How do I persist cookies across requests?"),
    ("What is the product's name?", ""),  # about the prompt, not the product
    ("The Session object persists parameters.", ""),  # no question
    ("Why?", ""),
])
def test_a_model_question_is_its_first_line_when_a_user_could_ask_it(reply, question):
    assert clean_question(reply) == question


@pytest.fixture(scope="module")
def server_url(tiny_base_model, tmp_path_factory):
    from docsbot.core.serving import embedded_server

    with embedded_server(base_model=str(tiny_base_model), adapter_dir=tmp_path_factory.mktemp("adapters")) as url:
        yield url


def test_a_random_models_questions_never_survive_but_the_structural_pairs_do(server_url, settings):
    from serving.client import ServingClient

    key = settings.SERVING_API_KEY  # the embedded server docsbot starts wants docsbot's key
    generator = LLMGenerator(ServingClient(server_url, api_key=key), max_tokens=24)
    result = generator.generate(CHUNK)
    assert "How do I configure the project?" in {c.question for c in result.candidates}
    assert not [c for c in result.candidates if c.kind == MODEL_WRITTEN]
    prose = generator.generate(PROSE)  # no structural pair: the model's question is all there could be
    assert prose.rejection in {"llm_round_trip"} and not prose.candidates

    slow = LLMGenerator(ServingClient(server_url, api_key=key, timeout=0.001), max_tokens=24).generate(PROSE)
    assert slow.rejection in {"llm_timeout", "llm_error"} and slow.detail and not slow.candidates


def test_an_llm_run_keeps_structural_pairs_and_records_chunks_nothing_came_from(other_team, docs, data_dir,
                                                                                server_url, settings):
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.services import qa_generate

    ingested = other_team  # the smallest page: model calls per chunk are the slow part
    ingest_paths(team=ingested, items=[str(docs / "deploying.rst")])
    settings.SERVING_URL = server_url
    settings.QA_LLM_MAX_TOKENS = 24  # the tiny model's context is 512 tokens
    report = qa_generate(team=ingested, generator="llm")
    pairs = QAPair.objects.filter(team=ingested)
    assert report.pairs == pairs.count() and pairs.exists() and set(pairs.values_list("generator", flat=True)) == {"llm"}
    assert not pairs.filter(kind=MODEL_WRITTEN).exists()
    assert set(ChunkRejection.objects.filter(team=ingested).values_list("reason", flat=True)) <= {
        "llm_round_trip", "no_structure", "chunk_too_short"}
