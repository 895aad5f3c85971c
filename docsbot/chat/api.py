"""Feedback into training over HTTP (issue 20), scoped to the token's team: the review queue of
thumbs-down answers (/review-queue) and the questions the docs did not cover (/unanswered), each
answered in one step into an approved QA pair that the next training run uses."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from docsbot.chat import feedback as chat_feedback
from docsbot.chat import selectors
from docsbot.chat.models import Feedback
from docsbot.core.errors import AppError

router = Router(tags=["feedback into training"])


class ReviewItemOut(Schema):
    id: int
    message_id: int
    question: str
    answer: str
    comment: str
    sources: list[dict[str, Any]]
    adapter_version: int | None
    created: datetime

    @staticmethod
    def resolve_question(feedback: Feedback) -> str:
        return feedback.message.reply_to.content if feedback.message.reply_to_id else ""

    @staticmethod
    def resolve_answer(feedback: Feedback) -> str:
        return feedback.message.content

    @staticmethod
    def resolve_sources(feedback: Feedback) -> list[dict[str, Any]]:
        return chat_feedback.message_sources(feedback.message)

    @staticmethod
    def resolve_adapter_version(feedback: Feedback) -> int | None:
        return feedback.message.adapter_version


class AnswerIn(Schema):
    answer: str
    source_chunk_id: int | None = None  # one of the retrieved chunks; none: trained on retrieved contexts


class PairOut(Schema):
    pair_id: int
    question: str
    answer: str
    source_chunk_id: int | None


class UnansweredOut(Schema):
    message_id: int  # the latest time it was asked
    question: str
    times: int


def _pair(pair) -> dict[str, Any]:
    return {"pair_id": pair.pk, "question": pair.question, "answer": pair.answer, "source_chunk_id": pair.chunk_id}


def _item_or_404(request: HttpRequest, feedback_id: int) -> Feedback:
    item = selectors.review_queue(team=request.auth).filter(pk=feedback_id).first()
    if item is None:
        raise AppError(code="not_found", message=f"no feedback {feedback_id} in the review queue")
    return item


@router.get("/review-queue", response=list[ReviewItemOut],
            summary="Thumbs-down answers without a correction, with the question and the retrieved chunks")
def review_queue_list(request: HttpRequest, limit: int = 100):
    return list(selectors.review_queue(team=request.auth)[:max(1, min(limit, 500))])


@router.post("/review-queue/{feedback_id}/answer", response={201: PairOut},
             summary="Answer a queued question: an approved QA pair for the next training run")
def review_queue_answer(request: HttpRequest, feedback_id: int, payload: AnswerIn):
    item = _item_or_404(request, feedback_id)
    feedback = chat_feedback.feedback_correct(feedback=item, correction=payload.answer,
                                              source_chunk_id=payload.source_chunk_id)
    from docsbot.qa.models import QAPair

    return 201, _pair(QAPair.objects.get(pk=feedback.correction_pair_id))


@router.post("/review-queue/{feedback_id}/dismiss", response={204: None},
             summary="Take a thumbs-down out of the queue without answering it")
def review_queue_dismiss(request: HttpRequest, feedback_id: int):
    chat_feedback.feedback_dismiss(feedback=_item_or_404(request, feedback_id))
    return 204, None


@router.get("/unanswered", response=list[UnansweredOut],
            summary="Questions the docs did not cover that no admin has answered yet, most asked first")
def unanswered_list(request: HttpRequest, days: int = 30, limit: int = 50):
    rows = selectors.unanswered_questions(team=request.auth, days=max(1, min(days, 365)),
                                          top=max(1, min(limit, 500)))
    return [{"message_id": message_id, "question": question, "times": times} for question, times, message_id in rows]


@router.post("/unanswered/{message_id}/answer", response={201: PairOut},
             summary="Answer a question the docs did not cover: an approved QA pair for the next training run")
def unanswered_answer(request: HttpRequest, message_id: int, payload: AnswerIn):
    pair = chat_feedback.unanswered_answer(team=request.auth, message_id=message_id, answer=payload.answer,
                                           source_chunk_id=payload.source_chunk_id)
    return 201, _pair(pair)
