"""Shared lookups for the adapter commands."""
from __future__ import annotations

from django.core.management.base import CommandError

from docsbot.adapters.models import AdapterVersion
from docsbot.adapters.selectors import adapter_version_get
from docsbot.teams.models import Team


def team_or_error(slug: str) -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise CommandError(f"no team {slug!r} (create it with: manage.py createteam {slug})")
    return team


def version_or_error(team: Team, number: int) -> AdapterVersion:
    version = adapter_version_get(team=team, number=number)
    if version is None:
        raise CommandError(f"team {team.slug} has no adapter version {number}")
    return version
