"""Start-up checks that turn an unusable configuration into one clear line."""
from __future__ import annotations

import re

from django.db import connection

from docsbot.config import ConfigError


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def check_database_reachable() -> None:
    import os

    try:
        connection.ensure_connection()
    except Exception as exc:  # noqa: BLE001 - any driver error means the same thing here
        url = os.environ.get("DATABASE_URL", "sqlite (default)")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"DATABASE_URL: cannot connect to {_redact(url)}: {reason}") from None


def check_broker_reachable() -> None:
    import os

    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_CLIENT_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        url = os.environ.get("REDIS_URL", "embedded Redis")
        raise ConfigError(f"REDIS_URL: cannot connect to {_redact(url)}: {exc}") from None


def check_base_model() -> str:
    """The base model serving and training share: a causal LM with weights and a chat template."""
    from docsbot.core.serving import base_model_path
    from training.packaged_model import BaseModelError, check_causal_lm  # stdlib only: no torch

    try:
        return check_causal_lm(base_model_path())
    except BaseModelError as exc:
        raise ConfigError(f"DOCSBOT_BASE_MODEL: {exc}") from None


def run_preflight() -> None:
    """What every process needs (the web server runs these at start-up)."""
    check_database_reachable()
    check_broker_reachable()
