from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from docsbot.chat.charts import bar_chart, ratio_bar
from docsbot.chat.models import Conversation, Feedback, Message, SlackInstallation
from docsbot.chat.selectors import chat_analytics
from docsbot.chat.services import ChatError, feedback_correct
from docsbot.teams.admin_scope import TeamScopedAdmin
from docsbot.teams.selectors import teams_administered


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("role", "content", "no_relevant_docs", "injection_suspected", "failed", "adapter_version", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(TeamScopedAdmin):
    list_display = ("public_id", "team", "channel", "created")
    list_filter = ("team", "channel")
    readonly_fields = ("public_id", "team", "channel", "external_id", "created")
    inlines = [MessageInline]

    def get_urls(self):
        return [path("analytics/", self.admin_site.admin_view(self.analytics_view), name="chat_analytics"),
                *super().get_urls()]

    def analytics_view(self, request: HttpRequest):
        # The page quotes the team's questions: it needs the view permission on messages as well as
        # conversations, and shows only the teams the user administers (admin_view checks only is_staff).
        if not (self.has_view_permission(request) and request.user.has_perm("chat.view_message")):
            raise PermissionDenied
        teams = list(teams_administered(user=request.user))
        slug = request.GET.get("team") or (teams[0].slug if teams else "")
        team = next((t for t in teams if t.slug == slug), None)
        if team is None and request.GET.get("team"):
            raise Http404("no such team among yours")
        days = min(max(int(request.GET.get("days", "30") or 30), 1), 365) if request.GET.get(
            "days", "30").isdigit() else 30
        context = {**self.admin_site.each_context(request), "title": "Chat analytics", "teams": teams,
                   "team": team, "days": days}
        if team is not None:
            stats = chat_analytics(team=team, days=days)
            context.update(stats=stats, per_day_chart=bar_chart(
                [(day.isoformat(), n) for day, n in stats.days], title="Questions per day"),
                feedback_chart=ratio_bar([("helpful", stats.feedback_up, "#16a34a"),
                                          ("not helpful", stats.feedback_down, "#dc2626")]),
                feedback_rate=f"{stats.feedback_rate:.0%}")
        return TemplateResponse(request, "chat/analytics.html", context)


@admin.register(Message)
class MessageAdmin(TeamScopedAdmin):
    list_display = ("id", "team", "role", "short", "no_relevant_docs", "injection_suspected", "failed", "created")
    list_filter = ("team", "role", "no_relevant_docs", "injection_suspected", "failed")
    search_fields = ("content",)
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.display(description="content")
    def short(self, obj: Message) -> str:
        return obj.content[:80]


@admin.register(Feedback)
class FeedbackAdmin(TeamScopedAdmin):
    list_display = ("message_id", "team", "rating", "comment", "has_correction", "created")
    list_filter = ("team", "rating")
    readonly_fields = ("team", "message", "rating", "comment", "question", "answer", "correction_pair_id")
    fields = ("team", "message", "rating", "comment", "question", "answer", "correction", "correction_pair_id")

    @admin.display(boolean=True)
    def has_correction(self, obj: Feedback) -> bool:
        return obj.correction_pair_id is not None

    @admin.display(description="question")
    def question(self, obj: Feedback) -> str:
        return obj.message.reply_to.content if obj.message.reply_to_id else ""

    @admin.display(description="answer given")
    def answer(self, obj: Feedback) -> str:
        return obj.message.content

    def save_model(self, request, obj: Feedback, form, change):
        correction = form.cleaned_data.get("correction", "").strip()
        if change and correction and "correction" in form.changed_data:
            try:
                feedback_correct(feedback=obj, correction=correction)
            except ChatError as exc:
                messages.error(request, exc.message)
                return
            messages.success(request, f"Saved as approved QA pair #{obj.correction_pair_id} for the next training run.")
            return
        super().save_model(request, obj, form, change)


@admin.register(SlackInstallation)
class SlackInstallationAdmin(TeamScopedAdmin):
    list_display = ("team", "bot_user_id", "created")
