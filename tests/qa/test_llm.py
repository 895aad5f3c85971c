"""The LLM generator against the real embedded server with the tiny random-init model:
its output is not JSON, so every chunk must be rejected with a reason, never crash the run."""
import pytest

from docsbot.qa.generators import ChunkInput
from docsbot.qa.generators.llm import LLMGenerator
from docsbot.qa.models import ChunkRejection, QAPair

CHUNK = ChunkInput(1, "Quickstart", ("Quickstart", "Configuring the project"),
                   "Quickstart > Configuring the project\n\nCreate a file named acme.toml in the project root. "
                   "The region option selects the data centre; the default is eu-west.")


@pytest.fixture(scope="module")
def server_url(tiny_base_model, tmp_path_factory):
    from docsbot.core.serving import embedded_server

    with embedded_server(base_model=str(tiny_base_model), adapter_dir=tmp_path_factory.mktemp("adapters")) as url:
        yield url


def test_it_rejects_malformed_model_output_and_timeouts_per_chunk(server_url, settings):
    from serving.client import ServingClient

    key = settings.SERVING_API_KEY  # the embedded server docsbot starts wants docsbot's key
    result = LLMGenerator(ServingClient(server_url, api_key=key), max_tokens=24).generate(CHUNK)
    assert result.rejection == "llm_malformed" and not result.candidates
    assert "no JSON" in result.detail or "no item" in result.detail or "not a list" in result.detail

    slow = LLMGenerator(ServingClient(server_url, api_key=key, timeout=0.001), max_tokens=24).generate(CHUNK)
    assert slow.rejection in {"llm_timeout", "llm_error"} and slow.detail


def test_it_records_llm_chunk_rejections_in_a_run(other_team, docs, data_dir, server_url, settings):
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.services import qa_generate

    ingested = other_team  # the smallest page: a model call per chunk is the slow part
    ingest_paths(team=ingested, items=[str(docs / "deploying.rst")])
    settings.SERVING_URL = server_url
    settings.QA_LLM_MAX_TOKENS = 24  # the tiny model's context is 512 tokens
    report = qa_generate(team=ingested, generator="llm")
    assert report.pairs == 0 and report.rejected["llm_malformed"] >= 1
    assert ChunkRejection.objects.filter(team=ingested, reason="llm_malformed").exists()
    assert not QAPair.objects.filter(team=ingested).exists()
