"""Feedback on answers, and the one way chat turns an answer into training data: an admin's correction of a
thumbs-down answer, or an answer to a question the docs did not cover, becomes an approved QA pair."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from docsbot.chat.errors import ChatError
from docsbot.chat.models import Feedback, Message
from docsbot.teams.models import Team


def feedback_set(*, team: Team, message_id: int, rating: int, comment: str = "",
                 conversation_id: str | None = None) -> Feedback:
    """Thumbs up (1) or down (-1) on an assistant message of the team; a second vote replaces the first."""
    if rating not in (1, -1):
        raise ChatError("rating must be 'up' or 'down'")
    messages = Message.objects.filter(team=team, pk=message_id, role=Message.Role.ASSISTANT)
    if conversation_id is not None:
        messages = messages.filter(conversation__public_id=conversation_id)
    message = messages.first()
    if message is None:
        raise ChatError("unknown message for this team", status=404)
    feedback, _ = Feedback.objects.update_or_create(
        message=message, defaults={"team": team, "rating": rating, "comment": comment.strip()[:4000]})
    return feedback


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
    from docsbot.qa.services import QAError, pair_create_from_correction

    answer = answer.strip()
    if not answer:
        raise ChatError("the answer is empty")
    retrieved = [s.get("chunk_id") for s in message.sources if s.get("chunk_id")]
    if source_chunk_id == FIRST_SOURCE:
        source_chunk_id = retrieved[0] if retrieved else None
        # A re-ingested document has new chunks: the pair is then trained on retrieved contexts.
        if source_chunk_id and not Chunk.objects.filter(team_id=message.team_id, pk=source_chunk_id).exists():
            source_chunk_id = None
    elif source_chunk_id is not None:
        if int(source_chunk_id) not in retrieved:
            raise ChatError(f"chunk {source_chunk_id} was not retrieved for this answer")
        if not Chunk.objects.filter(team_id=message.team_id, pk=source_chunk_id).exists():
            raise ChatError(f"chunk {source_chunk_id} no longer exists (the document was re-ingested)")
    question = message.reply_to.content if message.reply_to_id else ""
    try:
        return pair_create_from_correction(team=message.team, question=question, answer=answer,
                                           source_chunk_id=source_chunk_id, kind=kind)
    except QAError as exc:
        raise ChatError(str(exc)) from None


def feedback_correct(*, feedback: Feedback, correction: str,
                     source_chunk_id: int | None | str = FIRST_SOURCE) -> Feedback:
    """Turn an admin's corrected answer into an approved QA pair for the next training run; the
    feedback leaves the review queue."""
    correction = correction.strip()
    if not correction:
        raise ChatError("the correction is empty")
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
        raise ChatError("no unanswered question with this id for this team", status=404)
    return answer_to_pair(message=question.reply, answer=answer, source_chunk_id=source_chunk_id,
                          kind="unanswered")
