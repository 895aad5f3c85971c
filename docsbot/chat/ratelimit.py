"""Per-team chat rate limit: a fixed one-minute window counted atomically in Redis."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from docsbot.chat.conf import chat_setting

# INCR and EXPIRE in one script: a crash between them can never leave a counter without a TTL.
_INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""
WINDOW_SECONDS = 60


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_CLIENT_URL)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int


def chat_rate_limit_hit(*, team_id: int) -> RateDecision:
    """Count one chat request for the team; refused once the minute's budget is spent."""
    limit = int(chat_setting("CHAT_RATE_LIMIT_PER_MINUTE"))
    if limit <= 0:
        return RateDecision(allowed=True, limit=0, retry_after=0)
    window = int(time.time()) // WINDOW_SECONDS
    key = f"docsbot:chat:rate:{team_id}:{window}"
    count, ttl = redis_client().eval(_INCR_WITH_TTL, 1, key, WINDOW_SECONDS + 1)
    return RateDecision(allowed=int(count) <= limit, limit=limit, retry_after=max(1, int(ttl)))


def once(*, key: str, seconds: int) -> bool:
    """True the first time a key is claimed within `seconds` (Redis SET NX EX)."""
    return bool(redis_client().set(f"docsbot:once:{key}", "1", nx=True, ex=seconds))


def once_release(*, key: str) -> None:
    redis_client().delete(f"docsbot:once:{key}")
