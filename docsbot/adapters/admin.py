"""Admin: training jobs with live progress, loss chart, events and a cancel button; versions with
their evaluation and a promote action."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from docsbot.adapters.models import AdapterVersion, TrainingEvent, TrainingJob
from docsbot.adapters.selectors import training_curve
from docsbot.adapters.services import (
    adapter_version_promote,
    adapter_version_rollback,
    training_job_cancel,
)
from docsbot.core.errors import REFUSED, admin_error
from docsbot.teams.admin_scope import TeamScopedAdmin


class TrainingEventInline(admin.TabularInline):
    model = TrainingEvent
    extra = 0
    can_delete = False
    fields = ["created", "level", "type", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(type=TrainingEvent.Type.METRICS)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(TeamScopedAdmin):
    change_form_template = "admin/adapters/trainingjob/change_form.html"
    list_display = ["id", "team", "method", "status", "progress", "loss", "created", "finished"]
    list_filter = ["status", "method", "team"]
    inlines = [TrainingEventInline]
    readonly_fields = ["team", "status", "method", "hyperparameters", "config", "base_model", "step", "total_steps",
                       "loss", "eta_seconds", "cancel_requested", "lease_owner", "lease_expires", "attempts",
                       "celery_task_id", "error", "created", "started", "finished", "trigger", "reason", "changes"]
    actions = ["cancel_jobs"]
    list_select_related = ["team"]

    class Media:
        js = ["core/live_changelist.js"]  # the list's progress moves while a row is queued or running

    def has_add_permission(self, request) -> bool:
        return False  # jobs start from the API, the train command, or the teams page's "Train" action

    @admin.display(description="progress")
    def progress(self, job: TrainingJob) -> str:
        percent = 100 * job.step / job.total_steps if job.total_steps else 0
        return format_html('<progress max="100" value="{}"></progress> {}/{}', f"{percent:.0f}", job.step,
                           job.total_steps or "?")

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            if not job.is_finished:
                training_job_cancel(job=job)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:job_id>/progress/", wrap(self.progress_view), name="adapters_trainingjob_progress"),
            path("<int:job_id>/cancel/", wrap(self.cancel_view), name="adapters_trainingjob_cancel"),
            *super().get_urls(),
        ]

    def _job(self, request, job_id: int) -> TrainingJob:
        job = get_object_or_404(self.get_queryset(request), pk=job_id)  # scoped: another team's is a 404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def progress_view(self, request, job_id: int) -> JsonResponse:
        job = self._job(request, job_id)
        events = job.events.exclude(type=TrainingEvent.Type.METRICS).order_by("-id")[:30]
        # Past its last step a running job is evaluating or refitting: its latest event says which.
        after_steps = job.status == TrainingJob.Status.RUNNING and job.total_steps and job.step >= job.total_steps
        return JsonResponse({
            "now": events[0].message[:160] if after_steps and events else "",
            "status": job.status, "step": job.step, "total_steps": job.total_steps, "loss": job.loss,
            "eta_seconds": job.eta_seconds, "error": job.error, "finished": job.is_finished,
            "curve": training_curve(job=job),
            "events": [{"created": e.created.isoformat(timespec="seconds"), "level": e.level, "message": e.message}
                       for e in reversed(events)],
        })

    def cancel_view(self, request, job_id: int):
        if request.method != "POST":
            raise PermissionDenied
        job = self._job(request, job_id)
        if not self.has_change_permission(request, job):
            raise PermissionDenied
        try:
            training_job_cancel(job=job)
            self.message_user(request, f"cancel requested for job {job.pk}")
        except REFUSED as exc:
            admin_error(self, request, exc)
        return redirect(reverse("admin:adapters_trainingjob_change", args=[job.pk]))


@admin.register(AdapterVersion)
class AdapterVersionAdmin(TeamScopedAdmin):
    list_display = ["team", "number", "status", "method", "rank", "f1_base", "f1_adapter", "rouge_l_adapter",
                    "forgetting", "servable", "created"]
    list_filter = ["status", "method", "team"]
    readonly_fields = ["team", "job", "number", "path", "method", "rank", "base_model", "status", "servable_by",
                       "metrics", "curve", "dataset_hash", "pair_ids", "created", "promoted_at"]
    actions = ["promote", "rollback"]

    list_select_related = ["team"]

    def has_add_permission(self, request) -> bool:
        return False

    @staticmethod
    def _metric(version: AdapterVersion, side: str, name: str) -> str:
        value = (version.metrics.get("evaluation") or {}).get(side, {}).get(name)
        return "–" if value is None else f"{value:.3f}"

    @admin.display(description="F1 base")
    def f1_base(self, version):
        return self._metric(version, "base", "f1")

    @admin.display(description="F1 adapter")
    def f1_adapter(self, version):
        return self._metric(version, "adapter", "f1")

    @admin.display(description="ROUGE-L adapter")
    def rouge_l_adapter(self, version):
        return self._metric(version, "adapter", "rouge_l")

    @admin.display(description="forgetting (ppl ×)")
    def forgetting(self, version):
        value = (version.metrics.get("evaluation") or {}).get("forgetting_ppl_ratio")
        return "–" if value is None else f"{value:.3f}"

    @admin.display(description="servable by")
    def servable(self, version):
        return ", ".join(version.servable_by)

    @admin.action(description="Promote the selected version (one per team)")
    def promote(self, request, queryset):
        for version in queryset:
            try:
                adapter_version_promote(version=version, actor=f"admin:{request.user.get_username()}")
            except REFUSED as exc:
                admin_error(self, request, exc)
                continue
            kept = TrainingEvent.objects.filter(job_id=version.job_id, message__startswith=(
                f"kept version {version.number} as a candidate")).values_list("message", flat=True).first()
            if kept:
                self.message_user(request, f"{version.team} v{version.number} promoted by hand, although its gate "
                                           f"{kept.removeprefix(f'kept version {version.number} as a candidate')}"
                                           " — the previous version is one rollback away", level=messages.WARNING)
            else:
                self.message_user(request, f"{version.team} v{version.number} promoted")

    @admin.action(description="Roll back the selected versions' teams to their previously live version")
    def rollback(self, request, queryset):
        for team in {version.team for version in queryset}:
            try:
                live = adapter_version_rollback(team=team, actor=f"admin:{request.user.get_username()}")
            except REFUSED as exc:
                admin_error(self, request, exc)
                continue
            self.message_user(request, f"{team}: rolled back to v{live.number}")


from docsbot.adapters import learning_admin  # noqa: F401  (experiments, events, retrain policies)
