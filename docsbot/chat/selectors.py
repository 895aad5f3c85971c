"""Reads for conversations, messages and the per-team chat analytics."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from docsbot.chat.models import Conversation, Feedback, Message
from docsbot.teams.models import Team


def conversation_get(*, team: Team, public_id: str) -> Conversation | None:
    return Conversation.objects.filter(team=team, public_id=public_id).first()


def conversation_history(*, conversation: Conversation, limit: int) -> list[dict[str, str]]:
    """The last `limit` turns, oldest first, without failed answers or the documents they used."""
    if limit <= 0:
        return []
    rows = list(conversation.messages.filter(failed=False).order_by("-created", "-id")
                .values("role", "content")[:limit])
    rows.reverse()
    # The model expects turns to start with the user.
    while rows and rows[0]["role"] != Message.Role.USER:
        rows.pop(0)
    return [{"role": row["role"], "content": row["content"]} for row in rows]


def review_queue(*, team: Team) -> QuerySet[Feedback]:
    """Thumbs-down answers without a correction, not dismissed: oldest first."""
    return review_queue_all().filter(team=team)


# What the review queue holds; also the admin's ReviewItem list, scoped there by TeamScopedAdmin.
IN_REVIEW_QUEUE = Q(rating=Feedback.Rating.DOWN, correction_pair_id__isnull=True, dismissed=False)


def review_queue_all() -> QuerySet[Feedback]:
    return (Feedback.objects.filter(IN_REVIEW_QUEUE).select_related("message", "message__reply_to")
            .order_by("created", "id"))


def answered_questions(*, team: Team) -> QuerySet:
    """Lowercased questions that an admin's answer (an approved correction pair) now covers."""
    from docsbot.qa.models import Generator, QAPair

    return (QAPair.objects.filter(team=team, generator=Generator.CORRECTION, status=QAPair.Status.APPROVED)
            .annotate(q=Lower("question")).values("q"))


def unanswered_questions(*, team: Team, days: int = 30, top: int = 10) -> list[tuple[str, int, int]]:
    """Questions the docs did not cover and no admin has answered yet, most asked first:
    (lowercased question, times asked, id of its latest user message)."""
    since = timezone.now() - dt.timedelta(days=days)
    rows = (Message.objects.filter(team=team, role=Message.Role.USER, created__gte=since,
                                   reply__no_relevant_docs=True)
            .annotate(q=Lower("content")).exclude(q__in=answered_questions(team=team))
            .values("q").annotate(n=Count("id"), latest=Max("id")).order_by("-n", "q")[:top])
    return [(row["q"], row["n"], row["latest"]) for row in rows]


@dataclass(frozen=True)
class ChatAnalytics:
    days: list[tuple[dt.date, int]]
    questions: int
    answers: int
    feedback_count: int
    feedback_up: int
    feedback_down: int
    gaps: list[tuple[str, int, int]]  # unanswered: question, times asked, latest message id
    top_questions: list[tuple[str, int]]
    injection_suspected: int

    @property
    def feedback_rate(self) -> float:
        return self.feedback_count / self.answers if self.answers else 0.0


def chat_analytics(*, team: Team, days: int = 30, top: int = 10) -> ChatAnalytics:
    since = timezone.now() - dt.timedelta(days=days)
    questions = Message.objects.filter(team=team, role=Message.Role.USER, created__gte=since)
    answers = Message.objects.filter(team=team, role=Message.Role.ASSISTANT, created__gte=since)
    per_day = dict(questions.annotate(day=TruncDate("created")).values("day")
                   .annotate(n=Count("id")).values_list("day", "n"))
    today = timezone.now().date()
    series = [(day, per_day.get(day, 0))
              for day in (today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1))]
    feedback = Feedback.objects.filter(team=team, message__created__gte=since).aggregate(
        total=Count("id"), up=Count("id", filter=Q(rating=1)), down=Count("id", filter=Q(rating=-1)))

    def grouped(rows) -> list[tuple[str, int]]:
        return [(row["q"], row["n"]) for row in
                rows.annotate(q=Lower("content")).values("q").annotate(n=Count("id")).order_by("-n", "q")[:top]]

    gaps = unanswered_questions(team=team, days=days, top=top)
    return ChatAnalytics(days=series, questions=questions.count(), answers=answers.count(),
                         feedback_count=feedback["total"], feedback_up=feedback["up"],
                         feedback_down=feedback["down"], gaps=gaps, top_questions=grouped(questions),
                         injection_suspected=questions.filter(injection_suspected=True).count())
