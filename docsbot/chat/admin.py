from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from docsbot.chat.charts import bar_chart, ratio_bar
from docsbot.chat.feedback import (
    feedback_correct,
    feedback_dismiss,
    message_sources,
    unanswered_answer,
)
from docsbot.chat.models import Conversation, Feedback, Message, ReviewItem, SlackInstallation
from docsbot.chat.selectors import IN_REVIEW_QUEUE, chat_analytics
from docsbot.core.errors import AppError, admin_error
from docsbot.teams.admin_scope import TeamScopedAdmin
from docsbot.teams.selectors import teams_administered


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("role", "content", "no_relevant_docs", "support", "withheld", "injection_suspected", "failed",
              "adapter_version", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


NO_SOURCE = ""


def _source_label(source: dict) -> str:
    label = f"[{source.get('index')}] {source.get('title', '')}"
    label += f" — {source['section']}" if source.get("section") else ""
    return label + ("" if source.get("text") is not None else " (gone: re-ingested)")


def source_choices(message: Message) -> list[tuple[str, str]]:
    """The chunks retrieved for the answer that still exist, as choices for the pair's source."""
    return [(NO_SOURCE, "none: train it on the chunks retrieved for the question")] + [
        (str(s["chunk_id"]), _source_label(s)) for s in message_sources(message)
        if s.get("chunk_id") and s.get("text") is not None]


def retrieved_chunks_html(message: Message):
    sources = message_sources(message)
    if not sources:
        return "none"
    return format_html_join("", "<details><summary>{} (score {})</summary><pre style='white-space:pre-wrap'>{}"
                            "</pre></details>",
                            ((_source_label(s), s.get("score"), s.get("text") or "") for s in sources))


class AnswerForm(forms.Form):
    """One step from a question to an approved QA pair: the answer and, optionally, its source."""

    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 90}),
                             help_text="Saved as an approved QA pair; the next training run uses it.")
    source_chunk = forms.ChoiceField(required=False, label="Source chunk",
                                     help_text="The retrieved chunk that holds the answer, if any.")

    def __init__(self, *args, message: Message, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_chunk"].choices = source_choices(message)

    def source_chunk_id(self) -> int | None:
        value = self.cleaned_data.get("source_chunk")
        return int(value) if value else None


@admin.register(Conversation)
class ConversationAdmin(TeamScopedAdmin):
    list_display = ("public_id", "team", "channel", "created")
    list_filter = ("team", "channel")
    readonly_fields = ("public_id", "team", "channel", "external_id", "created")
    inlines = [MessageInline]

    def get_urls(self):
        return [path("analytics/", self.admin_site.admin_view(self.analytics_view), name="chat_analytics"),
                path("analytics/answer/<int:message_id>/", self.admin_site.admin_view(self.answer_view),
                     name="chat_unanswered_answer"),
                *super().get_urls()]

    def answer_view(self, request: HttpRequest, message_id: int):
        """Answer one of the analytics' unanswered questions: an approved QA pair, in one step."""
        if not (request.user.has_perm("chat.view_message") and request.user.has_perm("qa.add_qapair")):
            raise PermissionDenied
        teams = list(teams_administered(user=request.user))
        question = Message.objects.filter(team__in=teams, pk=message_id, role=Message.Role.USER,
                                          reply__no_relevant_docs=True).select_related("reply", "team").first()
        if question is None:
            raise Http404("no such unanswered question among your teams")
        form = AnswerForm(request.POST or None, message=question.reply)
        if request.method == "POST" and form.is_valid():
            try:
                pair = unanswered_answer(team=question.team, message_id=question.pk,
                                         answer=form.cleaned_data["answer"], source_chunk_id=form.source_chunk_id())
            except AppError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved as approved QA pair #{pair.pk} for the next training run.")
                return HttpResponseRedirect(reverse("admin:chat_analytics") + f"?team={question.team.slug}")
        context = {**self.admin_site.each_context(request), "title": "Answer an unanswered question",
                   "question": question, "answer_given": question.reply.content, "form": form,
                   "chunks": retrieved_chunks_html(question.reply)}
        return TemplateResponse(request, "chat/answer.html", context)

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
            except AppError as exc:
                admin_error(self, request, exc)
                return
            messages.success(request, f"Saved as approved QA pair #{obj.correction_pair_id} for the next training run.")
            return
        super().save_model(request, obj, form, change)


class ReviewItemForm(forms.ModelForm):
    answer = AnswerForm.base_fields["answer"]
    source_chunk = AnswerForm.base_fields["source_chunk"]

    class Meta:
        model = ReviewItem
        fields: list[str] = []


@admin.register(ReviewItem)
class ReviewItemAdmin(TeamScopedAdmin):
    """The review queue: thumbs-down answers without a correction. Answering one is one form (the
    answer, optionally its source chunk); the pair is approved and the item leaves the queue."""

    form = ReviewItemForm
    list_display = ("id", "team", "question", "answer_given", "comment", "sources", "created")
    list_filter = ("team",)
    list_display_links = ("id", "question")
    readonly_fields = ("team", "question", "answer_given", "comment", "retrieved_chunks")
    fields = ("team", "question", "answer_given", "comment", "retrieved_chunks", "answer", "source_chunk")
    actions = ["dismiss"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).filter(IN_REVIEW_QUEUE).select_related("message", "message__reply_to")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["source_chunk"] = forms.ChoiceField(
                required=False, label="Source chunk", choices=source_choices(obj.message),
                initial=next((c for c, _ in source_choices(obj.message)[1:]), ""),
                help_text=AnswerForm.base_fields["source_chunk"].help_text)
        return form

    @admin.display(description="question")
    def question(self, obj: Feedback) -> str:
        return obj.message.reply_to.content if obj.message.reply_to_id else ""

    @admin.display(description="answer given")
    def answer_given(self, obj: Feedback) -> str:
        return obj.message.content

    @admin.display(description="retrieved chunks")
    def sources(self, obj: Feedback) -> str:
        return "; ".join(_source_label(s) for s in message_sources(obj.message))  # with their texts: still there?

    @admin.display(description="retrieved chunks")
    def retrieved_chunks(self, obj: Feedback):
        return retrieved_chunks_html(obj.message)

    def save_model(self, request, obj: Feedback, form, change):
        value = form.cleaned_data.get("source_chunk")
        try:
            feedback_correct(feedback=obj, correction=form.cleaned_data["answer"],
                             source_chunk_id=int(value) if value else None)
        except AppError as exc:
            admin_error(self, request, exc)
            return
        messages.success(request, format_html("Saved as approved QA pair #{} for the next training run.",
                                              obj.correction_pair_id))

    def response_change(self, request, obj):
        return HttpResponseRedirect(reverse("admin:chat_reviewitem_changelist"))

    @admin.action(description="Dismiss the selected items (the answers were fine)")
    def dismiss(self, request: HttpRequest, queryset):
        items = list(queryset)
        for item in items:
            feedback_dismiss(feedback=item)
        self.message_user(request, f"Dismissed {len(items)} item(s).")


@admin.register(SlackInstallation)
class SlackInstallationAdmin(TeamScopedAdmin):
    list_display = ("team", "bot_user_id", "created")
