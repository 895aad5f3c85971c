"""The adapter commands' shared lookup of a version (a team's: docsbot.teams.commands)."""
from __future__ import annotations

from docsbot.adapters.models import AdapterVersion
from docsbot.adapters.selectors import adapter_version_get
from docsbot.core.errors import AppError, command_error
from docsbot.teams.models import Team


def version_or_error(team: Team, number: int) -> AdapterVersion:
    version = adapter_version_get(team=team, number=number)
    if version is None:
        raise command_error(AppError(f"team {team.slug} has no adapter version {number}", code="not_found"))
    return version
