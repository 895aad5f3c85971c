"""The embedded server as docsbot starts it (demo, ask, tests): training's max LoRA rank and a key by default."""
from __future__ import annotations

import os
import stat

import httpx
import pytest
from django.test import override_settings

from docsbot.core.serving import embedded_server, serving_client
from serving.client import ServingError
from tests.serving.helpers import make_adapter

CHAT = [{"role": "user", "content": "How do I deploy?"}]


@pytest.fixture(scope="module")
def rank32_server(tiny_base_model, tmp_path_factory):
    """An embedded server started while DOCSBOT_MAX_LORA_RANK is 32 (not the engine's own default, 16)."""
    with override_settings(MAX_LORA_RANK=32):
        server = embedded_server(base_model=str(tiny_base_model), adapter_dir=tmp_path_factory.mktemp("adapters"))
        url = server.__enter__()
    yield url
    server.__exit__(None, None, None)


def test_it_serves_an_adapter_of_the_largest_rank_training_allows(rank32_server, tiny_base_model, tmp_path,
                                                                   settings):
    settings.SERVING_URL = rank32_server
    client = serving_client()
    client.load_adapter(name="rank32", path=str(make_adapter(tiny_base_model, tmp_path / "r32", rank=32)))
    assert client.chat(model="rank32", messages=CHAT, max_tokens=2).finish_reason == "length"
    with pytest.raises(ServingError, match="greater than max_lora_rank 32") as refused:
        client.load_adapter(name="rank64", path=str(make_adapter(tiny_base_model, tmp_path / "r64", rank=64)))
    assert refused.value.status == 500  # vLLM's answer to an adapter it cannot serve


def test_it_requires_docsbot_s_serving_key_on_the_embedded_server(rank32_server, settings):
    assert settings.SERVING_API_KEY
    assert httpx.get(f"{rank32_server}/v1/models").status_code == 401
    wrong = httpx.get(f"{rank32_server}/v1/models", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 401
    chat = {"model": "x", "messages": CHAT, "max_tokens": 1}
    assert httpx.post(f"{rank32_server}/v1/chat/completions", json=chat).status_code == 401
    assert httpx.post(f"{rank32_server}/v1/load_lora_adapter",
                      json={"lora_name": "team-x", "lora_path": "/tmp", "load_inplace": True}).status_code == 401
    assert httpx.get(f"{rank32_server}/health").status_code == 200  # liveness stays open, as in vLLM
    settings.SERVING_URL = rank32_server
    client = serving_client()  # docsbot's own client carries the key
    base = client.list_models()[0]["id"]
    assert client.chat(model=base, messages=CHAT, max_tokens=2).usage["completion_tokens"] >= 1


def test_it_generates_the_serving_key_once_under_the_data_dir(tmp_path, monkeypatch, settings):
    from docsbot import settings as module

    if not os.environ.get("DOCSBOT_SERVING_API_KEY"):  # this run's settings took theirs the same way
        assert settings.SERVING_API_KEY == (settings.DATA_DIR / "serving_api_key").read_text().strip()
    monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    key = module._generated_key("serving_api_key", 32)
    assert len(key) >= 40 and module._generated_key("serving_api_key", 32) == key
    keyfile = tmp_path / "serving_api_key"
    assert keyfile.read_text() == key and stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["serving_api_key"]  # no temporary file left


def test_it_starts_the_demo_s_server_with_training_s_max_rank_and_the_key(settings, monkeypatch):
    from docsbot.core.management.commands.demo import Command

    started: dict[str, tuple[list[str], dict]] = {}

    class Supervisor:
        def start(self, name, command, env=None):
            started[name] = (command, dict(env or {}))

    settings.MAX_LORA_RANK = 32
    settings.SERVING_URL, settings.EMBEDDED_REDIS = None, False
    command = Command()
    command.env = {}
    command.start_services(Supervisor(), 8000)
    argv, env = started["serving"]
    assert argv[argv.index("--max-lora-rank") + 1] == "32"
    assert env["VLLM_API_KEY"] == settings.SERVING_API_KEY
    assert settings.SERVING_API_KEY not in argv
