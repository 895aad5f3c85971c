"""Reads for teams and credentials."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from docsbot.teams.models import ApiToken, Membership, Team, WidgetKey
from docsbot.teams.services import hash_token


def team_for_token(*, token: str) -> Team | None:
    """The team an API token belongs to, or None for an unknown or revoked token."""
    record = api_token_for(token=token)
    return record.team if record else None


def api_token_for(*, token: str) -> ApiToken | None:
    """The live token record (with its team), or None for an unknown or revoked token."""
    if not token or "\x00" in token:
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
    return record


def widget_key_get_active(*, key: str) -> WidgetKey | None:
    if not key or "\x00" in key:  # a NUL cannot be in any key, and PostgreSQL refuses it in a query
        return None
    return WidgetKey.objects.select_related("team").filter(key=key, active=True).first()


ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def teams_administered(*, user) -> QuerySet[Team]:
    """The teams a user may manage in the admin: every team for an active superuser, otherwise
    those where the user is an owner or admin. Members, staff without a team and inactive or
    anonymous users get none. Every admin page and the upload page scope by this one rule."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user, memberships__role__in=ADMIN_ROLES)
