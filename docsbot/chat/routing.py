"""Which model answers a team's question: the served base, the team's promoted adapter, an A/B arm, or a
version pinned on the command line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from docsbot.chat.models import Conversation
from docsbot.core.errors import REFUSED, AppError, app_error
from docsbot.teams.models import Team
from serving.client import ChatBackend


@dataclass(frozen=True)
class ServedBase:
    name: str
    max_model_len: int | None


_served_bases: dict[str, ServedBase] = {}


def served_base(*, client: ChatBackend) -> ServedBase:
    """The endpoint's base model (DOCSBOT_SERVING_BASE_MODEL_NAME, else the model card without a parent)
    and its context length."""
    configured = settings.SERVING_BASE_MODEL_NAME
    if configured:
        return ServedBase(name=configured, max_model_len=None)
    key = getattr(client, "base_url", "") or str(id(client))
    if key not in _served_bases:
        cards = [card for card in client.list_models() if not card.get("parent")]
        if not cards:
            raise AppError("the serving endpoint lists no base model", code="unavailable")
        _served_bases[key] = ServedBase(name=cards[0]["id"], max_model_len=cards[0].get("max_model_len"))
    return _served_bases[key]


def team_model(*, team: Team, client: ChatBackend, conversation: Conversation | None = None,
               pinned_version: int | None = None) -> tuple[str, int | None, int | None]:
    """(model name for serving, adapter version, context length); from the team, never the client.

    While the team runs an A/B experiment, a conversation in the candidate's share (a stable hash of
    its id: it never switches) is answered by the candidate version (docsbot.adapters.experiments).
    ``pinned_version``: that version of the team's adapter answers, promoted or not (an admin trying
    a candidate from the command line)."""
    from docsbot.core.serving import team_adapter_name

    if pinned_version is not None:
        return _pinned_model(team=team, number=pinned_version, client=client)

    from docsbot.adapters.experiments import experiment_version_for
    from docsbot.adapters.selectors import adapter_version_get_promoted

    version = adapter_version_get_promoted(team=team)
    base = served_base(client=client)
    if version is not None:
        routed = experiment_version_for(team=team, live=version,
                                        conversation_key=str(conversation.public_id) if conversation else None)
        if routed is not None:
            name, candidate = routed
            return name, candidate.number, base.max_model_len
        return team_adapter_name(team.slug), version.number, base.max_model_len
    return base.name, None, base.max_model_len


def _pinned_model(*, team: Team, number: int, client: ChatBackend) -> tuple[str, int, int | None]:

    from docsbot.adapters.experiments import candidate_adapter_name, candidate_publish
    from docsbot.adapters.models import AdapterVersion
    from docsbot.core.serving import team_adapter_name

    version = AdapterVersion.objects.filter(team=team, number=number).select_related("team").first()
    if version is None:
        raise AppError(f"team {team.slug!r} has no adapter version {number}", code="not_found")
    base = served_base(client=client)
    if version.status == AdapterVersion.Status.PROMOTED:
        return team_adapter_name(team.slug), number, base.max_model_len
    try:
        candidate_publish(version=version)
    except REFUSED as exc:
        raise AppError(f"adapter version {number} cannot be served: {app_error(exc).message}", code="conflict") from None
    return candidate_adapter_name(team.slug, number), number, base.max_model_len


def default_client() -> Any:
    from docsbot.core.serving import serving_client

    return serving_client()
