"""Generating and storing an answer prepared by ``docsbot.chat.prepare``, with its sources.

`answer_question` is the blocking path (CLI, Slack, webhooks, non-streaming API); `answer_events`
streams the same answer for SSE. Both store the reply with `answer_finish`, retry once with a
smaller answer budget when the server refuses the prompt as too long, stop an answer that starts
repeating itself, and ask once more, opened with a word, when the answer has none ("[1]"). An answer
its documents do not say (docsbot.chat.support) is withheld: the reply says no answer was found in the
documentation and lists the closest sections.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from docsbot.chat.models import Conversation, Message
from docsbot.chat.prepare import (
    MIN_ANSWER_TOKENS,
    NOT_FOUND,
    Prepared,
    answer_prepare,
    fallback_text,
)
from docsbot.chat.repetition import loop_start, without_repetition
from docsbot.chat.routing import default_client
from docsbot.chat.support import HOLD, SHOW, STOP, DocumentSupport, answer_support
from docsbot.chat.wordless import is_wordless, worded_opening
from docsbot.core.prompts import (
    NO_ANSWER,
    cited_where_quoted,
    cited_where_uncited,
    prompt_documents,
    without_prompt_markup,
    without_unknown_citations,
)
from docsbot.teams.models import Team
from serving.client import ChatBackend

logger = logging.getLogger(__name__)

UNAVAILABLE = "Sorry, the answering model is unavailable right now. Please try again in a moment."


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


def answer_finish(*, prepared: Prepared, text: str, failed: bool = False) -> Answer:
    support, withheld = None, ""
    if prepared.relevant:
        prompt = prepared.messages[-1]["content"]
        text = as_shown(text, prompt=prompt, documents=len(prepared.sources))
        if not failed:
            support = shown_support(text, prompt=prompt, question=prepared.question_message.content)
            if is_withheld(support):
                logger.info("team=%s: answer withheld, its documents hold %.0f%% of it", prepared.team_slug,
                            100 * support)
                text, withheld = fallback_text(prepared.sources, lead=NOT_FOUND), text
    text = text.strip() or NO_ANSWER
    not_covered = not prepared.relevant or bool(withheld)
    reply = Message.objects.create(
        team_id=prepared.question_message.team_id, conversation=prepared.conversation,
        role=Message.Role.ASSISTANT, content=text, reply_to=prepared.question_message,
        sources=prepared.sources, no_relevant_docs=not_covered, failed=failed, support=support, withheld=withheld,
        model_name=prepared.model, adapter_version=prepared.adapter_version,
        top_score=prepared.top_score, timings={k: round(v, 1) for k, v in prepared.timings.items()},
    )
    return Answer(answer=text, sources=prepared.sources, conversation_id=str(prepared.conversation.public_id),
                  message_id=reply.pk, adapter_version=prepared.adapter_version,
                  no_relevant_docs=not_covered, failed=failed, timings=dict(reply.timings))


def as_shown(text: str, *, prompt: str, documents: int) -> str:
    """The model's answer as users see it: citation markers that name no document dropped, each quote citing
    the document it quotes word for word, and a quote without any marker given one."""
    quoted = prompt_documents(prompt)
    text = without_unknown_citations(without_prompt_markup(text), documents)
    return cited_where_uncited(cited_where_quoted(text, quoted), quoted)


def shown_support(text: str, *, prompt: str, question: str) -> float | None:
    """How much of an answer as shown its prompt's documents hold (docsbot.chat.support)."""
    return answer_support(text, documents=prompt_documents(prompt).values(), question=question)


def writing_verdict(prepared: Prepared) -> Callable[[str], str] | None:
    """SHOW, HOLD or STOP for the answer being written for ``prepared``, from its text so far
    (docsbot.chat.support.DocumentSupport.verdict, its documents read once): an answer its documents do not
    say is neither shown nor written on. None when the check is off (DOCSBOT_CHAT_MIN_SUPPORT 0)."""
    if settings.CHAT_MIN_SUPPORT <= 0:
        return None
    support = DocumentSupport(prompt_documents(prepared.messages[-1]["content"]).values(),
                              prepared.question_message.content)
    return lambda text: support.verdict(text, threshold=settings.CHAT_MIN_SUPPORT)


def is_withheld(support: float | None) -> bool:
    """Whether an answer of this support is withheld: its documents do not say it (DOCSBOT_CHAT_MIN_SUPPORT)."""
    return support is not None and support < settings.CHAT_MIN_SUPPORT


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
                    client: ChatBackend | None = None, pinned_version: int | None = None) -> Answer:
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
        for attempt in range(2):
            try:
                text = _until_repetition(client.chat_stream(**_generation_kwargs(prepared)),
                                         verdict=writing_verdict(prepared))
                break
            except ServingError as exc:
                if not _fits_after_overflow(prepared, exc, first_try=attempt == 0):
                    raise
        if is_wordless(text) and (opening := _word_to_open(client, prepared)) is not None:
            text = _until_repetition(client.chat_stream(**_opened_kwargs(prepared, opening)), opening=opening,
                                     verdict=writing_verdict(prepared))
    except ServingError as exc:
        logger.error("serving failed for team=%s: %s", team.slug, exc)
        return answer_finish(prepared=prepared, text=UNAVAILABLE, failed=True)
    prepared.timings["generation_ms"] = (time.perf_counter() - started) * 1000
    return answer_finish(prepared=prepared, text=text)


def _fits_after_overflow(prepared: Prepared, exc: Exception, *, first_try: bool) -> bool:
    """After the server refused the prompt as too long for its context: lower the answer's token
    budget to what fits and say to try again (once, and only before any text came)."""
    budget = answer_budget_after(exc) if first_try else None
    if budget is None:
        return False
    prepared.max_tokens = budget
    return True


def _word_to_open(client: ChatBackend, prepared: Prepared) -> str | None:
    """The likeliest first token of this answer that starts a word (see docsbot.chat.wordless)."""
    opening = worded_opening(client.first_tokens(model=prepared.model, messages=prepared.messages))
    logger.info("team=%s: the answer had no words; %s", prepared.team_slug,
                f"asking again opened with {opening!r}" if opening else "no likely first token starts a word")
    return opening


def _opened_kwargs(prepared: Prepared, opening: str) -> dict[str, Any]:
    return {**_generation_kwargs(prepared), "opening": opening, "max_tokens": max(1, prepared.max_tokens - 1)}


def _until_repetition(stream: Generator[str, None, None], *, opening: str = "",
                      verdict: Callable[[str], str] | None = None) -> str:
    """The streamed answer (after ``opening``), closed as soon as it starts repeating itself, or as soon as
    ``verdict`` says its start is not its documents' (the server then aborts)."""
    parts: list[str] = [opening] if opening else []
    decided = verdict is None
    for delta in stream:
        parts.append(delta)
        if not decided and _ends_word(delta):
            decided = (judged := verdict("".join(parts))) == SHOW
            if judged == STOP:
                stream.close()
                break
        if _repeats(delta, parts):
            stream.close()
            break
    return without_repetition("".join(parts))


def _ends_word(delta: str) -> bool:
    return any(mark.isspace() or mark in ".,;!?" for mark in delta)


def _repeats(delta: str, parts: list[str]) -> bool:
    # A loop can only complete where a word ends (answers are short: re-reading them is cheap).
    return _ends_word(delta) and loop_start("".join(parts)) is not None


# Generation tasks outlive a disconnected client, so every accepted question gets its answer stored.
_running: set[asyncio.Task] = set()


async def answer_events(*, prepared: Prepared,
                        client_factory: Callable[[], ChatBackend] = default_client) -> AsyncIterator[dict[str, Any]]:
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


@dataclass
class _Shown:
    """A streamed answer and how much of it the client has been sent: a start without words ("[1]") is held
    back until words come, so an answer asked again never shows the wordless one first; and a start its
    documents may not say is held back until ``verdict`` tells (docsbot.chat.support), so an answer that will
    be withheld is never shown."""
    queue: asyncio.Queue
    prepared: Prepared
    started: float
    parts: list[str] = field(default_factory=list)
    sent: int = 0
    verdict: Callable[[str], str] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, delta: str) -> bool:
        """Take one delta and send what can be shown; True to stop writing: the answer has started repeating
        itself, or its start is not its documents'."""
        if not self.parts:
            self.prepared.timings["ttft_ms"] = (time.perf_counter() - self.started) * 1000
        self.parts.append(delta)
        if not self.sent:  # once words were sent, the rest goes as it comes
            if is_wordless(self.text):
                return _repeats(delta, self.parts)
            judged = SHOW if self.verdict is None else self.verdict(self.text) if _ends_word(delta) else HOLD
            if judged == STOP:
                return True
            if judged == HOLD:
                return _repeats(delta, self.parts)
        self.send_rest()
        return _repeats(delta, self.parts)

    def finish(self) -> None:
        """At the end of writing: send what was held back, unless the answer will be withheld."""
        if self.sent or self.verdict is None or not is_withheld(
                shown_support(self.text, prompt=self.prepared.messages[-1]["content"],
                              question=self.prepared.question_message.content)):
            self.send_rest()

    def send_rest(self) -> None:
        if rest := self.text[self.sent:]:
            self.queue.put_nowait({"event": "token", "text": rest})
            self.sent += len(rest)


async def _shown_until_repetition(stream: AsyncGenerator[str, None], shown: _Shown) -> None:
    async for delta in stream:
        if shown.add(delta):
            await stream.aclose()
            break


async def _generate(client: ChatBackend, prepared: Prepared, queue: asyncio.Queue) -> None:
    from serving.client import ServingError

    started = time.perf_counter()
    shown = _Shown(queue, prepared, started, verdict=writing_verdict(prepared))
    try:
        for attempt in range(2):
            try:
                await _shown_until_repetition(client.achat_stream(**_generation_kwargs(prepared)), shown)
                break
            except ServingError as exc:
                if not _fits_after_overflow(prepared, exc, first_try=attempt == 0 and not shown.parts):
                    raise
        if is_wordless(shown.text) and (opening := await asyncio.to_thread(_word_to_open, client, prepared)):
            shown = _Shown(queue, prepared, started, parts=[opening], verdict=writing_verdict(prepared))
            await _shown_until_repetition(client.achat_stream(**_opened_kwargs(prepared, opening)), shown)
        shown.finish()
    except (ServingError, OSError) as exc:
        logger.error("serving failed for team=%s: %s", prepared.team_slug, exc)
        answer = await sync_to_async(answer_finish)(prepared=prepared, text=UNAVAILABLE, failed=True)
        queue.put_nowait({"event": "error", "detail": UNAVAILABLE, **answer.as_dict()})
        return
    except BaseException:
        # Whatever stops generation, the question keeps a stored (partial) answer.
        await asyncio.shield(sync_to_async(answer_finish)(prepared=prepared, text=shown.text or UNAVAILABLE,
                                                          failed=True))
        raise
    prepared.timings["generation_ms"] = (time.perf_counter() - started) * 1000
    answer = await sync_to_async(answer_finish)(prepared=prepared, text=without_repetition(shown.text))
    queue.put_nowait({"event": "done", **answer.as_dict()})
