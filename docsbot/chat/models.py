"""Conversations, messages, feedback and per-team Slack installations."""
from __future__ import annotations

import uuid

from django.db import models

from docsbot.teams.models import Team


class Conversation(models.Model):
    class Channel(models.TextChoices):
        API = "api"
        WIDGET = "widget"
        SLACK = "slack"
        WEBHOOK = "webhook"
        CLI = "cli"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="conversations")
    # The id clients see: unguessable, because a widget key is public and the id is what
    # lets a browser continue its conversation.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.API)
    external_id = models.CharField(max_length=300, blank=True,
                                   help_text="Slack channel and thread, for follow-ups in a thread.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "external_id"])]

    def __str__(self) -> str:
        return f"{self.team} {self.channel} {str(self.public_id)[:8]}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chat_messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    reply_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="reply")
    sources = models.JSONField(default=list, blank=True)
    no_relevant_docs = models.BooleanField(
        default=False, help_text="The docs did not cover the question: retrieval found nothing relevant, or the "
                                 "documents did not say what the model answered (see support).")
    support = models.FloatField(null=True, blank=True,
                                help_text="Share of the model's answer that its documents hold (docsbot.chat.support).")
    withheld = models.TextField(blank=True, help_text="The model's answer, withheld because its documents do not "
                                                      "say it (support under DOCSBOT_CHAT_MIN_SUPPORT).")
    injection_suspected = models.BooleanField(default=False)
    failed = models.BooleanField(default=False, help_text="Generation failed; content is the error shown.")
    model_name = models.CharField(max_length=200, blank=True)
    adapter_version = models.PositiveIntegerField(null=True, blank=True)
    top_score = models.FloatField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Milliseconds per stage.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["team", "role", "created"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class Feedback(models.Model):
    class Rating(models.IntegerChoices):
        UP = 1
        DOWN = -1

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chat_feedback")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="feedback")
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = models.TextField(blank=True)
    correction = models.TextField(blank=True, help_text="A corrected answer; saving it creates an approved QA pair.")
    correction_pair_id = models.BigIntegerField(null=True, blank=True, editable=False)
    dismissed = models.BooleanField(default=False, help_text="Taken out of the review queue without an answer.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{'👍' if self.rating > 0 else '👎'} {self.message_id}"


class SourceClick(models.Model):
    """A user opened one of an answer's sources (a widget link, or a Slack link through its signed
    redirect); recorded once per source of an answer. The A/B experiments' source-click rate."""

    class Channel(models.TextChoices):
        WIDGET = "widget"
        LINK = "link"  # the signed redirect: Slack, outgoing webhooks

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="source_clicks")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="source_clicks")
    source_index = models.PositiveSmallIntegerField(help_text="The source's number in the answer ([1], [2], ...).")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "source_index"], name="one_click_per_source")]

    def __str__(self) -> str:
        return f"source {self.source_index} of message {self.message_id}"


class ReviewItem(Feedback):
    """The review queue: a thumbs-down without a correction, waiting for an admin's answer
    (chat.selectors.review_queue); answering it makes an approved QA pair for the next training."""

    class Meta:
        proxy = True
        verbose_name = "review queue item"
        verbose_name_plural = "review queue"


class SlackInstallation(models.Model):
    """The Slack app installed for a team; the signing secret lives on Team."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="slack_installation")
    bot_token = models.CharField(max_length=200, help_text="xoxb-… token used for chat.postMessage.")
    bot_user_id = models.CharField(max_length=50, blank=True, help_text="Messages from this user are ignored.")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Slack for {self.team}"
