import os
import subprocess
import sys
from pathlib import Path

import pytest

from docsbot.config import ConfigError, env_bool, env_int, env_url

ROOT = Path(__file__).resolve().parent.parent


def test_it_reads_integers_and_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_INT", "12")
    assert env_int("X_INT", 3) == 12
    monkeypatch.setenv("X_INT", "abc")
    with pytest.raises(ConfigError, match="X_INT: expected an integer, got 'abc'"):
        env_int("X_INT", 3)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ConfigError, match="at least 1"):
        env_int("X_INT", 3, minimum=1)


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    assert env_bool("X_BOOL", False) is True
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ConfigError, match="X_BOOL"):
        env_bool("X_BOOL", False)


def test_it_checks_url_schemes(monkeypatch):
    monkeypatch.setenv("X_URL", "mysql://db/x")
    with pytest.raises(ConfigError, match="X_URL: scheme must be one of"):
        env_url("X_URL", schemes={"postgres", "sqlite"})


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **env}, cwd=ROOT,
    )


def test_it_stops_on_a_bad_setting_with_one_line_naming_the_variable():
    result = _manage("check", DOCSBOT_MAX_UPLOAD_MB="abc")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "docsbot: configuration error: DOCSBOT_MAX_UPLOAD_MB: expected an integer, got 'abc'"
    ]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("DOCSBOT_MAX_FORGETTING", "0.5", "DOCSBOT_MAX_FORGETTING: must be at least 1.0, got 0.5"),
    ("DOCSBOT_MAX_FALSE_ABSTENTION", "1.5", "DOCSBOT_MAX_FALSE_ABSTENTION: a share from 0 to 1, got 1.5"),
    ("DOCSBOT_AUTO_PROMOTE", "maybe", "DOCSBOT_AUTO_PROMOTE: expected true/false"),
    ("DOCSBOT_INDEX_SCAN", "int4", "DOCSBOT_INDEX_SCAN: must be one of auto, float32, got 'int4'"),
    ("DOCSBOT_TRAINING_GPU_MEMORY_FRACTION", "1.5", "DOCSBOT_TRAINING_GPU_MEMORY_FRACTION: must be at most 1.0"),
    ("DOCSBOT_MAX_ARCHIVE_RATIO", "1", "DOCSBOT_MAX_ARCHIVE_RATIO: must be at least 2"),
])
def test_it_stops_at_start_up_on_a_bad_setting_read_only_later(variable, value, message):
    """Settings used deep in a job (the promotion gate, the search index) are checked when the process starts."""
    result = _manage("check", **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"docsbot: configuration error: {message}"), result.stderr


def test_it_stops_on_an_unreachable_database_with_one_line():
    result = _manage("preflight", DATABASE_URL="postgres://nobody:secret@127.0.0.1:1/none")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("docsbot: configuration error: DATABASE_URL: cannot connect to")
    assert "secret" not in lines[0]


def test_it_names_a_base_model_that_is_not_a_causal_lm_at_preflight(tmp_path):
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text('{"architectures": ["BertModel"], "model_type": "bert"}')
    result = _manage("preflight", DOCSBOT_BASE_MODEL=str(encoder), DOCSBOT_DATA_DIR=str(tmp_path / "data"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (f"docsbot: configuration error: DOCSBOT_BASE_MODEL: {encoder}: a BertModel model, not a "
                        "causal language model (…ForCausalLM): set DOCSBOT_BASE_MODEL to a causal LM such as "
                        "SmolLM2 or Qwen2.5-Instruct")
    missing = _manage("preflight", DOCSBOT_DATA_DIR=str(tmp_path / "fresh"))
    assert missing.returncode == 2 and "run `python manage.py prepare_base_model`" in missing.stderr
