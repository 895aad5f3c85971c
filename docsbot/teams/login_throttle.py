"""The admin login refuses a user name after repeated failures from one client, for a while.

Failures are counted per (user name, client address) in Redis, so a guesser is slowed without letting anyone
lock a known admin out from elsewhere: ``DOCSBOT_LOGIN_FAILURES`` failures in ``DOCSBOT_LOGIN_LOCKOUT_SECONDS``
(10 in 15 minutes by default) refuse further tries until the window ends; a successful login clears the count.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from docsbot.chat.ratelimit import client_address, counter_hit, redis_client


def _key(username: str, address: str | None) -> str:
    subject = f"{username.strip().lower()}|{client_address(address)}"
    return f"docsbot:login-failures:{hashlib.sha256(subject.encode()).hexdigest()}"


def login_locked_for(username: str, address: str | None) -> int:
    """Seconds until this user name may be tried again from this client (0: now)."""
    client = redis_client()
    key = _key(username, address)
    failures = int(client.get(key) or 0)
    return max(1, client.ttl(key)) if failures >= settings.LOGIN_FAILURES else 0


def login_failed(username: str, address: str | None) -> None:
    counter_hit(_key(username, address), settings.LOGIN_LOCKOUT_SECONDS)


def login_succeeded(username: str, address: str | None) -> None:
    redis_client().delete(_key(username, address))


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR") if self.request is not None else None
        wait = login_locked_for(username, address) if username else 0
        if wait:
            minutes = -(-wait // 60)
            raise ValidationError(f"Too many failed logins for this user from your address: try again in "
                                  f"{minutes} minute{'s' if minutes != 1 else ''}.", code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                login_failed(username, address)
            raise
        login_succeeded(username, address)
        return cleaned
