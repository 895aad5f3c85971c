"""docker-compose.yml parses, has every production service, and runs commands that exist."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_defines_every_production_service_with_a_health_check():
    services = _compose()["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker", "worker-gpu", "vllm"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"


def test_it_runs_project_commands_that_exist():
    services = _compose()["services"]
    commands = get_commands()
    for name in ("web", "worker", "worker-gpu"):
        command = " ".join(services[name]["command"])
        for part in command.split("&&"):
            words = part.replace("sh -c", "").split()
            if "manage.py" in words:
                assert words[words.index("manage.py") + 1] in commands, part
            if words and words[0] == "celery":
                assert words[1:3] == ["-A", "docsbot"]
    gpu = services["worker-gpu"]["command"]
    assert gpu[gpu.index("-Q") + 1] == "gpu"
    assert gpu[gpu.index("--concurrency") + 1] == "1"
    assert "--max-tasks-per-child" in gpu
    assert (ROOT / services["web"]["build"]["dockerfile"]).exists()


def test_it_serves_adapters_with_vllm_runtime_lora_updating():
    vllm = _compose()["services"]["vllm"]
    assert "--enable-lora" in vllm["command"]
    for flag in ("--max-loras", "--max-lora-rank", "--max-cpu-loras"):
        assert flag in vllm["command"]
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert any(volume.startswith("adapters:") for volume in vllm["volumes"])


def _has_compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _has_compose_plugin(), reason="no docker compose plugin on this machine")
def test_it_passes_docker_compose_config():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, check=False,
        env={"POSTGRES_PASSWORD": "x", "DOCSBOT_SECRET_KEY": "y" * 50, "PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stderr
