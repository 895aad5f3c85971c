from django.contrib import admin, messages

from docsbot.teams.admin_scope import TeamScopedAdmin
from docsbot.teams.models import ApiToken, Membership, Team, WidgetKey
from docsbot.teams.services import api_token_create, api_token_revoke


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
    actions = ["issue_api_token"]

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
    list_display = ["user", "team", "role", "created"]
    list_filter = ["role", "team"]


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
