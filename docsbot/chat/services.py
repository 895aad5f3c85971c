"""Answering questions: retrieve, build the prompt, generate, store, with sources.

`answer_question` is the blocking path (CLI, Slack, webhooks, non-streaming API);
`answer_events` streams the same answer for SSE. Both share `answer_prepare`
(everything before generation) and `answer_finish` (storing the reply).
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from docsbot.chat.errors import ChatError
from docsbot.chat.injection import injection_suspected
from docsbot.chat.models import Conversation, Message
from docsbot.chat.relevance import hit_similarities
from docsbot.chat.repetition import loop_start, without_repetition
from docsbot.chat.routing import default_client, team_model
from docsbot.chat.selectors import conversation_get, conversation_history
from docsbot.core.prompts import NO_ANSWER, ContextChunk, build_messages, without_unknown_citations
from docsbot.teams.models import Team

logger = logging.getLogger(__name__)

UNAVAILABLE = "Sorry, the answering model is unavailable right now. Please try again in a moment."


@dataclass
class Prepared:
    team_slug: str
    conversation: Conversation
    question_message: Message
    messages: list[dict[str, str]]
    sources: list[dict[str, Any]]
    relevant: bool
    fallback_text: str
    model: str
    max_tokens: int
    adapter_version: int | None
    top_score: float | None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    answer: str
    sources: list[dict[str, Any]]
    conversation_id: str
    message_id: int
    adapter_version: int | None
    no_relevant_docs: bool
    failed: bool
    timings: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "sources": self.sources, "conversation_id": self.conversation_id,
                "message_id": self.message_id, "adapter_version": self.adapter_version,
                "no_relevant_docs": self.no_relevant_docs}


# --- preparing ------------------------------------------------------------------------------

def _source(hit: Any, number: int, similarity: float) -> dict[str, Any]:
    return {"index": number, "title": hit.title, "section": hit.section, "url": hit.url,
            "score": round(similarity, 3), "chunk_id": hit.chunk_id}


def _fallback_text(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return f"{NO_ANSWER} No documents have been indexed for this team yet."
    lines = [f"{NO_ANSWER} The closest sections are:"]
    for source in sources:
        label = source["title"] + (f" — {source['section']}" if source["section"] else "")
        lines.append(f"- [{label}]({source['url']})" if source["url"] else f"- {label}")
    return "\n".join(lines)


def _conversation_for(*, team: Team, conversation_id: str | None, channel: str,
                      external_id: str = "") -> Conversation:
    if conversation_id:
        conversation = conversation_get(team=team, public_id=conversation_id)
        if conversation is None:
            raise ChatError("unknown conversation_id for this team", status=404)
        return conversation
    if external_id:
        existing = Conversation.objects.filter(team=team, external_id=external_id).first()
        if existing is not None:
            return existing
    return Conversation.objects.create(team=team, channel=channel, external_id=external_id)


# A conservative characters-per-token estimate: the web process has no tokenizer.
CHARS_PER_TOKEN = 1.6
MIN_ANSWER_TOKENS = 48


def fit_prompt(*, team_name: str, question: str, contexts: list[ContextChunk], history: list[dict[str, str]],
               max_model_len: int | None) -> tuple[list[dict[str, str]], int]:
    """Messages and max_tokens that fit the model's context: fewer, then shorter, documents and turns."""
    max_tokens = settings.CHAT_MAX_TOKENS

    def build() -> list[dict[str, str]]:
        return build_messages(team=team_name, question=question, contexts=contexts, history=history)

    messages = build()
    if not max_model_len:
        return messages, max_tokens

    def estimate(items: list[dict[str, str]]) -> int:
        return int(sum(len(m["content"]) + 16 for m in items) / CHARS_PER_TOKEN)

    while estimate(messages) + MIN_ANSWER_TOKENS > max_model_len:
        if len(contexts) > 1:
            contexts = contexts[:-1]
        elif history:
            history = history[2:]
        elif contexts and len(contexts[0].text) > 200:
            chunk = contexts[0]
            contexts = [ContextChunk(title=chunk.title, section=chunk.section, url=chunk.url,
                                     text=chunk.text[: int(len(chunk.text) * 0.7)])]
        else:
            break
        messages = build()
    # Never more than configured; a context squeezed below the floor still gets the floor.
    return messages, min(max_tokens, max(MIN_ANSWER_TOKENS // 2, max_model_len - estimate(messages)))


def answer_prepare(*, team: Team, question: str, conversation_id: str | None = None,
                   channel: str = Conversation.Channel.API, external_id: str = "",
                   client: Any = None, pinned_version: int | None = None) -> Prepared:
    """Store the question, retrieve, decide whether the docs cover it, and build the prompt
    (``pinned_version``: see team_model)."""
    from docsbot.documents.selectors import chunk_search

    question = (question or "").strip()
    if not question:
        raise ChatError("question must not be empty")
    if len(question) > settings.CHAT_MAX_QUESTION_CHARS:
        raise ChatError(f"question is longer than {settings.CHAT_MAX_QUESTION_CHARS} characters")
    if conversation_id:
        try:
            uuid.UUID(str(conversation_id))
        except ValueError:
            raise ChatError("conversation_id must be a UUID") from None
    timings: dict[str, float] = {}
    conversation = _conversation_for(team=team, conversation_id=conversation_id, channel=channel,
                                     external_id=external_id)
    history = conversation_history(conversation=conversation,
                                   limit=settings.CHAT_HISTORY_MESSAGES)

    started = time.perf_counter()
    # A follow-up ("and on Windows?") is retrieved together with the question before it.
    previous = [turn["content"] for turn in history if turn["role"] == "user"][-1:]
    query = " ".join([*previous, question])
    hits = chunk_search(team=team, query=query, k=settings.CHAT_TOP_K)
    similarities = hit_similarities(query=query, hits=hits)
    timings["retrieval_ms"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    scored = sorted(zip(similarities, range(len(hits))), reverse=True)
    top_score = scored[0][0] if scored else None
    relevant_hits = [hits[i] for score, i in scored if score >= settings.CHAT_MIN_SCORE]
    closest = relevant_hits or [hits[i] for _, i in scored[:3]]
    sources = [_source(hit, number, similarities[hits.index(hit)])
               for number, hit in enumerate(closest, start=1)]
    relevant = bool(relevant_hits)
    # The model is chosen before the question is stored: a serving outage fails the request
    # as a whole instead of leaving a question without an answer.
    model, adapter_version, max_model_len, messages, max_tokens = "", None, None, [], 0
    if relevant:
        model, adapter_version, max_model_len = team_model(team=team, client=client or default_client(),
                                                           conversation=conversation, pinned_version=pinned_version)
        contexts = [ContextChunk(title=hit.title, section=hit.section, text=hit.text, url=hit.url)
                    for hit in relevant_hits]
        messages, max_tokens = fit_prompt(team_name=team.name or team.slug, question=question,
                                          contexts=contexts, history=history, max_model_len=max_model_len)
    timings["prompt_ms"] = (time.perf_counter() - started) * 1000

    suspicious_chunks = [hit.chunk_id for hit in relevant_hits if injection_suspected(hit.text)]
    suspicious = injection_suspected(question) or bool(suspicious_chunks)
    question_message = Message.objects.create(team=team, conversation=conversation,
                                              role=Message.Role.USER, content=question,
                                              injection_suspected=suspicious)
    if suspicious:
        logger.warning("prompt injection suspected: team=%s message=%s in_question=%s chunks=%s",
                       team.slug, question_message.pk, injection_suspected(question), suspicious_chunks)
    return Prepared(team_slug=team.slug, conversation=conversation, question_message=question_message,
                    messages=messages, sources=sources, relevant=relevant,
                    fallback_text="" if relevant else _fallback_text(sources), model=model,
                    max_tokens=max_tokens,
                    adapter_version=adapter_version, top_score=top_score, timings=timings)


def answer_finish(*, prepared: Prepared, text: str, failed: bool = False) -> Answer:
    if prepared.relevant:
        text = without_unknown_citations(text, len(prepared.sources))
    text = text.strip() or NO_ANSWER
    reply = Message.objects.create(
        team_id=prepared.question_message.team_id, conversation=prepared.conversation,
        role=Message.Role.ASSISTANT, content=text, reply_to=prepared.question_message,
        sources=prepared.sources, no_relevant_docs=not prepared.relevant, failed=failed,
        model_name=prepared.model, adapter_version=prepared.adapter_version,
        top_score=prepared.top_score, timings={k: round(v, 1) for k, v in prepared.timings.items()},
    )
    return Answer(answer=text, sources=prepared.sources, conversation_id=str(prepared.conversation.public_id),
                  message_id=reply.pk, adapter_version=prepared.adapter_version,
                  no_relevant_docs=not prepared.relevant, failed=failed, timings=dict(reply.timings))


# vLLM (and docsbot's server) name the real token counts when a prompt overflows the context.
# The prompt's token count in a context-length 400: "(N in the messages" (older vLLM and embedded server),
# "your request has N input tokens" / "your prompt contains N input tokens" (vLLM 0.34 wording).
_CONTEXT_OVERFLOW = re.compile(r"maximum context length is (\d+) tokens.*?(?:\((\d+) in the messages|"
                               r"(?:your request has|your prompt contains) (\d+) input tokens)", re.DOTALL)


def answer_budget_after(error: Exception) -> int | None:
    """max_tokens that fits, read from a context-length 400; None for any other error.

    fit_prompt estimates tokens from characters; when the real count is a little higher,
    the server's error says by how much, and one retry with the remaining room succeeds.
    """
    if getattr(error, "status", None) != 400:
        return None
    match = _CONTEXT_OVERFLOW.search(getattr(error, "message", ""))
    if match is None:
        return None
    room = int(match.group(1)) - int(match.group(2) or match.group(3))
    return room if room >= MIN_ANSWER_TOKENS // 4 else None


def _generation_kwargs(prepared: Prepared) -> dict[str, Any]:
    return {"model": prepared.model, "messages": prepared.messages,
            "max_tokens": prepared.max_tokens, "temperature": 0.0}


# --- answering -------------------------------------------------------------------------------

def answer_question(*, team: Team, question: str, conversation_id: str | None = None,
                    channel: str = Conversation.Channel.API, external_id: str = "",
                    client: Any = None, pinned_version: int | None = None) -> Answer:
    """Answer one question, blocking until the whole answer is stored."""
    from serving.client import ServingError

    prepared = answer_prepare(team=team, question=question, conversation_id=conversation_id,
                              channel=channel, external_id=external_id, client=client,
                              pinned_version=pinned_version)
    if not prepared.relevant:
        return answer_finish(prepared=prepared, text=prepared.fallback_text)
    client = client or default_client()
    started = time.perf_counter()
    try:
        try:
            text = _until_repetition(client.chat_stream(**_generation_kwargs(prepared)))
        except ServingError as exc:
            budget = answer_budget_after(exc)
            if budget is None:
                raise
            prepared.max_tokens = budget
            text = _until_repetition(client.chat_stream(**_generation_kwargs(prepared)))
    except ServingError as exc:
        logger.error("serving failed for team=%s: %s", team.slug, exc)
        return answer_finish(prepared=prepared, text=UNAVAILABLE, failed=True)
    prepared.timings["generation_ms"] = (time.perf_counter() - started) * 1000
    return answer_finish(prepared=prepared, text=text)


def _until_repetition(stream: Generator[str, None, None]) -> str:
    """The streamed answer, closed as soon as it starts repeating itself (the server then aborts)."""
    parts: list[str] = []
    for delta in stream:
        parts.append(delta)
        if _repeats(delta, parts):
            stream.close()
            break
    return without_repetition("".join(parts))


def _repeats(delta: str, parts: list[str]) -> bool:
    # A loop can only complete where a word ends (answers are short: re-reading them is cheap).
    return any(mark.isspace() or mark in ".,;!?" for mark in delta) and loop_start("".join(parts)) is not None


# Generation tasks outlive a disconnected client, so every accepted question gets its answer stored.
_running: set[asyncio.Task] = set()


async def answer_events(*, prepared: Prepared,
                        client_factory: Callable[[], Any] = default_client) -> AsyncIterator[dict[str, Any]]:
    """Yield {"event": "token", "text"} deltas, then {"event": "done", **answer} (or "error")."""
    if not prepared.relevant:
        yield {"event": "token", "text": prepared.fallback_text}
        answer = await sync_to_async(answer_finish)(prepared=prepared, text=prepared.fallback_text)
        yield {"event": "done", **answer.as_dict()}
        return
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(_generate(client_factory(), prepared, queue))
    _running.add(task)
    task.add_done_callback(_running.discard)
    while True:
        event = await queue.get()
        yield event
        if event["event"] in ("done", "error"):
            return


async def _generate(client: Any, prepared: Prepared, queue: asyncio.Queue) -> None:
    from serving.client import ServingError

    parts: list[str] = []
    started = time.perf_counter()
    try:
        for attempt in range(2):
            try:
                stream = client.achat_stream(**_generation_kwargs(prepared))
                async for delta in stream:
                    if not parts:
                        prepared.timings["ttft_ms"] = (time.perf_counter() - started) * 1000
                    parts.append(delta)
                    queue.put_nowait({"event": "token", "text": delta})
                    if _repeats(delta, parts):
                        await stream.aclose()
                        break
                break
            except ServingError as exc:
                budget = answer_budget_after(exc) if attempt == 0 and not parts else None
                if budget is None:
                    raise
                prepared.max_tokens = budget
    except (ServingError, OSError) as exc:
        logger.error("serving failed for team=%s: %s", prepared.team_slug, exc)
        answer = await sync_to_async(answer_finish)(prepared=prepared, text=UNAVAILABLE, failed=True)
        queue.put_nowait({"event": "error", "detail": UNAVAILABLE, **answer.as_dict()})
        return
    except BaseException:
        # Whatever stops generation, the question keeps a stored (partial) answer.
        await asyncio.shield(sync_to_async(answer_finish)(prepared=prepared, text="".join(parts) or UNAVAILABLE,
                                                          failed=True))
        raise
    prepared.timings["generation_ms"] = (time.perf_counter() - started) * 1000
    answer = await sync_to_async(answer_finish)(prepared=prepared, text=without_repetition("".join(parts)))
    queue.put_nowait({"event": "done", **answer.as_dict()})
