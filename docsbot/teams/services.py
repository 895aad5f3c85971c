"""Writes for teams, memberships and credentials."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from docsbot.teams.models import ApiToken, Membership, Team, WidgetKey

TOKEN_PREFIX = "dbt_"


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; no salt is needed.
    return hashlib.sha256(token.encode()).hexdigest()


def team_create(*, slug: str, name: str) -> Team:
    team = Team(slug=slug, name=name or slug,
                slack_signing_secret=secrets.token_hex(16), webhook_token=secrets.token_urlsafe(24))
    team.full_clean()
    team.save()
    return team


def membership_set(*, team: Team, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ValidationError(f"unknown role {role!r}; use one of {', '.join(Membership.Role.values)}")
    membership, _ = Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    token: str  # the only time the plain token exists


def api_token_create(*, team: Team, name: str = "default", role: str = ApiToken.Role.WRITE) -> IssuedToken:
    """A new token; ``role`` is read, write (the default) or admin."""
    if role not in ApiToken.Role.values:
        raise ValueError(f"role: must be one of {', '.join(ApiToken.Role.values)}, got {role!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(team=team, name=name, prefix=token[:12], token_hash=hash_token(token),
                                     role=role)
    return IssuedToken(record=record, token=token)


def api_token_revoke(*, token: ApiToken) -> None:
    from django.utils import timezone

    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())


def widget_key_create(*, team: Team, allowed_origins: list[str], label: str = "") -> WidgetKey:
    with transaction.atomic():
        return WidgetKey.objects.create(
            team=team, key="wk_" + secrets.token_urlsafe(24), label=label,
            allowed_origins="\n".join(origin.rstrip("/") for origin in allowed_origins),
        )
