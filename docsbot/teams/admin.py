from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from docsbot.adapters.comparison_chart import f1_chart
from docsbot.core.errors import REFUSED, admin_error
from docsbot.teams.admin_scope import TeamScopedAdmin
from docsbot.teams.login_throttle import ThrottledAdminAuthenticationForm
from docsbot.teams.models import ApiToken, Membership, MethodComparison, Team, WidgetKey
from docsbot.teams.services import api_token_create, api_token_revoke

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_url = "/widget/demo"  # "View site": the chat widget's page (docsbot has no page at /)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class WidgetKeyInline(admin.TabularInline):
    model = WidgetKey
    extra = 0
    readonly_fields = ["key", "created"]


@admin.register(Team)
class TeamAdmin(TeamScopedAdmin):
    """The team page holds its Slack signing secret and webhook token: only its owners and admins see it."""

    list_display = ["slug", "name", "created"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline, WidgetKeyInline]
    actions = ["issue_api_token", "train_adapter"]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the team's served adapter, data folders and webhook URLs: renaming it would cut
        # the team off from its adapter and its integrations.
        return [*super().get_readonly_fields(request, obj), *(["slug"] if obj is not None else [])]

    @admin.action(description="Train a new adapter (LoRA, auto settings) on the gpu queue")
    def train_adapter(self, request, queryset):
        from django.urls import reverse

        from docsbot.adapters.services import training_job_create

        for team in queryset:
            try:
                job = training_job_create(team=team)
            except REFUSED as exc:
                admin_error(self, request, exc)
                continue
            link = reverse("admin:adapters_trainingjob_change", args=[job.pk])
            self.message_user(request, format_html('{}: training job <a href="{}">#{}</a> queued; its page shows '
                                                   "its progress", team.slug, link, job.pk))

    @admin.action(description="Issue a new API token (shown once)")
    def issue_api_token(self, request, queryset):
        for team in queryset:
            issued = api_token_create(team=team, name=f"admin:{request.user}")
            self.message_user(
                request, f"Token for {team.slug} (copy it now, it is not shown again): {issued.token}",
                level=messages.WARNING,
            )


@admin.register(Membership)
class MembershipAdmin(TeamScopedAdmin):
    """Users are found by search (autocomplete, which needs view permission on users), never listed:
    the add page must not hand a team admin every username of the installation."""

    list_display = ["user", "team", "role", "created"]
    list_filter = ["role", "team"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(TeamScopedAdmin):
    list_display = ["prefix", "team", "name", "role", "created", "last_used", "revoked"]
    list_filter = ["team", "role"]
    readonly_fields = ["prefix", "token_hash", "created", "last_used", "revoked"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are issued from the team page or the CLI, so the secret is shown once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)


@admin.register(WidgetKey)
class WidgetKeyAdmin(TeamScopedAdmin):
    list_display = ["key", "team", "label", "active", "created"]
    list_filter = ["team", "active"]
    readonly_fields = ["key", "created"]

    def save_model(self, request, obj, form, change):
        if not obj.key:
            import secrets

            obj.key = "wk_" + secrets.token_urlsafe(24)
        super().save_model(request, obj, form, change)


@admin.register(MethodComparison)
class MethodComparisonAdmin(TeamScopedAdmin):
    """The last ``manage.py compare_methods`` report of each team, as a table, and a promote action
    that publishes the winning method's adapter as a version and makes it live."""

    team_lookup = "pk"  # a proxy of Team
    list_display = ["slug", "compared", "winner", "methods"]
    fields = ["slug", "compared", "winner", "table"]
    readonly_fields = fields
    actions = ["promote_winner"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(method_comparison={})

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="compared")
    def compared(self, team: MethodComparison) -> str:
        return team.method_comparison.get("created", "–")

    @admin.display(description="winner")
    def winner(self, team: MethodComparison) -> str:
        return team.method_comparison.get("winner") or "–"

    @admin.display(description="methods")
    def methods(self, team: MethodComparison) -> str:
        return ", ".join(row["method"] for row in team.method_comparison.get("methods", []))

    @admin.display(description="comparison")
    def table(self, team: MethodComparison) -> str:
        report = team.method_comparison
        header = ("method", "parameters", "size (KiB)", "train s", "train tok/s", "peak MiB", "F1 [95 % CI]",
                  "F1 base", "p (F1 > base)", "citation acc.", "forgetting ×", "decode tok/s alone",
                  "decode tok/s per stream, with 7 other teams", "vLLM")
        rows = [_comparison_cells(row) for row in report.get("methods", [])]
        return format_html(
            '<p>{} training and {} held-out examples, at most {} min per method, base {}</p>'
            '<div>{}</div><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            report.get("train_examples"), report.get("heldout_examples"), report.get("minutes_per_method"),
            report.get("base_model"), f1_chart(report.get("methods", [])), format_html_join("", "<th>{}</th>", ((h,) for h in header)),
            format_html_join("", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in cells)),)
                                                 for cells in rows)))

    @admin.action(description="Promote the winning method's adapter")
    def promote_winner(self, request, queryset):

        from docsbot.adapters.comparisons import method_comparison_promote

        for team in queryset:
            try:
                version = method_comparison_promote(team=team)
                self.message_user(request, f"{team}: {version.method} promoted as version {version.number}")
            except REFUSED as exc:
                admin_error(self, request, exc)


def _comparison_cells(row: dict) -> tuple:
    adapter, base = row.get("adapter") or {}, row.get("base") or {}
    interval = adapter.get("f1_interval") or ["?", "?"]
    p_f1 = ((row.get("vs_base") or {}).get("f1") or {}).get("p_value", "–")
    serving = row.get("serving") or {}
    decode = serving.get("decode_tokens_per_second", serving.get("error", "–"))
    mixed = (serving.get("mixed") or {}).get("per_stream_tokens_per_second", "–")
    return (row["method"], row["trainable_parameters"], round(row["size_bytes"] / 1024, 1), row["train_seconds"],
            row["train_tokens_per_second"], round(row["peak_memory_bytes"] / 2**20),
            f"{adapter.get('f1', '–')} [{interval[0]}, {interval[1]}]", base.get("f1", "–"), p_f1,
            adapter.get("citation_accuracy", "–"), row.get("forgetting_ppl_ratio", "–"), decode, mixed,
            "yes" if "vllm" in row.get("servable_by", []) else (row.get("serving_note") or "no"))
