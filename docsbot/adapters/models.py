"""Training jobs, their events, and the adapter versions they publish."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from docsbot.teams.models import Team


class TrainingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    class Method(models.TextChoices):
        LORA = "lora"
        QLORA = "qlora"
        DORA = "dora"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="training_jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.LORA)
    hyperparameters = models.JSONField(default=dict, blank=True, help_text='As requested; values may be "auto".')
    config = models.JSONField(default=dict, blank=True, help_text="As resolved and run.")
    base_model = models.CharField(max_length=500)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    celery_task_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.team}, {self.method}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.TERMINAL


class TrainingEvent(models.Model):
    class Level(models.TextChoices):
        INFO = "info"
        WARN = "warn"
        ERROR = "error"

    class Type(models.TextChoices):
        MESSAGE = "message"
        METRICS = "metrics"

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")
    level = models.CharField(max_length=5, choices=Level.choices, default=Level.INFO)
    type = models.CharField(max_length=7, choices=Type.choices, default=Type.MESSAGE)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message}"


class AdapterVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        PROMOTED = "promoted"
        RETIRED = "retired"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="adapter_versions")
    job = models.OneToOneField(TrainingJob, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="adapter_version")
    number = models.PositiveIntegerField()
    path = models.CharField(max_length=1000)
    method = models.CharField(max_length=8)
    rank = models.PositiveIntegerField()
    base_model = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    servable_by = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    curve = models.JSONField(default=list, blank=True)
    dataset_hash = models.CharField(max_length=64, blank=True)
    pair_ids = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["team", "number"], name="one_version_number_per_team"),
            models.UniqueConstraint(fields=["team"], condition=Q(status="promoted"),
                                    name="one_promoted_version_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.team} v{self.number} ({self.status})"

    @property
    def heldout_f1(self) -> float | None:
        return (self.metrics.get("evaluation") or {}).get("adapter", {}).get("f1")
