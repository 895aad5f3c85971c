"""The chat endpoints the widget and API clients call, the widget script and its demo page.

`POST /api/v1/chat` and the feedback endpoint are plain async Django views rather than
django-ninja operations because they authenticate two ways (team token, or widget key
from an allowed Origin), answer CORS preflights, and stream Server-Sent Events.
"""
from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from docsbot.chat.feedback import feedback_set, source_click_record, source_link_follow
from docsbot.chat.generate import answer_events
from docsbot.chat.models import Conversation
from docsbot.chat.prepare import answer_prepare
from docsbot.chat.ratelimit import RateDecision, chat_budget_hit, client_address
from docsbot.core.errors import AppError
from docsbot.teams.models import Team, WidgetKey
from docsbot.teams.selectors import api_token_for, widget_key_get_active
from serving.client import ServingError

WIDGET_JS = Path(__file__).parent / "static" / "docsbot" / "widget.js"


@dataclass(frozen=True)
class Caller:
    team: Team
    widget_key: WidgetKey | None
    origin: str | None
    token_id: int | None = None

    @property
    def channel(self) -> str:
        return Conversation.Channel.WIDGET if self.widget_key else Conversation.Channel.API


def _widget_key_from(request: HttpRequest) -> str:
    return request.headers.get("X-Widget-Key") or request.GET.get("key", "")


def _authenticate(request: HttpRequest) -> Caller:
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        token = api_token_for(token=authorization[7:].strip())
        if token is None:
            raise AppError("invalid team token", code="unauthenticated")
        return Caller(team=token.team, widget_key=None, origin=None, token_id=token.pk)
    key = _widget_key_from(request)
    if not key:
        raise AppError("send a team token (Authorization: Bearer ...) or a widget key", code="unauthenticated")
    widget_key = widget_key_get_active(key=key)
    if widget_key is None:
        raise AppError("unknown or inactive widget key", code="unauthenticated")
    origin = request.headers.get("Origin")
    if not widget_key.allows_origin(origin):
        raise AppError(f"this widget key is not allowed from origin {origin or '(none)'}", code="forbidden")
    return Caller(team=widget_key.team, widget_key=widget_key, origin=origin)


def _with_cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    # Only an allowed origin is echoed, and never with credentials: the widget sends no cookies.
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
    response["Vary"] = "Origin"
    return response


def _allowed_origin(request: HttpRequest) -> str | None:
    """The request's Origin when the widget key it names allows it (for CORS on errors too)."""
    origin = request.headers.get("Origin")
    key = _widget_key_from(request)
    if not origin or not key:
        return None
    widget_key = widget_key_get_active(key=key)
    return origin if widget_key is not None and widget_key.allows_origin(origin) else None


def _over_budget(caller: Caller, request: HttpRequest) -> tuple[str, int] | None:
    """Count the question on its channel's budgets; once one is spent, the refusal and its Retry-After.

    The API counts per token; the widget per key and, first, per key and client address, so
    that one client (an Origin header is free outside a browser) spends its own share and no
    more, and no widget caller touches the API's or Slack's budgets."""
    decision: RateDecision
    if caller.widget_key is None:
        decision = chat_budget_hit("api", caller.token_id or 0)
        who = "this API token"
    else:
        client = client_address(request.META.get("REMOTE_ADDR"))
        decision = chat_budget_hit("widget_client", f"{caller.widget_key.pk}:{client}")
        who = "one client of this widget"
        if decision.allowed:
            decision = chat_budget_hit("widget", caller.widget_key.pk)
            who = "this widget"
    if decision.allowed:
        return None
    message = f"Too many questions: {who} may ask {decision.limit} per minute. Try again in {decision.retry_after} s."
    return message, decision.retry_after


def _error(message: str, status: int, origin: str | None, **headers: str) -> HttpResponse:
    response = JsonResponse({"detail": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return _with_cors(response, origin)


def _preflight(request: HttpRequest) -> HttpResponse:
    origin = _allowed_origin(request)
    if origin is None:
        return _error("origin not allowed for this widget key (pass ?key=WIDGET_KEY)", 403, None)
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, X-Widget-Key"
    response["Access-Control-Max-Age"] = "600"
    return _with_cors(response, origin)


def _has_nul(value: Any) -> bool:
    """A NUL character anywhere in a JSON value's strings (keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


NUL_REFUSED = "text must not contain NUL characters (\\u0000)"


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise AppError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise AppError("the body must be a JSON object")
    if _has_nul(body):  # PostgreSQL cannot store them: refused here, before any query
        raise AppError(NUL_REFUSED)
    return body


def _sse(event: dict[str, Any]) -> bytes:
    name = event.get("event", "message")
    payload = {k: v for k, v in event.items() if k != "event"}
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _sse_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield _sse(event)


def chat_endpoint(view: Callable[..., Awaitable[HttpResponse]]) -> Callable[..., Awaitable[HttpResponse]]:
    """What every widget/API chat endpoint does around its own work: answer the CORS preflight, take POST
    only, find the caller (team token, or widget key from an allowed Origin), turn a AppError into a JSON
    error and an unreachable serving endpoint into a 503, and add CORS headers for the allowed Origin to
    every answer. The view gets ``(request, caller, ...)``."""

    @csrf_exempt
    @functools.wraps(view)
    async def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            return await sync_to_async(_preflight)(request)
        if request.method != "POST":
            return _error("use POST", 405, None)
        origin = None
        try:
            caller = await sync_to_async(_authenticate)(request)
            origin = caller.origin
            response = await view(request, caller, *args, **kwargs)
        except AppError as exc:
            if origin is None:
                origin = await sync_to_async(_allowed_origin)(request)
            return _error(exc.message, exc.http_status, origin)
        except ServingError:  # serving unreachable while choosing the model
            return _error("the answering model is unavailable; try again shortly", 503, origin)
        return _with_cors(response, origin)

    return endpoint


@chat_endpoint
async def chat(request: HttpRequest, caller: Caller) -> HttpResponse:
    refused = await sync_to_async(_over_budget)(caller, request)
    if refused is not None:
        message, retry_after = refused
        return _error(message, 429, caller.origin, Retry_After=str(retry_after))
    body = _json_body(request)
    question, conversation_id = body.get("question"), body.get("conversation_id")
    if not isinstance(question, str):
        raise AppError("'question' (a string) is required")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise AppError("'conversation_id' must be a string")
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise AppError("'stream' must be true or false")
    prepared = await sync_to_async(answer_prepare)(team=caller.team, question=question,
                                                   conversation_id=conversation_id, channel=caller.channel)
    events = answer_events(prepared=prepared)
    if not stream:
        final: dict[str, Any] = {}
        async for event in events:
            final = event
        status = 200 if final.get("event") == "done" else 503
        return JsonResponse({k: v for k, v in final.items() if k != "event"}, status=status)
    response = StreamingHttpResponse(_sse_stream(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@chat_endpoint
async def feedback(request: HttpRequest, caller: Caller, message_id: int) -> HttpResponse:
    body = _json_body(request)
    rating = {"up": 1, "down": -1, 1: 1, -1: -1}.get(body.get("rating"))
    if rating is None:
        raise AppError("'rating' must be 'up' or 'down'")
    comment = body.get("comment") or ""
    if not isinstance(comment, str):
        raise AppError("'comment' must be a string")
    conversation_id = body.get("conversation_id")
    if caller.widget_key is not None and not isinstance(conversation_id, str):
        raise AppError("'conversation_id' is required with a widget key")
    record = await sync_to_async(feedback_set)(team=caller.team, message_id=message_id, rating=rating,
                                               comment=comment, conversation_id=conversation_id)
    return JsonResponse({"message_id": message_id, "rating": "up" if record.rating > 0 else "down",
                         "comment": record.comment})


@chat_endpoint
async def source_click(request: HttpRequest, caller: Caller, message_id: int) -> HttpResponse:
    """The widget says a user opened one of an answer's sources (``{"index": n, "conversation_id": ...}``)."""
    body = _json_body(request)
    conversation_id = body.get("conversation_id")
    if caller.widget_key is not None and not isinstance(conversation_id, str):
        raise AppError("'conversation_id' is required with a widget key")
    click = await sync_to_async(source_click_record)(team=caller.team, message_id=message_id, index=body.get("index"),
                                                     conversation_id=conversation_id)
    return JsonResponse({"message_id": message_id, "index": click.source_index})


@require_GET
def source_redirect(request: HttpRequest, token: str) -> HttpResponse:
    """A source link docsbot gave out where the chat tool opens links itself (Slack): record, then go there."""
    # Slack's link previews (Slackbot-LinkExpanding) and other crawlers fetch the link too: not a user's click.
    crawler = "bot" in request.headers.get("User-Agent", "").lower()
    try:
        url = source_link_follow(token, record=not crawler)
    except AppError as exc:
        return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain; charset=utf-8")
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _widget_source(mtime: float) -> bytes:
    return WIDGET_JS.read_bytes()


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_widget_source(WIDGET_JS.stat().st_mtime),
                            content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key", "")
    if not key:
        first = (WidgetKey.objects.filter(team__slug="demo", active=True).order_by("created").first())
        key = first.key if first else ""
    # ?docs_base=: where the team's uploaded documentation is published, as an embedding page would say
    response = render(request, "chat/demo.html", {"widget_key": key, "origin": f"{request.scheme}://{request.get_host()}",
                                                  "docs_base": request.GET.get("docs_base", "")})
    # The demo page itself runs no inline script and loads nothing remote.
    response["Content-Security-Policy"] = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                           "img-src 'self'; connect-src 'self'")
    return response
