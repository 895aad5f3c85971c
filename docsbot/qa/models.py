from __future__ import annotations

from django.db import models

from docsbot.documents.models import Chunk, Document
from docsbot.teams.models import Team


class Generator(models.TextChoices):
    STRUCTURAL = "structural"
    LLM = "llm"
    IMPORT = "import"  # JSONL import, hand-written
    CORRECTION = "correction"  # an admin's correction of a chat answer


class QATeamSettings(models.Model):
    """Per-team defaults for pair generation; a run may override the generator."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="qa_settings")
    generator = models.CharField(max_length=20, default=Generator.STRUCTURAL,
                                 choices=[(Generator.STRUCTURAL, "structural"), (Generator.LLM, "llm")])
    heldout_percent = models.PositiveSmallIntegerField(default=10)
    include_changelog = models.BooleanField(default=False, help_text="Generate pairs from changelogs too.")
    vocabulary = models.JSONField(default=dict, blank=True,
                                  help_text="The names the team's documents use (product, tools, platforms) and their "
                                            "boilerplate paragraphs, learned after each ingestion; questions use them.")

    class Meta:
        verbose_name = "QA team settings"
        verbose_name_plural = "QA team settings"

    def __str__(self) -> str:
        return f"QA settings of {self.team}"


class QAPair(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # kept by the filters, not reviewed yet; trained on
        APPROVED = "approved"
        REJECTED = "rejected"

    class Split(models.TextChoices):
        TRAIN = "train"
        HELDOUT = "heldout"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="qa_pairs")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="qa_pairs")
    chunk = models.ForeignKey(Chunk, null=True, blank=True, on_delete=models.SET_NULL, related_name="qa_pairs")
    # Pairs are keyed by the content hash of their chunk, so a re-run after a document
    # change keeps the pairs of unchanged chunks even when ingestion recreated the rows.
    chunk_hash = models.CharField(max_length=64, blank=True, db_index=True)
    question = models.TextField()
    answer = models.TextField()
    generator = models.CharField(max_length=20, choices=Generator.choices)
    kind = models.CharField(max_length=30, blank=True, help_text="how-to, what-is, troubleshooting, option, api, "
                                                                 "example, ...")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    split = models.CharField(max_length=10, choices=Split.choices, default=Split.TRAIN)
    scores = models.JSONField(default=dict, blank=True, help_text="Filter name -> score.")
    reject_reason = models.CharField(max_length=50, blank=True)
    edited = models.BooleanField(default=False, help_text="Changed by a person; never replaced by a re-run.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["team", "split"]),
        ]
        verbose_name = "QA pair"

    def __str__(self) -> str:
        return self.question[:80]


class GenerationRun(models.Model):
    """One generate_qa run: progress for the admin's progress bar, and the summary."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="qa_runs")
    generator = models.CharField(max_length=20, default=Generator.STRUCTURAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it.")
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.team} {self.generator} run #{self.pk}"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == self.Status.DONE else 0)


class ChunkRejection(models.Model):
    """A chunk a generator produced nothing from, and why; a re-run skips it while its text is
    unchanged, except after transient failures (timeouts, serving errors), which are retried."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="qa_chunk_rejections")
    chunk = models.ForeignKey(Chunk, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    chunk_hash = models.CharField(max_length=64, db_index=True)
    generator = models.CharField(max_length=20)
    reason = models.CharField(max_length=50)
    detail = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.reason} ({self.chunk_hash[:8]})"
