"""Answering in Slack: format an answer with its sources and post it back.

Called from Celery tasks after the webhook has acknowledged Slack's request.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx
from django.conf import settings

from docsbot.chat.feedback import is_web_address, tracked_url
from docsbot.chat.generate import Answer, answer_question
from docsbot.chat.models import Conversation, SlackInstallation
from docsbot.teams.models import Team

logger = logging.getLogger(__name__)
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class SlackPostError(Exception):
    pass


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_mentions(text: str) -> str:
    return MENTION.sub("", text or "").strip()


def _markdown_links_to_slack(text: str) -> str:
    # Answers are Markdown; Slack's mrkdwn writes links as <url|label>.
    return re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)",
                  lambda m: f"<{m.group(2)}|{m.group(1)}>", text)


def slack_text(answer: Answer) -> str:
    text = _markdown_links_to_slack(slack_escape(answer.answer))
    if not answer.sources:
        return text
    lines = [text, "", "*Sources:*"]
    for source in answer.sources:
        label = slack_escape(source["title"] + (f" — {source['section']}" if source["section"] else ""))
        url = tracked_url(message_id=answer.message_id, source=source)
        lines.append(f"• <{url}|{label}>" if is_web_address(url) else f"• {label}")
    return "\n".join(lines)


def _post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    last: Exception | None = None
    for attempt in range(3):
        try:
            response = httpx.post(url, json=payload, headers=headers or {}, timeout=10)
            if response.status_code < 500:
                response.raise_for_status()
                return response.json() if "json" in response.headers.get("content-type", "") else {}
            last = SlackPostError(f"{url}: HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5 * 2 ** attempt)
    raise SlackPostError(str(last))


def slack_answer_event(*, team_id: int, channel: str, thread_ts: str, text: str) -> Answer:
    """Answer an app mention or DM in its thread with chat.postMessage."""
    team = Team.objects.get(pk=team_id)
    installation = SlackInstallation.objects.get(team=team)
    answer = answer_question(team=team, question=strip_mentions(text), channel=Conversation.Channel.SLACK,
                             external_id=f"slack:{channel}:{thread_ts}")
    result = _post(f"{settings.SLACK_API_URL.rstrip('/')}/chat.postMessage",
                   {"channel": channel, "thread_ts": thread_ts, "text": slack_text(answer),
                    "unfurl_links": False, "unfurl_media": False},
                   {"Authorization": f"Bearer {installation.bot_token}"})
    if not result.get("ok", False):
        raise SlackPostError(f"chat.postMessage failed: {result.get('error', 'unknown error')}")
    return answer


def slack_refuse_event(*, team_id: int, channel: str, thread_ts: str, retry_after: int) -> None:
    """Tell a mention or DM refused by the team's Slack budget so, in its thread."""
    installation = SlackInstallation.objects.get(team_id=team_id)
    result = _post(f"{settings.SLACK_API_URL.rstrip('/')}/chat.postMessage",
                   {"channel": channel, "thread_ts": thread_ts,
                    "text": f"Too many questions right now; ask again in {retry_after} s."},
                   {"Authorization": f"Bearer {installation.bot_token}"})
    if not result.get("ok", False):
        raise SlackPostError(f"chat.postMessage failed: {result.get('error', 'unknown error')}")


def response_url_allowed(url: str) -> bool:
    """Whether a slash command's response_url is Slack's (``DOCSBOT_SLACK_RESPONSE_URL_PREFIXES``)."""
    return any(url.startswith(prefix) for prefix in settings.SLACK_RESPONSE_URL_PREFIXES if prefix)


def slack_answer_command(*, team_id: int, response_url: str, text: str) -> Answer:
    """Answer a slash command through its response_url."""
    if not response_url_allowed(response_url):  # checked at the webhook too; a queued task is checked again
        raise SlackPostError(f"response_url {response_url[:100]!r} is not Slack's: not answered")
    team = Team.objects.get(pk=team_id)
    answer = answer_question(team=team, question=text, channel=Conversation.Channel.SLACK)
    _post(response_url, {"response_type": "in_channel", "replace_original": False, "text": slack_text(answer)})
    return answer


def slack_installation_set(*, team: Team, bot_token: str, bot_user_id: str = ""):
    installation, _ = SlackInstallation.objects.update_or_create(
        team=team, defaults={"bot_token": bot_token, "bot_user_id": bot_user_id})
    return installation
