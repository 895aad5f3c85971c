"""API authentication: a team token in ``Authorization: Bearer ...``, its role, and its rate limits.

The authenticated object is the Team; every endpoint scopes its queries to it. A token's role
decides what it may do: ``read`` only safe methods (GET, HEAD, OPTIONS); ``write`` and ``admin``
also everything that changes data (uploads, deletions, pair import and generation, training).
"""
from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from docsbot.chat.ratelimit import counter_hit
from docsbot.core.errors import AppError
from docsbot.teams.models import ApiToken, Team
from docsbot.teams.selectors import api_token_for

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ROLE_RANK = {ApiToken.Role.READ: 0, ApiToken.Role.WRITE: 1, ApiToken.Role.ADMIN: 2}


class TeamTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Team | None:
        record = api_token_for(token=token)
        if record is None:
            return None
        needed = ApiToken.Role.READ if request.method in SAFE_METHODS else ApiToken.Role.WRITE
        if ROLE_RANK.get(record.role, 0) < ROLE_RANK[needed]:
            raise AppError(code="forbidden", message=f"this token's role is {record.role!r}: {request.method} needs a write or "
                                 "admin token")
        request.team = record.team  # type: ignore[attr-defined]
        request.api_token = record  # type: ignore[attr-defined]
        return record.team


def api_rate_limit(request: HttpRequest, bucket: str) -> None:
    """Count one request of ``bucket`` (search, upload, import, training) for the request's token in
    a fixed one-minute window (atomic in Redis); a 429 with Retry-After once the minute's budget
    (``settings.API_RATE_LIMITS``, 0 = no limit) is spent."""
    limit = int(settings.API_RATE_LIMITS.get(bucket, 0))
    token = getattr(request, "api_token", None)
    if limit <= 0 or token is None:
        return
    seconds = settings.API_RATE_WINDOW_SECONDS
    window = int(time.time()) // seconds
    key = f"docsbot:api:rate:{token.token_hash[:24]}:{bucket}:{seconds}:{window}"
    count, ttl = counter_hit(key, seconds + 1)
    if count > limit:
        retry_after = max(1, ttl)
        raise AppError(f"rate limit: at most {limit} {bucket} requests a minute per token "
                       f"(DOCSBOT_API_{bucket.upper()}_PER_MINUTE); retry in {retry_after} s", code="quota",
                       retry_after=retry_after)
