"""Chat settings: environment defaults that a Django setting of the same name overrides (tests do)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

from docsbot.config import env_float, env_int, env_str


def _env_budget(name: str) -> int | None:
    """A channel's budget from the environment; None (unset) inherits CHAT_RATE_LIMIT_PER_MINUTE."""
    value = env_int(name, -1, minimum=0)
    return None if value == -1 else value


_DEFAULTS: dict[str, Any] = {
    # Cosine similarity of the best chunk below which the docs are taken not to cover a question.
    # Calibrated with all-MiniLM-L6-v2 on tests/fixtures/docs: on-topic questions scored
    # 0.23-0.73, off-topic ones -0.01-0.15 (tests/chat/test_relevance.py keeps that split).
    "CHAT_MIN_SCORE": env_float("DOCSBOT_CHAT_MIN_SCORE", 0.2),
    "CHAT_TOP_K": env_int("DOCSBOT_CHAT_TOP_K", 4, minimum=1, maximum=20),
    "CHAT_MAX_TOKENS": env_int("DOCSBOT_CHAT_MAX_TOKENS", 256, minimum=1),
    "CHAT_HISTORY_MESSAGES": env_int("DOCSBOT_CHAT_HISTORY_MESSAGES", 6, minimum=0),
    "CHAT_MAX_QUESTION_CHARS": env_int("DOCSBOT_CHAT_MAX_QUESTION_CHARS", 2000, minimum=10),
    # Chat budgets, one per channel and subject, so that one caller cannot spend another's: the
    # default of each channel budget below (0 disables them all but the per-client widget one).
    "CHAT_RATE_LIMIT_PER_MINUTE": env_int("DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE", 120, minimum=0),
    "CHAT_API_RATE_LIMIT_PER_MINUTE": _env_budget("DOCSBOT_CHAT_API_PER_MINUTE"),  # per API token
    "CHAT_WIDGET_RATE_LIMIT_PER_MINUTE": _env_budget("DOCSBOT_CHAT_WIDGET_PER_MINUTE"),  # per widget key
    "CHAT_SLACK_RATE_LIMIT_PER_MINUTE": _env_budget("DOCSBOT_CHAT_SLACK_PER_MINUTE"),  # per team
    "CHAT_WEBHOOK_RATE_LIMIT_PER_MINUTE": _env_budget("DOCSBOT_CHAT_WEBHOOK_PER_MINUTE"),  # per team
    # Per widget key and client address (an IPv6 client by its /64): one browser, or one script
    # forging an Origin header, cannot spend the whole widget key's budget.
    "CHAT_WIDGET_CLIENT_RATE_LIMIT_PER_MINUTE": env_int("DOCSBOT_CHAT_WIDGET_CLIENT_PER_MINUTE", 20, minimum=0),
    "SLACK_API_URL": env_str("DOCSBOT_SLACK_API_URL", "https://slack.com/api"),
    "SLACK_DEDUPE_SECONDS": env_int("DOCSBOT_SLACK_DEDUPE_SECONDS", 3600, minimum=60),
}


def chat_setting(name: str) -> Any:
    return getattr(settings, name, _DEFAULTS[name])
