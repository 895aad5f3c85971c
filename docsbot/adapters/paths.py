"""Where a team's training jobs and adapter versions live on disk."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings


def jobs_dir() -> Path:
    return Path(settings.DATA_DIR) / "training" / "jobs"


def job_dir(job_id: int) -> Path:
    return jobs_dir() / str(job_id)


def rehearsal_cache_dir() -> Path:
    """The base model's own text for rehearsal, sampled once per base model and shared by every job."""
    return Path(settings.DATA_DIR) / "training" / "rehearsal"


def versions_dir(team_slug: str) -> Path:
    # Under ADAPTER_DIR (shared with the serving side) but dot-prefixed, so no version dir is
    # ever mistaken for a served adapter name; the served name is the team-<slug> symlink.
    return Path(settings.ADAPTER_DIR) / ".versions" / team_slug
