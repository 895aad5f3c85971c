"""docker-compose.yml parses, has every production service, and runs commands that exist; vLLM and the
training worker fit one GPU together, and vLLM and docsbot agree on its version, key and max LoRA rank."""
import os
import re
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


def _interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` with ``env`` as the .env file."""
    env = env or {}

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def _variable(value: str) -> str:
    """The one variable a ``${VAR...}`` value reads."""
    match = re.fullmatch(r"\$\{(\w+)(?::[-?][^}]*)?\}", str(value))
    assert match, f"{value!r} is not one ${{VAR}}"
    return match.group(1)


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


DOCSBOT_SERVICES = ("web", "worker", "worker-chat", "worker-gpu")


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
        env={"POSTGRES_PASSWORD": "x", "DOCSBOT_SECRET_KEY": "y" * 50, "DOCSBOT_SERVING_API_KEY": "z" * 32,
             "PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stderr


def test_it_pins_vllm_to_the_release_the_contract_targets():
    from serving.protocol import EMBEDDED_VERSION, VLLM_VERSION

    assert _compose()["services"]["vllm"]["image"] == f"vllm/vllm-openai:v{VLLM_VERSION}"
    assert EMBEDDED_VERSION.startswith(f"{VLLM_VERSION}+")
    assert f"vllm/vllm-openai:v{VLLM_VERSION}" in (ROOT / "README.md").read_text()


def test_it_starts_vllm_with_the_model_positional_and_a_context_length():
    services = _compose()["services"]
    command = services["vllm"]["command"]
    assert "--model" not in command  # deprecated: the image's entrypoint is `vllm serve MODEL`
    assert command[0] == services["web"]["environment"]["DOCSBOT_BASE_MODEL"]
    assert int(_interpolate(_flag(command, "--max-model-len"))) >= 4096


def test_it_fits_vllm_and_a_training_job_on_one_gpu_and_separates_them_on_two():
    services = _compose()["services"]
    vllm, gpu = services["vllm"], services["worker-gpu"]

    def layout(env: dict[str, str]) -> tuple[float, float, str, str]:
        utilization = float(_interpolate(_flag(vllm["command"], "--gpu-memory-utilization"), env))
        training = float(_interpolate(gpu["environment"]["DOCSBOT_TRAINING_GPU_MEMORY_FRACTION"], env))
        devices = [_interpolate(s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0], env)
                   for s in (vllm, gpu)]
        return utilization, training, *devices

    utilization, training, vllm_gpu, training_gpu = layout({})  # the defaults: one GPU
    assert vllm_gpu == training_gpu == "0"
    assert 0.3 <= utilization and 0.3 <= training and utilization + training <= 0.95  # a margin for CUDA contexts
    two = {"TRAINING_GPU": "1", "VLLM_GPU_MEMORY_UTILIZATION": "0.9", "DOCSBOT_TRAINING_GPU_MEMORY_FRACTION": "1.0"}
    utilization, training, vllm_gpu, training_gpu = layout(two)  # README's two-GPU layout
    assert (vllm_gpu, training_gpu, utilization, training) == ("0", "1", 0.9, 1.0)
    # The training worker keeps the shared settings beside its own.
    assert gpu["environment"]["DATABASE_URL"] == services["web"]["environment"]["DATABASE_URL"]


def test_it_gives_vllm_and_docsbot_one_max_lora_rank():
    services = _compose()["services"]
    rank = _flag(services["vllm"]["command"], "--max-lora-rank")
    assert _variable(rank) == "DOCSBOT_MAX_LORA_RANK"
    for name in DOCSBOT_SERVICES:
        assert services[name]["environment"]["DOCSBOT_MAX_LORA_RANK"] == rank, name
    assert int(_interpolate(rank)) in (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's accepted ranks
    assert "VLLM_MAX_LORA_RANK" not in COMPOSE.read_text()


def test_it_gives_vllm_and_docsbot_the_same_required_serving_key():
    services = _compose()["services"]
    key = services["vllm"]["environment"]["VLLM_API_KEY"]  # vLLM's --api-key
    assert _variable(key) == "DOCSBOT_SERVING_API_KEY"
    for name in DOCSBOT_SERVICES:
        assert _variable(services[name]["environment"]["DOCSBOT_SERVING_API_KEY"]) == "DOCSBOT_SERVING_API_KEY"
    with pytest.raises(KeyError, match="DOCSBOT_SERVING_API_KEY"):  # no default: compose refuses to start
        _interpolate(key)
    assert "/health" in " ".join(services["vllm"]["healthcheck"]["test"])  # open without the key, as in vLLM
