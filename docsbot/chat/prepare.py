"""Preparing an answer: the conversation, retrieval, the relevance threshold, the adapter version
(chat.routing) and a prompt that fits the model's context; everything before generation.
``docsbot.chat.generate`` generates and stores the answer; ``docsbot.chat.feedback`` takes what users
say about it.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from docsbot.chat.feedback import is_web_address
from docsbot.chat.injection import injection_suspected
from docsbot.chat.models import Conversation, Message
from docsbot.chat.relevance import hit_similarities, prompt_hits
from docsbot.chat.routing import default_client, team_model
from docsbot.chat.selectors import conversation_get, conversation_history
from docsbot.core.errors import AppError
from docsbot.core.prompts import NO_ANSWER, ContextChunk, build_messages
from docsbot.documents.excerpts import prompt_contexts
from docsbot.teams.models import Team
from serving.client import ChatBackend

logger = logging.getLogger(__name__)


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



def _source(hit: Any, number: int, similarity: float) -> dict[str, Any]:
    return {"index": number, "title": hit.title, "section": hit.section, "url": hit.url,
            "score": round(similarity, 3), "chunk_id": hit.chunk_id}


# The reply's first sentence when the model wrote an answer its documents do not say (docsbot.chat.support):
# the sections may well answer the question; the model could not.
NOT_FOUND = "I could not find an answer to this in the documentation."


def fallback_text(sources: list[dict[str, Any]], *, lead: str = NO_ANSWER) -> str:
    """The reply when the docs do not cover a question (or no answer they support was found): ``lead``, and the
    closest sections."""
    if not sources:
        return f"{lead} No documents have been indexed for this team yet."
    lines = [f"{lead} The closest sections are:"]
    for source in sources:
        label = source["title"] + (f" — {source['section']}" if source["section"] else "")
        lines.append(f"- [{label}]({source['url']})" if is_web_address(source["url"] or "") else f"- {label}")
    return "\n".join(lines)


def _conversation_for(*, team: Team, conversation_id: str | None, channel: str,
                      external_id: str = "") -> Conversation:
    if conversation_id:
        conversation = conversation_get(team=team, public_id=conversation_id)
        if conversation is None:
            raise AppError("unknown conversation_id for this team", code="not_found")
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
            contexts = [replace(chunk, text=chunk.text[: int(len(chunk.text) * 0.7)])]
        else:
            break
        messages = build()
    # Never more than configured; a context squeezed below the floor still gets the floor.
    return messages, min(max_tokens, max(MIN_ANSWER_TOKENS // 2, max_model_len - estimate(messages)))


FOLLOW_UP_OPENERS = re.compile(r"(?i)^\s*(and|but|also|so|then|what about|how about|what if)\b")
# Words that point back at what the conversation was about (English: the language of the prompts).
BACK_REFERENCES = frozenset(["it", "its", "it's", "that", "this", "those", "these", "they", "them", "their", "there", "one", "ones"])
FOLLOW_UP_MAX_WORDS = 8


def is_follow_up(question: str) -> bool:
    """A short question that opens by continuing the last one or points back at it ("Does it work on
    Windows?"), which its own words cannot retrieve."""
    words = re.findall(r"[\w']+", question.lower())
    return bool(FOLLOW_UP_OPENERS.match(question)) or (
        len(words) <= FOLLOW_UP_MAX_WORDS and any(word in BACK_REFERENCES for word in words))


def answer_prepare(*, team: Team, question: str, conversation_id: str | None = None,
                   channel: str = Conversation.Channel.API, external_id: str = "",
                   client: ChatBackend | None = None, pinned_version: int | None = None) -> Prepared:
    """Store the question, retrieve, decide whether the docs cover it, and build the prompt
    (``pinned_version``: see team_model)."""
    from docsbot.documents.selectors import chunk_search

    question = (question or "").strip()
    if not question:
        raise AppError("question must not be empty")
    if len(question) > settings.CHAT_MAX_QUESTION_CHARS:
        raise AppError(f"question is longer than {settings.CHAT_MAX_QUESTION_CHARS} characters")
    if conversation_id:
        try:
            uuid.UUID(str(conversation_id))
        except ValueError:
            raise AppError("conversation_id must be a UUID") from None
    timings: dict[str, float] = {}
    conversation = _conversation_for(team=team, conversation_id=conversation_id, channel=channel,
                                     external_id=external_id)
    history = conversation_history(conversation=conversation,
                                   limit=settings.CHAT_HISTORY_MESSAGES)

    started = time.perf_counter()
    # Each question is retrieved on its own words: joined to the one before, a new topic came back with the
    # previous topic's sections. A follow-up ("and how long does it take?") and a question that finds nothing
    # alone are retrieved together with the question before it.
    query = question
    hits = chunk_search(team=team, query=query, k=settings.CHAT_TOP_K)
    similarities = hit_similarities(query=query, hits=hits)
    previous = [turn["content"] for turn in history if turn["role"] == "user"][-1:]
    if previous and (is_follow_up(question) or max(similarities, default=0.0) < settings.CHAT_MIN_SCORE):
        query = " ".join([*previous, question])
        hits = chunk_search(team=team, query=query, k=settings.CHAT_TOP_K)
        similarities = hit_similarities(query=query, hits=hits)
    timings["retrieval_ms"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    top_score = max(similarities, default=None)
    relevant_hits = prompt_hits(hits, similarities, min_score=settings.CHAT_MIN_SCORE,
                                margin=settings.CHAT_CONTEXT_MARGIN)
    closest = relevant_hits or prompt_hits(hits, similarities, min_score=float("-inf"), margin=0)[:3]
    sources = [_source(hit, number, similarities[hits.index(hit)])
               for number, hit in enumerate(closest, start=1)]
    relevant = bool(relevant_hits)
    # The model is chosen before the question is stored: a serving outage fails the request
    # as a whole instead of leaving a question without an answer.
    model, adapter_version, max_model_len, messages, max_tokens = "", None, None, [], 0
    if relevant:
        model, adapter_version, max_model_len = team_model(team=team, client=client or default_client(),
                                                           conversation=conversation, pinned_version=pinned_version)
        # Excerpts for what was retrieved for: a follow-up's sentences are chosen with the question before it.
        contexts = prompt_contexts(query, [hit.context() for hit in relevant_hits])
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
                    fallback_text="" if relevant else fallback_text(sources), model=model,
                    max_tokens=max_tokens,
                    adapter_version=adapter_version, top_score=top_score, timings=timings)

