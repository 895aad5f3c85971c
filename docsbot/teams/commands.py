"""What every management command that takes ``--team`` shares."""
from __future__ import annotations

from docsbot.core.errors import AppError, command_error
from docsbot.teams.models import Team


def team_or_error(slug: str) -> Team:
    """The team, or a CommandError that says how to create it."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise command_error(AppError(f"no team {slug!r} (create it with: manage.py createteam {slug})",
                                     code="not_found"))
    return team
