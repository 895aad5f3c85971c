"""Typed readers for settings that come from the environment.

Every reader fails with a ``ConfigError`` naming the variable and the bad value,
so a misconfigured process stops with one clear line instead of a traceback.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse


class ConfigError(Exception):
    """A setting read from the environment has a value docsbot cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_optional(name: str) -> str | None:
    value = _raw(name)
    return value or None


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}: must be at most {maximum}, got {number}")
    return number


def env_optional_int(name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer, or None when the variable is unset or empty."""
    return None if _raw(name) in (None, "") else env_int(name, 0, minimum=minimum, maximum=maximum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_raw(name) or default).lower()
    if value not in choices:
        raise ConfigError(f"{name}: must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true/false (1/0, yes/no, on/off), got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value).expanduser().resolve() if value else default


def env_url(name: str, *, schemes: set[str], default: str | None = None) -> str | None:
    value = _raw(name) or default
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ConfigError(f"{name}: scheme must be one of {allowed}, got {value!r}")
    if parsed.scheme not in {"sqlite", "redis+socket", "unix"} and not parsed.hostname:
        raise ConfigError(f"{name}: no host in {value!r}")
    return value
