"""Thin Celery tasks (chat queue, routed in settings): Slack answers after the webhook has acknowledged."""
from __future__ import annotations

from celery import shared_task

from docsbot.chat import slack


@shared_task(name="docsbot.chat.tasks.slack_answer_event")
def slack_answer_event(team_id: int, channel: str, thread_ts: str, text: str) -> int:
    return slack.slack_answer_event(team_id=team_id, channel=channel, thread_ts=thread_ts, text=text).message_id


@shared_task(name="docsbot.chat.tasks.slack_answer_command")
def slack_answer_command(team_id: int, response_url: str, text: str) -> int:
    return slack.slack_answer_command(team_id=team_id, response_url=response_url, text=text).message_id


@shared_task(name="docsbot.chat.tasks.slack_refuse_event")
def slack_refuse_event(team_id: int, channel: str, thread_ts: str, retry_after: int) -> None:
    slack.slack_refuse_event(team_id=team_id, channel=channel, thread_ts=thread_ts, retry_after=retry_after)
