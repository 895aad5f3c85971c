"""Feedback on answers (thumbs, and which sources users open), and the one way chat turns an answer into
training data: an admin's correction of a thumbs-down answer, or an answer to a question the docs did not
cover, becomes an approved QA pair."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction

from docsbot.chat.models import Feedback, Message, SourceClick
from docsbot.core.errors import AppError
from docsbot.teams.models import Team

SOURCE_LINK_SALT = "docsbot.chat.source-link"


def feedback_set(*, team: Team, message_id: int, rating: int, comment: str = "",
                 conversation_id: str | None = None) -> Feedback:
    """Thumbs up (1) or down (-1) on an assistant message of the team; a second vote replaces the first."""
    if rating not in (1, -1):
        raise AppError("rating must be 'up' or 'down'")
    message = _answer_of(team=team, message_id=message_id, conversation_id=conversation_id)
    feedback, _ = Feedback.objects.update_or_create(
        message=message, defaults={"team": team, "rating": rating, "comment": comment.strip()[:4000]})
    return feedback


def _answer_of(*, team: Team, message_id: int, conversation_id: str | None) -> Message:
    """The team's assistant message (in that conversation, when a widget names one); AppError not_found otherwise."""
    messages = Message.objects.filter(team=team, pk=message_id, role=Message.Role.ASSISTANT)
    if conversation_id is not None:
        messages = messages.filter(conversation__public_id=conversation_id)
    message = messages.first()
    if message is None:
        raise AppError("unknown message for this team", code="not_found")
    return message


def source_click_record(*, team: Team, message_id: int, index: Any, conversation_id: str | None = None,
                        channel: str = SourceClick.Channel.WIDGET) -> SourceClick:
    """A user opened source ``index`` (its number in the answer) of an assistant message of the team;
    a second click on the same source changes nothing."""
    message = _answer_of(team=team, message_id=message_id, conversation_id=conversation_id)
    return _click_record(message, index, channel)


def _click_record(message: Message, index: Any, channel: str) -> SourceClick:
    numbers = [source.get("index") for source in message.sources]
    if isinstance(index, bool) or not isinstance(index, int) or index not in numbers:
        raise AppError(f"'index' must be the number of one of the answer's sources ({numbers or 'it has none'})")
    click, _ = SourceClick.objects.get_or_create(message=message, source_index=index,
                                                 defaults={"team_id": message.team_id, "channel": channel})
    return click


def source_link(*, message_id: int, index: int) -> str:
    """A link to an answer's source through docsbot (``source_link_follow``): where the chat tool opens
    links itself (Slack), the click is recorded on the way. Signed, so only links docsbot gave out count."""
    token = signing.Signer(salt=SOURCE_LINK_SALT).sign(f"{message_id}.{index}")
    return f"{settings.PUBLIC_URL.rstrip('/')}/s/{token}"


def is_web_address(url: str) -> bool:
    """A source a reader can open: a crawled page's address, not an uploaded file's path (relative to nothing a
    chat tool or an embedding page knows, so a link to it is a 404)."""
    return url.startswith(("http://", "https://"))


def tracked_url(*, message_id: int, source: dict[str, Any]) -> str:
    """A source's address for a chat tool that opens links itself: through ``source_link`` when it is a web
    address (so the click counts), else as it is."""
    url = source.get("url") or ""
    return source_link(message_id=message_id, index=source["index"]) if is_web_address(url) else url


def source_link_follow(token: str, *, record: bool = True) -> str:
    """Record the click of a ``source_link`` (``record``) and return the source's address (AppError not_found
    for a token docsbot did not sign, or a message or source that is gone)."""
    try:
        message_id, index = (int(part) for part in signing.Signer(salt=SOURCE_LINK_SALT).unsign(token).split("."))
    except (signing.BadSignature, ValueError):
        raise AppError("unknown link", code="not_found") from None
    message = Message.objects.filter(pk=message_id, role=Message.Role.ASSISTANT).first()
    source = next((s for s in (message.sources if message else []) if s.get("index") == index), None)
    url = (source or {}).get("url") or ""
    if message is None or not is_web_address(url):
        raise AppError("unknown link", code="not_found")
    if record:
        _click_record(message, index, SourceClick.Channel.LINK)  # the message is loaded: no second lookup
    return url


FIRST_SOURCE = "first"  # source_chunk_id's default: the first retrieved chunk that still exists


def message_sources(message: Message) -> list[dict[str, Any]]:
    """The chunks retrieved for an answer (stored with it), each with the chunk's text when it still exists."""
    from docsbot.documents.models import Chunk

    ids = [s.get("chunk_id") for s in message.sources if s.get("chunk_id")]
    texts = dict(Chunk.objects.filter(team_id=message.team_id, pk__in=ids).values_list("pk", "text"))
    return [{**source, "text": texts.get(source.get("chunk_id"))} for source in message.sources]


def answer_to_pair(*, message: Message, answer: str, source_chunk_id: int | None | str = FIRST_SOURCE,
                   kind: str = "correction"):
    """An admin's answer to the question an assistant message answered: an approved QA pair.

    The one way chat turns an answer into training data: a correction of a thumbs-down answer
    (``feedback_correct``) and an answer to a question the docs did not cover (``unanswered_answer``).
    source_chunk_id: one of the chunks retrieved for the message, None for none (the pair is then
    trained on retrieved contexts), or FIRST_SOURCE."""
    from docsbot.documents.models import Chunk
    from docsbot.qa.services import pair_create_from_correction

    answer = answer.strip()
    if not answer:
        raise AppError("the answer is empty")
    retrieved = [s.get("chunk_id") for s in message.sources if s.get("chunk_id")]
    if source_chunk_id == FIRST_SOURCE:
        source_chunk_id = retrieved[0] if retrieved else None
        # A re-ingested document has new chunks: the pair is then trained on retrieved contexts.
        if source_chunk_id and not Chunk.objects.filter(team_id=message.team_id, pk=source_chunk_id).exists():
            source_chunk_id = None
    elif source_chunk_id is not None:
        if int(source_chunk_id) not in retrieved:
            raise AppError(f"chunk {source_chunk_id} was not retrieved for this answer")
        if not Chunk.objects.filter(team_id=message.team_id, pk=source_chunk_id).exists():
            raise AppError(f"chunk {source_chunk_id} no longer exists (the document was re-ingested)")
    question = message.reply_to.content if message.reply_to_id else ""
    return pair_create_from_correction(team=message.team, question=question, answer=answer,
                                       source_chunk_id=source_chunk_id, kind=kind)


def feedback_correct(*, feedback: Feedback, correction: str,
                     source_chunk_id: int | None | str = FIRST_SOURCE) -> Feedback:
    """Turn an admin's corrected answer into an approved QA pair for the next training run; the
    feedback leaves the review queue."""
    correction = correction.strip()
    if not correction:
        raise AppError("the correction is empty")
    with transaction.atomic():
        pair = answer_to_pair(message=feedback.message, answer=correction, source_chunk_id=source_chunk_id)
        feedback.correction = correction
        feedback.correction_pair_id = pair.pk
        feedback.save(update_fields=["correction", "correction_pair_id", "updated"])
    return feedback


def feedback_dismiss(*, feedback: Feedback) -> Feedback:
    """Take a thumbs-down out of the review queue without answering it (the answer was fine)."""
    feedback.dismissed = True
    feedback.save(update_fields=["dismissed", "updated"])
    return feedback


def unanswered_answer(*, team: Team, message_id: int, answer: str,
                      source_chunk_id: int | None = None):
    """Answer a question the docs did not cover (analytics' gaps), given by the id of one of its
    user messages: an approved QA pair; the question then leaves the gaps (chat_analytics)."""
    question = Message.objects.filter(team=team, pk=message_id, role=Message.Role.USER,
                                      reply__no_relevant_docs=True).select_related("reply").first()
    if question is None:
        raise AppError("no unanswered question with this id for this team", code="not_found")
    return answer_to_pair(message=question.reply, answer=answer, source_chunk_id=source_chunk_id,
                          kind="unanswered")
