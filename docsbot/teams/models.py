from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,48}[a-z0-9]$|^[a-z0-9]$",
                                "Use 1-50 lowercase letters, digits and inner hyphens.")


class Team(models.Model):
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    slack_signing_secret = models.CharField(
        max_length=128, blank=True, help_text="Slack app signing secret; verifies the team's webhooks."
    )
    webhook_token = models.CharField(
        max_length=128, blank=True,
        help_text="Token that Slack-compatible outgoing webhooks (Mattermost, Rocket.Chat) send.",
    )
    created = models.DateTimeField(auto_now_add=True)
    method_comparison = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="The last manage.py compare_methods report: one row per adapter method (issue 19).")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class MethodComparison(Team):
    """The admin's view of a team's last method comparison (a proxy: the report lives on the team)."""

    class Meta:
        proxy = True
        verbose_name = "method comparison"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class ApiToken(models.Model):
    """A team API token. Only its SHA-256 is stored; the token is shown once."""

    class Role(models.TextChoices):
        READ = "read", "read: GET requests (listing, progress, search, export)"
        WRITE = "write", "write: also uploads, deletions, pair import and generation, training"
        ADMIN = "admin", "admin: everything write can do (and what later needs more)"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    # Tokens issued before roles existed could do everything: the migration gives them admin.
    role = models.CharField(max_length=5, choices=Role.choices, default=Role.ADMIN)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.team})"


class WidgetKey(models.Model):
    """A public key for the embeddable widget, valid only from its allowed origins."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="widget_keys")
    key = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    allowed_origins = models.TextField(
        blank=True, help_text="One origin per line, e.g. https://docs.example.com"
    )
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]

    def allows_origin(self, origin: str | None) -> bool:
        return bool(origin) and origin.rstrip("/") in self.origins()

    def __str__(self) -> str:
        return f"{self.key[:12]}… ({self.team})"
