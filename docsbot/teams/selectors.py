"""Reads for teams and credentials."""
from __future__ import annotations

from django.utils import timezone

from docsbot.teams.models import ApiToken, Team, WidgetKey
from docsbot.teams.services import hash_token


def team_get_by_slug(*, slug: str) -> Team:
    return Team.objects.get(slug=slug)


def team_for_token(*, token: str) -> Team | None:
    """The team an API token belongs to, or None for an unknown or revoked token."""
    if not token:
        return None
    record = (
        ApiToken.objects.select_related("team")
        .filter(token_hash=hash_token(token), revoked__isnull=True)
        .first()
    )
    if record is None:
        return None
    now = timezone.now()
    if record.last_used is None or (now - record.last_used).total_seconds() > 60:
        ApiToken.objects.filter(pk=record.pk).update(last_used=now)
    return record.team


def widget_key_get_active(*, key: str) -> WidgetKey | None:
    if not key:
        return None
    return WidgetKey.objects.select_related("team").filter(key=key, active=True).first()
