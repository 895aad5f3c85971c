"""Review of pairs: list and filter, edit, approve, reject, bulk actions, counts per status,
JSONL import/export, and generation runs with a progress bar."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html

from docsbot.core.errors import AppError, admin_error
from docsbot.qa.models import ChunkRejection, GenerationRun, QAPair, QATeamSettings
from docsbot.teams.admin_scope import TeamScopedAdmin
from docsbot.teams.models import Team
from docsbot.teams.selectors import teams_administered


class ScoreFilter(admin.SimpleListFilter):
    title = "grounding score"
    parameter_name = "grounding"

    def lookups(self, request, model_admin):
        return [("low", "below 0.75"), ("high", "0.75 and above")]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.filter(scores__grounding__lt=0.75)
        if self.value() == "high":
            return queryset.filter(scores__grounding__gte=0.75)
        return queryset


class KeptForCoverageFilter(admin.SimpleListFilter):
    """Pairs a soft filter (weak_form, answerability) would have held back, kept because their page was thin."""
    title = "kept for coverage"
    parameter_name = "kept_for_coverage"

    def lookups(self, request, model_admin):
        return [("yes", "despite a soft filter"), ("no", "passed every filter")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(scores__has_key="kept_for_coverage")
        if self.value() == "no":
            return queryset.exclude(scores__has_key="kept_for_coverage")
        return queryset


class ImportForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    file = forms.FileField(help_text='OpenAI chat fine-tuning JSONL: one {"messages": [...]} per line.')

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_administered(user=user)  # another team's id is invalid


@admin.register(QAPair)
class QAPairAdmin(TeamScopedAdmin):
    list_display = ["id", "team", "question", "short_answer", "generator", "kind", "status", "split",
                    "grounding", "answerability", "reject_reason", "document"]
    list_filter = ["team", "status", "generator", "kind", "split", "reject_reason", ScoreFilter, KeptForCoverageFilter,
                   "document"]
    list_editable = ["status"]
    search_fields = ["question", "answer"]
    readonly_fields = ["chunk_text", "scores", "chunk_hash", "generator", "created", "updated"]
    raw_id_fields = ["document", "chunk"]
    actions = ["approve", "reject", "mark_pending", "export_jsonl"]
    change_list_template = "admin/qa/qapair/change_list.html"

    @admin.display(description="answer")
    def short_answer(self, pair: QAPair) -> str:
        return pair.answer[:120]

    @admin.display(description="grounding")
    def grounding(self, pair: QAPair):
        return pair.scores.get("grounding")

    @admin.display(description="answerability")
    def answerability(self, pair: QAPair):
        return pair.scores.get("answerability")

    @admin.display(description="source chunk")
    def chunk_text(self, pair: QAPair) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", pair.chunk.text if pair.chunk else "-")

    def save_model(self, request, obj, form, change):
        if change and ({"question", "answer"} & set(form.changed_data)):
            obj.edited = True
        if "status" in form.changed_data and obj.status != QAPair.Status.REJECTED:
            obj.reject_reason = ""  # as the bulk actions do: a filter's verdict no longer stands
        super().save_model(request, obj, form, change)

    def _set(self, request, queryset, status: str) -> None:
        count = 0
        for team_id in set(queryset.values_list("team_id", flat=True)):
            from docsbot.qa.services import pairs_set_status

            count += pairs_set_status(team=Team.objects.get(pk=team_id), status=status,
                                      pair_ids=queryset.filter(team_id=team_id).values_list("id", flat=True))
        self.message_user(request, f"{count} pair{'' if count == 1 else 's'} marked {status}.")

    @admin.action(description="Approve selected pairs")
    def approve(self, request, queryset):
        self._set(request, queryset, QAPair.Status.APPROVED)

    @admin.action(description="Reject selected pairs")
    def reject(self, request, queryset):
        self._set(request, queryset, QAPair.Status.REJECTED)

    @admin.action(description="Mark selected pairs pending")
    def mark_pending(self, request, queryset):
        self._set(request, queryset, QAPair.Status.PENDING)

    @admin.action(description="Export selected pairs as JSONL")
    def export_jsonl(self, request, queryset):
        from docsbot.qa.selectors import pairs_export_jsonl

        teams = set(queryset.values_list("team_id", flat=True))
        body = "".join(line for team_id in teams for line in pairs_export_jsonl(
            team=Team.objects.get(pk=team_id), pairs=queryset.filter(team_id=team_id)))
        response = HttpResponse(body, content_type="application/jsonl")
        response["Content-Disposition"] = 'attachment; filename="pairs.jsonl"'
        return response

    def changelist_view(self, request, extra_context=None):
        from django.db.models import Count

        counts = self.get_queryset(request).values("status").annotate(n=Count("id")).order_by("status")
        team = request.GET.get("team__id__exact")
        if team:
            counts = counts.filter(team_id=team)
        extra_context = {**(extra_context or {}), "status_counts": {row["status"]: row["n"] for row in counts}}
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="qa_qapair_import"),
                *super().get_urls()]

    def import_view(self, request):
        from docsbot.qa.services import pairs_import_jsonl

        # Imported pairs are stored approved and go into the team's next adapter: the add permission
        # is required, and only the teams the user administers are offered (admin_view checks only is_staff).
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                report = pairs_import_jsonl(team=form.cleaned_data["team"],
                                            lines=form.cleaned_data["file"].read().splitlines())
            self.message_user(request, f"{report.imported} pairs imported.")
            for error in report.errors[:50]:
                self.message_user(request, f"line {error['line']}: {error['error']}", level=messages.ERROR)
            return redirect("admin:qa_qapair_changelist")
        return render(request, "admin/qa/qapair/import.html",
                      {**self.admin_site.each_context(request), "form": form, "title": "Import pairs (JSONL)",
                       "opts": self.model._meta})


class RunForm(forms.ModelForm):
    class Meta:
        model = GenerationRun
        fields = ["team", "generator"]
        widgets = {"generator": forms.Select(choices=[("structural", "structural"), ("llm", "llm")])}


@admin.register(GenerationRun)
class GenerationRunAdmin(TeamScopedAdmin):
    """Adding a run starts it as a Celery job; the list shows its progress bar."""

    form = RunForm
    list_display = ["id", "team", "generator", "status", "progress", "kept", "created", "finished", "error"]
    list_filter = ["team", "status", "generator"]
    readonly_fields = ["status", "done", "total", "summary", "error", "created", "finished"]

    class Media:
        js = ["core/live_changelist.js"]  # the list's progress moves while a row is queued or running

    def get_readonly_fields(self, request, obj=None):
        # A started run is a record: its team and generator are what ran.
        return [*self.readonly_fields, *(["team", "generator"] if obj is not None else [])]

    @admin.display(description="progress")
    def progress(self, run: GenerationRun) -> str:
        return format_html('<progress value="{}" max="100" style="width:10em"></progress> {}%', run.percent,
                           run.percent)

    @admin.display(description="kept")
    def kept(self, run: GenerationRun):
        return run.summary.get("kept", "")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        from docsbot.qa.services import generation_run_start

        try:
            run = generation_run_start(team=obj.team, generator=obj.generator)
        except AppError as exc:
            admin_error(self, request, exc)
            return
        obj.pk = run.pk
        self.message_user(request, f"Generation run #{run.pk} queued; reload this page to follow its progress.")

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("admin:qa_generationrun_changelist")


@admin.register(QATeamSettings)
class QATeamSettingsAdmin(TeamScopedAdmin):
    list_display = ["team", "generator", "heldout_percent", "include_changelog"]


@admin.register(ChunkRejection)
class ChunkRejectionAdmin(TeamScopedAdmin):
    list_display = ["team", "generator", "reason", "detail", "chunk", "created"]
    list_filter = ["team", "generator", "reason"]
    raw_id_fields = ["chunk"]
