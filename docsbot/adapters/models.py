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
        IA3 = "ia3", "IA3"
        PROMPT_TUNING = "prompt_tuning"
        PREFIX_TUNING = "prefix_tuning"
        BOTTLENECK = "bottleneck"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        DOCS_CHANGED = "docs"  # retrain on change (issue 20)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="training_jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.LORA)
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
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    reason = models.TextField(blank=True, help_text="Why it was queued (a retrain: the docs change that fired it).")
    changes = models.JSONField(default=dict, blank=True, help_text="A retrain's chunk changes, counts and pages.")
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
    method = models.CharField(max_length=16)
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


# --- continuous learning: retrain on change, A/B experiments, events (issue 20) ---------------

class RetrainPolicy(models.Model):
    """A team's retrain-on-change settings, and the chunk baseline its changes are counted against.

    After an ingest run, the team's chunks are compared with ``baseline`` (content hashes per page,
    as of the last retrain): when changed + added + removed chunks reach ``threshold_chunks`` or
    ``threshold_percent`` of the team's chunks (whichever is fewer), pairs are regenerated for the
    changed chunks and a training job is queued, at once or at the next scheduled hour."""

    class Schedule(models.TextChoices):
        ON_CHANGE = "", "right after the ingest"
        DAILY = "daily", "daily, at the schedule hour"
        WEEKLY = "weekly", "weekly (Mondays), at the schedule hour"

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="retrain_policy")
    enabled = models.BooleanField(default=True, help_text="Retrain the live adapter when the docs change.")
    threshold_percent = models.FloatField(default=5.0, help_text="Changed chunks, in % of the team's chunks.")
    threshold_chunks = models.PositiveIntegerField(default=20, help_text="Changed chunks, as a count.")
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.ON_CHANGE, blank=True)
    schedule_hour = models.PositiveSmallIntegerField(default=2, help_text="Hour (UTC, 0-23) of a scheduled retrain.")
    baseline = models.JSONField(default=dict, blank=True, editable=False,
                                help_text="{page path: [chunk content-hash prefixes]} as of the last retrain.")
    baseline_at = models.DateTimeField(null=True, blank=True, editable=False)
    pending = models.JSONField(default=dict, blank=True, editable=False,
                               help_text="Changes waiting for the schedule: {reason, changes}.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the pending retrain is queued.")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "retrain policy"
        verbose_name_plural = "retrain policies"

    def __str__(self) -> str:
        return f"retrain policy of {self.team}"


class Experiment(models.Model):
    """An A/B test of a candidate adapter version against the live (control) one on real traffic.

    Conversations are assigned by a stable hash of the experiment and conversation ids, so a
    conversation never switches version; ``traffic_share`` of them get the candidate."""

    class Status(models.TextChoices):
        RUNNING = "running"
        ENDED = "ended"

    class Outcome(models.TextChoices):
        NONE = "", "(running)"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back", "rolled back"
        TIMED_OUT = "timed_out", "timed out"
        CANCELLED = "cancelled"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    control = models.ForeignKey(AdapterVersion, on_delete=models.PROTECT, related_name="experiments_as_control")
    candidate = models.ForeignKey(AdapterVersion, on_delete=models.PROTECT,
                                  related_name="experiments_as_candidate")
    traffic_share = models.FloatField(default=0.5, help_text="Share of conversations (0-1) the candidate answers.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.NONE, blank=True)
    reason = models.TextField(blank=True, help_text="Why it ended.")
    min_rated = models.PositiveIntegerField(default=30, help_text="Rated answers per version before deciding.")
    alpha = models.FloatField(default=0.05, help_text="Significance level of the decision.")
    looks = models.PositiveIntegerField(default=0, help_text="Interim tests done (experiments.Look).")
    ends_by = models.DateTimeField(help_text="Times out (the control stays live) if undecided by then.")
    results = models.JSONField(default=dict, blank=True, help_text="The per-version figures when it ended.")
    started = models.DateTimeField(auto_now_add=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started"]
        constraints = [models.UniqueConstraint(fields=["team"], condition=Q(status="running"),
                                               name="one_running_experiment_per_team")]

    def __str__(self) -> str:
        return f"{self.team}: v{self.candidate.number} vs v{self.control.number} ({self.outcome or self.status})"


class Event(models.Model):
    """The audit trail of automatic (and manual) actions on a team's adapters, each with its reason."""

    class Kind(models.TextChoices):
        RETRAIN_QUEUED = "retrain_queued", "retrain queued"
        RETRAIN_SCHEDULED = "retrain_scheduled", "retrain scheduled"
        RETRAIN_SUPERSEDED = "retrain_superseded", "retrain superseded"
        EXPERIMENT_STARTED = "experiment_started", "experiment started"
        EXPERIMENT_ENDED = "experiment_ended", "experiment ended"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back", "rolled back"
        REVERTED = "reverted"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="adapter_events")
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    reason = models.TextField()
    actor = models.CharField(max_length=150, default="auto", help_text='"auto" or who did it.')
    data = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey(AdapterVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="events")
    reverted_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="reverts")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.team} {self.kind}: {self.reason[:80]}"
