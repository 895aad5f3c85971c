from __future__ import annotations

from django.db import models

from docsbot.teams.models import Team


class Document(models.Model):
    """One ingested source file or page of a team's documentation."""

    class Status(models.TextChoices):
        PENDING = "pending"
        INDEXED = "indexed"
        FAILED = "failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="documents")
    source_path = models.CharField(max_length=1000, help_text="Path inside the upload, or the crawled URL.")
    url = models.CharField(max_length=1000, blank=True, help_text="Link target for citations.")
    title = models.CharField(max_length=500, blank=True)
    format = models.CharField(max_length=20, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="duplicates")
    fingerprint = models.JSONField(default=list, blank=True,
                                   help_text="MinHash of word shingles, for near-duplicate detection.")
    size = models.PositiveIntegerField(default=0, help_text="Bytes of the source file.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "source_path"], name="one_document_per_path")]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return self.title or self.source_path


class DocumentStructure(models.Model):
    """A document's parsed blocks (headings, paragraphs, lists, tables, terms, signatures, asides, code), which pair
    generation reads and chunks point into. Its own table, so that no query of documents loads it by the way."""

    document = models.OneToOneField(Document, on_delete=models.CASCADE, primary_key=True, related_name="structure")
    blocks = models.JSONField(default=list)


class Chunk(models.Model):
    """A structure-following piece of a document: the unit of retrieval and of pair generation."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chunks")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading_path = models.JSONField(default=list, help_text="Headings from the document title down.")
    anchor = models.CharField(max_length=300, blank=True, help_text="Section anchor in the document URL.")
    text = models.TextField(help_text="Chunk text, prefixed with its heading path.")
    token_count = models.PositiveIntegerField(default=0)
    first_block = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="Index of the chunk's first block in the document's "
                                                        "structure (null: ingested before structure was kept).")
    end_block = models.PositiveIntegerField(null=True, blank=True, help_text="Index after its last block.")
    cut = models.BooleanField(default=False, help_text="Holds one piece of a block too long for any chunk.")
    content_hash = models.CharField(max_length=64)
    embedding = models.BinaryField(null=True, blank=True, editable=False,
                                   help_text="float32 L2-normalised vector of the embedding model.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        indexes = [models.Index(fields=["team", "content_hash"])]

    @property
    def section(self) -> str:
        return self.heading_path[-1] if self.heading_path else ""

    @property
    def link(self) -> str:
        base = self.document.url or self.document.source_path
        return f"{base}#{self.anchor}" if self.anchor else base

    def __str__(self) -> str:
        return f"{self.document} §{self.ordinal}"


class IndexState(models.Model):
    """A fresh random version is written in the same transaction as any change to a team's
    chunks; the search index on disk and in memory is stale when its version differs. Random,
    not a counter, so a reused team id (SQLite) can never match an old index."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="index_state")
    version = models.CharField(max_length=32, blank=True)
    embedding_model = models.CharField(max_length=300, blank=True)


class IngestRun(models.Model):
    """One ingestion through any door (admin upload, API, CLI): progress and per-document outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ingest_runs")
    origin = models.CharField(max_length=10, default="cli", help_text="admin, api or cli")
    sync = models.BooleanField(default=False, help_text="Remove documents missing from this upload.")
    inputs = models.JSONField(default=list, help_text="Paths of stored uploads or URLs to crawl.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=20, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    items = models.JSONField(default=list, help_text="[{path, status, error}] per document.")
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it.")
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    @property
    def progress(self) -> float:
        return round(self.processed / self.total, 3) if self.total else 0.0

    @property
    def outcome(self) -> str:
        """The status as a reader needs it: a run that finished with documents it could not read says so."""
        failed = len((self.summary or {}).get("failed") or [])
        if self.status == self.Status.SUCCEEDED and failed:
            return f"succeeded, {failed} of {self.total or failed} failed"
        if self.status == self.Status.RUNNING and self.phase:
            return f"running ({self.phase})"
        return self.status

    def __str__(self) -> str:
        return f"ingest #{self.pk} {self.team} {self.outcome}"
