"""Adapter settings, read when used (so tests can override them with ``settings``)."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from docsbot.config import env_bool, env_float, env_int


def auto_promote() -> bool:
    """DOCSBOT_AUTO_PROMOTE: promote a version that beats the current one (default true)."""
    if hasattr(settings, "AUTO_PROMOTE"):
        return bool(settings.AUTO_PROMOTE)
    return env_bool("DOCSBOT_AUTO_PROMOTE", True)


def lease_seconds() -> int:
    """DOCSBOT_TRAINING_LEASE_SECONDS: how long a worker's claim lasts without a heartbeat."""
    return getattr(settings, "TRAINING_LEASE_SECONDS", None) or env_int(
        "DOCSBOT_TRAINING_LEASE_SECONDS", 120, minimum=5)


def max_forgetting() -> float:
    """DOCSBOT_MAX_FORGETTING: the largest general-text perplexity ratio (adapter / base) promoted
    (default 1.05: perplexity may rise by less than 5 %)."""
    return env_float("DOCSBOT_MAX_FORGETTING", 1.05, minimum=1.0)


def max_false_abstention() -> float:
    """DOCSBOT_MAX_FALSE_ABSTENTION: the largest share of held-out questions, asked with their source
    among the documents, that a promoted adapter may answer with the not-covered reply (default 0.5:
    "not covered" must not be its usual reply to a question the documents answer; the base model's
    own share when that is higher)."""
    share = env_float("DOCSBOT_MAX_FALSE_ABSTENTION", 0.5, minimum=0.0)
    if share > 1.0:
        from docsbot.config import ConfigError

        raise ConfigError(f"DOCSBOT_MAX_FALSE_ABSTENTION: a share from 0 to 1, got {share}")
    return share


def max_lora_rank() -> int:
    """DOCSBOT_MAX_LORA_RANK: the serving engine's --max-lora-rank (vLLM default 16)."""
    return env_int("DOCSBOT_MAX_LORA_RANK", 64, minimum=1)


def training_gpu_memory_fraction() -> float:
    """DOCSBOT_TRAINING_GPU_MEMORY_FRACTION: the share of the GPU's memory a training job may use
    (default 1.0). On a host where vLLM shares the one GPU, at most 1 - vLLM's --gpu-memory-utilization,
    less a margin for the CUDA contexts (docker-compose.yml: 0.45 beside vLLM's 0.45)."""
    fraction = env_float("DOCSBOT_TRAINING_GPU_MEMORY_FRACTION", 1.0, minimum=0.05)
    if fraction > 1.0:
        from docsbot.config import ConfigError

        raise ConfigError(f"DOCSBOT_TRAINING_GPU_MEMORY_FRACTION: must be at most 1.0, got {fraction}")
    return fraction


def max_active_jobs_per_team() -> int:
    """DOCSBOT_MAX_ACTIVE_JOBS_PER_TEAM: queued or running training jobs a team may have at once on
    the shared gpu queue (default 2)."""
    return getattr(settings, "MAX_ACTIVE_JOBS_PER_TEAM", None) or env_int(
        "DOCSBOT_MAX_ACTIVE_JOBS_PER_TEAM", 2, minimum=1)


def hyperparameter_limits() -> dict[str, int]:
    """The largest value a job may ask for each bounded hyperparameter (DOCSBOT_MAX_EPOCHS,
    DOCSBOT_MAX_BATCH_SIZE, DOCSBOT_MAX_TRAIN_LENGTH, DOCSBOT_MAX_TRAIN_STEPS); ranks are bounded
    by DOCSBOT_MAX_LORA_RANK."""
    return {
        "epochs": env_int("DOCSBOT_MAX_EPOCHS", 20, minimum=1),
        "batch_size": env_int("DOCSBOT_MAX_BATCH_SIZE", 64, minimum=1),
        "max_length": env_int("DOCSBOT_MAX_TRAIN_LENGTH", 8192, minimum=16),
        "max_steps": env_int("DOCSBOT_MAX_TRAIN_STEPS", 20_000, minimum=1),
        "eval_max_examples": 1000,
        "eval_max_new_tokens": 1024,
    }


def check_adapter_settings() -> None:
    """Read every adapter setting once at start-up (AdaptersConfig.ready): a bad value stops the
    process with one line, instead of failing a training job at its gate hours later."""
    auto_promote(), lease_seconds(), max_forgetting(), max_false_abstention(), max_lora_rank()
    training_gpu_memory_fraction(), max_active_jobs_per_team(), hyperparameter_limits()


def jobs_dir() -> Path:
    return Path(settings.DATA_DIR) / "training" / "jobs"


def job_dir(job_id: int) -> Path:
    return jobs_dir() / str(job_id)


def versions_dir(team_slug: str) -> Path:
    # Under ADAPTER_DIR (shared with the serving side) but dot-prefixed, so no version dir is
    # ever mistaken for a served adapter name; the served name is the team-<slug> symlink.
    return Path(settings.ADAPTER_DIR) / ".versions" / team_slug


def base_model() -> str:
    from docsbot.core.serving import base_model_path

    return base_model_path()
