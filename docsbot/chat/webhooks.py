"""Slack Events API, Slack slash commands, and generic Slack-compatible outgoing webhooks.

Slack requests are verified on the raw body before parsing, acknowledged at once,
and answered from a Celery task; retries are deduplicated on event_id.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from docsbot.chat import tasks
from docsbot.chat.feedback import is_web_address, tracked_url
from docsbot.chat.generate import answer_question
from docsbot.chat.models import Conversation, SlackInstallation
from docsbot.chat.ratelimit import chat_budget_hit, once, once_release
from docsbot.chat.slack import response_url_allowed, strip_mentions
from docsbot.chat.slack_signature import MAX_SKEW_SECONDS, slack_signature_valid
from docsbot.chat.views import NUL_REFUSED
from docsbot.core.errors import AppError
from docsbot.teams.models import Team

logger = logging.getLogger(__name__)


def _team(slug: str) -> Team | None:
    return Team.objects.filter(slug=slug).first()


def _verified(request: HttpRequest, team: Team | None) -> bool:
    return team is not None and slack_signature_valid(
        signing_secret=team.slack_signing_secret,
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
        body=request.body,
    )


def _rejected(request: HttpRequest, team: Team | None) -> JsonResponse:
    # Same answer for an unknown team and a bad signature: nothing to probe. A request signed with the team's
    # secret at a time too far from this server's says so: its sender holds the secret already.
    stamp = request.headers.get("X-Slack-Request-Timestamp") or ""
    if team is not None and stamp.isdigit() and slack_signature_valid(
            signing_secret=team.slack_signing_secret, timestamp=stamp, signature=request.headers.get("X-Slack-Signature"),
            body=request.body, now=int(stamp)):
        return JsonResponse({"detail": f"the request's timestamp is {abs(time.time() - int(stamp)):.0f} s from this "
                                       f"server's clock (at most {MAX_SKEW_SECONDS} s): a replay, or a clock to set"},
                            status=401)
    return JsonResponse({"detail": "invalid Slack signature"}, status=401)


@csrf_exempt
@require_POST
def slack_events(request: HttpRequest, team_slug: str) -> HttpResponse:
    team = _team(team_slug)
    if not _verified(request, team):
        return _rejected(request, team)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "the body must be JSON"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "the body must be a JSON object"}, status=400)
    if payload.get("type") == "url_verification":
        return JsonResponse({"challenge": payload.get("challenge", "")})
    if payload.get("type") != "event_callback":
        return JsonResponse({"ok": True, "ignored": "event type"})
    event = payload.get("event") or {}
    if not isinstance(event, dict):
        return JsonResponse({"ok": True, "ignored": "not a question"})
    # Signed by Slack, still of any shape: every field used below is a string or nothing.
    event = {key: value for key, value in event.items() if isinstance(value, str)}
    installation = SlackInstallation.objects.filter(team=team).first()
    is_question = event.get("type") == "app_mention" or (
        event.get("type") == "message" and event.get("channel_type") == "im")
    from_bot = bool(event.get("bot_id") or event.get("subtype")) or (
        installation is not None and event.get("user") == installation.bot_user_id)
    question = strip_mentions(event.get("text", ""))
    if not is_question or from_bot or not question:
        return JsonResponse({"ok": True, "ignored": "not a question"})
    if installation is None:
        logger.error("Slack event for team %s, which has no Slack installation (bot token)", team.slug)
        return JsonResponse({"ok": True, "ignored": "no Slack installation"})
    event_id = str(payload.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
    # The first delivery to arrive claims the event, whether it is the original or a retry.
    dedupe_key, dedupe_seconds = f"slack:{team.pk}:{event_id}", settings.SLACK_DEDUPE_SECONDS
    if not once(key=dedupe_key, seconds=dedupe_seconds):
        return JsonResponse({"ok": True, "duplicate": True})
    channel, thread_ts = event.get("channel", ""), event.get("thread_ts") or event.get("ts", "")
    decision = chat_budget_hit("slack", team.pk)
    if not decision.allowed:
        # Not answered, so not claimed: a retry of this event is asked again, not called a duplicate.
        once_release(key=dedupe_key)
        logger.warning("Slack question for team %s refused by the rate limit", team.slug)
        # The asker is told, in the thread, once per event (Slack's retries do not repeat it).
        refused_key = f"{dedupe_key}:refused"
        if once(key=refused_key, seconds=dedupe_seconds):
            try:
                tasks.slack_refuse_event.delay(team.pk, channel, thread_ts, decision.retry_after)
            except Exception:
                once_release(key=refused_key)
                raise
        return JsonResponse({"ok": True, "rate_limited": True, "retry_after": decision.retry_after})
    try:
        tasks.slack_answer_event.delay(team.pk, channel, thread_ts, question)
    except Exception:
        # Not queued: let Slack's retry claim the event again instead of being dropped as a duplicate.
        once_release(key=dedupe_key)
        raise
    return JsonResponse({"ok": True})


@csrf_exempt
@require_POST
def slack_command(request: HttpRequest, team_slug: str) -> HttpResponse:
    team = _team(team_slug)
    if not _verified(request, team):
        return _rejected(request, team)
    form = QueryDict(request.body)  # parsed only after the raw bytes were verified
    text, response_url = form.get("text", "").strip(), form.get("response_url", "")
    if not text:
        command = form.get("command", "").strip() or "/docsbot"  # the name the workspace gave the command
        return JsonResponse({"response_type": "ephemeral", "text": f"Usage: {command} your question"})
    if not response_url.startswith(("https://", "http://")):
        return JsonResponse({"detail": "response_url is missing"}, status=400)
    if not response_url_allowed(response_url):
        return JsonResponse({"detail": "response_url is not Slack's (DOCSBOT_SLACK_RESPONSE_URL_PREFIXES lists "
                                       "where answers may be posted)"}, status=400)
    # Slack never retries a slash command: the same signed request twice is a replay. The signature
    # covers timestamp and body, so it names the request; it is kept for as long as the timestamp
    # can still be accepted (the skew allowed either side of its own time).
    signature = hashlib.sha256(request.headers["X-Slack-Signature"].encode()).hexdigest()
    replay_key = f"slack:{team.pk}:command:{signature}"
    if not once(key=replay_key, seconds=2 * MAX_SKEW_SECONDS + 60):
        return JsonResponse({"response_type": "ephemeral", "text": "This request was already answered.",
                             "duplicate": True})
    decision = chat_budget_hit("slack", team.pk)
    if not decision.allowed:
        once_release(key=replay_key)  # refused, not answered: the same request may be sent again
        return JsonResponse({"response_type": "ephemeral",
                             "text": f"Too many questions right now; try again in {decision.retry_after} s."})
    try:
        tasks.slack_answer_command.delay(team.pk, response_url, text)
    except Exception:
        once_release(key=replay_key)  # not queued: the same request may be sent again
        raise
    return JsonResponse({"response_type": "ephemeral", "text": f"Looking that up: {text}"})


@csrf_exempt
@require_POST
def outgoing_webhook(request: HttpRequest, team_slug: str) -> HttpResponse:
    """Mattermost / Rocket.Chat outgoing webhook: answer in the response body as {"text": ...}."""
    team = _team(team_slug)
    if request.content_type == "application/json":
        try:
            form = json.loads(request.body)
        except ValueError:
            return JsonResponse({"detail": "the body must be JSON or a form"}, status=400)
        if not isinstance(form, dict):
            return JsonResponse({"detail": "the body must be a JSON object or a form"}, status=400)
    else:
        form = request.POST
    token = str(form.get("token", ""))
    if team is None or not team.webhook_token or not hmac.compare_digest(
            token.encode(), team.webhook_token.encode()):
        return JsonResponse({"detail": "invalid webhook token"}, status=401)
    text = str(form.get("text", "")).strip()
    trigger = str(form.get("trigger_word", "")).strip()
    if "\x00" in text or "\x00" in trigger:  # PostgreSQL cannot store them
        return JsonResponse({"detail": NUL_REFUSED, "text": NUL_REFUSED}, status=400)
    if trigger and text.startswith(trigger):
        text = text[len(trigger):].strip()
    if not text:
        return JsonResponse({"text": "Ask me a question about the docs."})
    decision = chat_budget_hit("webhook", team.pk)
    if not decision.allowed:
        response = JsonResponse({"text": f"Too many questions right now; try again in {decision.retry_after} s."},
                                status=429)
        response["Retry-After"] = str(decision.retry_after)
        return response
    from serving.client import ServingError

    try:
        answer = answer_question(team=team, question=text, channel=Conversation.Channel.WEBHOOK)
    except AppError as exc:
        return JsonResponse({"text": exc.message}, status=exc.http_status)
    except ServingError:
        return JsonResponse({"text": "The answering model is unavailable; try again shortly."}, status=503)
    lines = [answer.answer]
    if answer.sources:
        lines += ["", "Sources:"] + [_source_line(answer.message_id, s) for s in answer.sources]
    return JsonResponse({"text": "\n".join(lines), "username": "docsbot"})


def _source_line(message_id: int, source: dict) -> str:
    """A Markdown link for a source with a web address, its title alone for an uploaded file."""
    label = source["title"] + (f" — {source['section']}" if source["section"] else "")
    return f"- [{label}]({tracked_url(message_id=message_id, source=source)})" \
        if is_web_address(source.get("url") or "") else f"- {label}"
