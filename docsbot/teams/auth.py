"""API authentication: a team token in ``Authorization: Bearer ...``.

The authenticated object is the Team; every endpoint scopes its queries to it.
"""
from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from docsbot.teams.models import Team
from docsbot.teams.selectors import team_for_token


class TeamTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Team | None:
        team = team_for_token(token=token)
        if team is not None:
            request.team = team  # type: ignore[attr-defined]
        return team
