"""Chat fixtures: a team with the fixture docs ingested, a live serving process, a Slack stand-in."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from tests import waiting
from tests.slack_api_server import slack_api_server

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"
# Generation only has to produce a few tokens: what is tested is the plumbing around it.
TEST_MAX_TOKENS = 8


@pytest.fixture(autouse=True)
def _isolated_data(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.ADAPTER_DIR = settings.DATA_DIR / "adapters"
    settings.CHAT_RATE_LIMIT_PER_MINUTE = 1000
    settings.CHAT_MAX_TOKENS = TEST_MAX_TOKENS


@pytest.fixture(autouse=True)
def _fresh_chat_keys():
    # Team ids restart with every test database, so keys left by an earlier run would collide.
    from docsbot.chat.ratelimit import redis_client

    client = redis_client()
    for pattern in ("docsbot:once:slack:*", "docsbot:chat:rate:*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)


_embeddings: dict[tuple[str, tuple[str, ...]], object] = {}


@pytest.fixture(autouse=True)
def _memoized_embeddings(monkeypatch, settings):
    """Every test ingests the same fixture docs: embed each distinct batch once per session.

    The real model computes every vector (a pure function of model and texts); only repeats
    of an identical call are served from memory, which saves seconds per test on a busy CPU.
    """
    from docsbot.documents import embedding

    real = embedding.embed_texts

    def embed_texts(texts: list[str], *, progress=None):
        key = (str(settings.EMBEDDING_MODEL), tuple(texts))
        if key not in _embeddings:
            _embeddings[key] = real(texts, progress=progress)
        elif progress is not None:
            progress(len(texts))
        return _embeddings[key].copy()

    monkeypatch.setattr(embedding, "embed_texts", embed_texts)


def ingest_docs(team, path: Path = FIXTURE_DOCS) -> None:
    call_command("ingest", "--team", team.slug, str(path), "--sync", "--json", stdout=io.StringIO())


@pytest.fixture
def docs_team(team):
    ingest_docs(team)
    return team


@pytest.fixture
def unreachable_serving(settings, monkeypatch):
    """A serving URL nothing listens on (the discard port), failing without the client's backoff waits."""
    from serving.client import ServingClient

    settings.SERVING_URL = "http://127.0.0.1:9"
    monkeypatch.setattr(ServingClient, "backoff_s", 0.0)
    return settings.SERVING_URL


@pytest.fixture(scope="module")
def slack_server():
    """A local HTTP server standing in for slack.com/api and response_url; records what it receives."""
    with slack_api_server() as server:
        yield server


@pytest.fixture
def slack_api(settings, slack_server):
    slack_server.received.clear()
    settings.SLACK_API_URL = slack_server.api_url
    settings.SLACK_RESPONSE_URL_PREFIXES = [f"http://127.0.0.1:{slack_server.server_port}/"]
    return slack_server


def wait_for(predicate, timeout: float = 90.0):
    return waiting.wait_for(predicate, "the chat to get there", seconds=timeout)


@pytest.fixture
def promote_adapter_saying(docs_team, serving, tiny_base_model, tmp_path):
    """Promotes for docs_team a real LoRA that makes the model emit one token whatever it is asked (the first
    token, counting down from the vocabulary's end, that ``chosen`` accepts as decoded text); returns that text.

    Published as production does it (adapter_publish hot-loads it on the serving process).
    """
    from transformers import AutoTokenizer

    from docsbot.adapters.models import AdapterVersion
    from docsbot.core.serving import adapter_publish, serving_client, team_adapter_name
    from tests.serving.helpers import make_adapter

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model)

    def promote(chosen) -> str:
        token_id, text = next((i, tokenizer.decode([i])) for i in range(len(tokenizer) - 1, 0, -1)
                              if i not in tokenizer.all_special_ids and chosen(tokenizer.decode([i])))
        path = make_adapter(tiny_base_model, tmp_path / "team-adapter-v3", rank=4, seed=3, boost_token=token_id)
        AdapterVersion.objects.create(team=docs_team, number=3, path=str(path), method="lora", rank=4,
                                      base_model=str(tiny_base_model), status=AdapterVersion.Status.PROMOTED)
        adapter_publish(team_slug=docs_team.slug, version_path=path)
        return text

    yield promote
    # The serving process outlives the test database: leave no team adapter behind on it.
    serving_client().unload_adapter(name=team_adapter_name(docs_team.slug))


@pytest.fixture
def promoted_adapter(promote_adapter_saying):
    """A promoted adapter that makes the model say one word; yields that word, so a test can tell the adapter
    answered and not the base model."""
    return promote_adapter_saying(lambda text: text.strip().isalpha() and len(text.strip()) >= 4).strip()
