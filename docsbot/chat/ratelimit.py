"""Chat budgets per channel and subject: fixed one-minute windows counted atomically in Redis."""
from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

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


# Each channel's budget: the setting naming it, and what the subject of a counter is.
BUDGETS = {
    "api": "CHAT_API_RATE_LIMIT_PER_MINUTE",  # per API token
    "widget": "CHAT_WIDGET_RATE_LIMIT_PER_MINUTE",  # per widget key
    "widget_client": "CHAT_WIDGET_CLIENT_RATE_LIMIT_PER_MINUTE",  # per widget key and client address
    "slack": "CHAT_SLACK_RATE_LIMIT_PER_MINUTE",  # per team
    "webhook": "CHAT_WEBHOOK_RATE_LIMIT_PER_MINUTE",  # per team
}


def chat_budget_limit(budget: str) -> int:
    """Questions a minute allowed on a budget (0: no limit); unset channel budgets inherit
    CHAT_RATE_LIMIT_PER_MINUTE."""
    limit = getattr(settings, BUDGETS[budget])
    if limit is None:
        limit = settings.CHAT_RATE_LIMIT_PER_MINUTE
    return int(limit)


def client_address(address: str | None) -> str:
    """The client a widget budget is counted for: its IPv4 address, or its IPv6 /64 (one host
    usually holds a whole /64, so counting single IPv6 addresses would be no limit at all)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def counter_hit(key: str, seconds: int) -> tuple[int, int]:
    """Count one at ``key``, a counter that lives ``seconds`` from its first count: (count, seconds left)."""
    count, ttl = redis_client().eval(_INCR_WITH_TTL, 1, key, seconds)
    return int(count), int(ttl)


def chat_budget_hit(budget: str, subject: str | int) -> RateDecision:
    """Count one question on a channel's budget for one subject (a token, a widget key, a team);
    refused once the minute's budget is spent."""
    limit = chat_budget_limit(budget)
    if limit <= 0:
        return RateDecision(allowed=True, limit=0, retry_after=0)
    window = int(time.time()) // WINDOW_SECONDS
    digest = hashlib.sha256(str(subject).encode()).hexdigest()[:24]  # no address or key in Redis
    key = f"docsbot:chat:rate:{budget}:{digest}:{window}"
    count, ttl = counter_hit(key, WINDOW_SECONDS + 1)
    return RateDecision(allowed=count <= limit, limit=limit, retry_after=max(1, ttl))


def once(*, key: str, seconds: int) -> bool:
    """True the first time a key is claimed within `seconds` (Redis SET NX EX)."""
    return bool(redis_client().set(f"docsbot:once:{key}", "1", nx=True, ex=seconds))


def once_release(*, key: str) -> None:
    redis_client().delete(f"docsbot:once:{key}")
