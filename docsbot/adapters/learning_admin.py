"""Admin pages of continuous learning (issue 20): A/B experiments with their figures, the audit trail
of events (with a revert action), and each team's retrain-on-change settings."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from docsbot.adapters import events, experiments
from docsbot.adapters.models import AdapterVersion, Event, Experiment, RetrainPolicy
from docsbot.core.errors import REFUSED, admin_error
from docsbot.teams.admin_scope import TeamScopedAdmin


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


class ExperimentAddForm(forms.ModelForm):
    days = forms.FloatField(initial=experiments.DEFAULT_DAYS, min_value=0.01,
                            help_text="Times out (the live version stays) if undecided after this many days.")

    class Meta:
        model = Experiment
        fields = ["team", "candidate", "traffic_share", "min_rated", "alpha"]

    def clean(self):
        data = super().clean()
        team, candidate = data.get("team"), data.get("candidate")
        if team and candidate and candidate.team_id != team.pk:
            raise ValidationError("the candidate must be one of the team's versions")
        return data


@admin.register(Experiment)
class ExperimentAdmin(TeamScopedAdmin):
    list_display = ["id", "team", "candidate_number", "control_number", "traffic_share", "status", "outcome",
                    "thumbs_up", "p_value", "still_needed", "started", "ended"]
    list_filter = ["status", "outcome", "team"]
    list_select_related = ["team", "control", "candidate"]
    readonly_fields = ["team", "control", "candidate", "traffic_share", "status", "outcome", "reason", "min_rated",
                       "alpha", "ends_by", "figures", "started", "ended"]
    exclude = ["results"]
    actions = ["end_promote", "end_rollback", "evaluate_now"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ExperimentAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_exclude(self, request, obj=None):
        return self.exclude if obj is not None else None

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["team", "candidate", "traffic_share", "days", "min_rated", "alpha"]
        return super().get_fields(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of what was decided stays

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            started = experiments.experiment_start(
                team=obj.team, candidate=obj.candidate, traffic_share=obj.traffic_share,
                days=form.cleaned_data["days"], min_rated=obj.min_rated, alpha=obj.alpha, actor=_actor(request))
        except REFUSED as exc:
            # Reported on the next page; nothing was created.
            admin_error(self, request, exc)
            obj.pk = None
            return
        # The form's instance becomes the started experiment: the admin logs it and redirects with it.
        for field in Experiment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(started, field.attname))

    def log_addition(self, request, obj, message):
        if obj.pk is not None:  # a refused start created nothing to log
            super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            from django.shortcuts import redirect
            from django.urls import reverse

            return redirect(reverse("admin:adapters_experiment_add"))
        return super().response_add(request, obj, post_url_continue)

    def _results(self, experiment: Experiment) -> dict:
        if experiment.status == Experiment.Status.RUNNING:
            if not hasattr(experiment, "_live_results"):
                experiment._live_results = experiments.experiment_results(experiment=experiment)
            return experiment._live_results
        return experiment.results or {}

    @admin.display(description="candidate")
    def candidate_number(self, experiment):
        return f"v{experiment.candidate.number}"

    @admin.display(description="control")
    def control_number(self, experiment):
        return f"v{experiment.control.number}"

    @admin.display(description="thumbs-up cand. / ctrl.")
    def thumbs_up(self, experiment):
        results = self._results(experiment)
        if not results:
            return "–"
        return f"{_pct(results['candidate']['thumbs_up_rate'])} / {_pct(results['control']['thumbs_up_rate'])}"

    @admin.display(description="p (thumbs-up)")
    def p_value(self, experiment):
        results = self._results(experiment)
        return f"{results['significance']['thumbs_up']['p_value']:.3g}" if results else "–"

    @admin.display(description="rated answers still needed")
    def still_needed(self, experiment):
        results = self._results(experiment)
        if not results:
            return "–"
        needed = results["rated_still_needed"]
        return f"{needed['candidate']} / {needed['control']}"

    @admin.display(description="per version")
    def figures(self, experiment):
        results = self._results(experiment)
        if not results:
            return "–"
        rows = [("answers", "answers"), ("rated (up / down)", None), ("thumbs-up rate (95% CI)", None),
                ("not-covered rate", "not_covered_rate"), ("source-click rate (95% CI)", None),
                ("median latency (ms)", "latency_ms_median"),
                ("rated answers still needed", None)]

        def cell(side: str, label: str, key: str | None) -> str:
            figures = results[side]
            if label.startswith("rated ("):
                return f"{figures['rated']} ({figures['thumbs_up']} / {figures['thumbs_down']})"
            if label.startswith("thumbs-up"):
                low, high = figures["thumbs_up_rate_ci"]
                return f"{_pct(figures['thumbs_up_rate'])} ({_pct(low)}–{_pct(high)})"
            if label.startswith("source-click"):
                low, high = figures["source_click_rate_ci"]
                return (f"{_pct(figures['source_click_rate'])} ({_pct(low)}–{_pct(high)}) of "
                        f"{figures['answers_with_sources']}")
            if label.startswith("rated answers"):
                return str(results["rated_still_needed"][side])
            value = figures.get(key)
            return _pct(value) if key and key.endswith("_rate") else ("–" if value is None else str(value))

        body = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
                                ((label, cell("candidate", label, key), cell("control", label, key))
                                 for label, key in rows))
        tests = results["significance"]
        return format_html(
            "<table><tr><th></th><th>candidate v{}</th><th>control v{}</th></tr>{}</table>"
            "<p>thumbs-up: {} p={} · not covered: p={} · alpha {}</p>",
            results["candidate"]["version"], results["control"]["version"], body, tests["thumbs_up"]["test"],
            f"{tests['thumbs_up']['p_value']:.3g}", f"{tests['not_covered']['p_value']:.3g}", tests["alpha"])

    def _end(self, request, queryset, outcome: str) -> None:
        for experiment in queryset.filter(status=Experiment.Status.RUNNING):
            try:
                experiments.experiment_end(experiment=experiment, outcome=outcome, actor=_actor(request),
                                           reason=f"ended in the admin by {request.user.get_username()}")
                self.message_user(request, f"experiment {experiment.pk}: {outcome}")
            except REFUSED as exc:
                admin_error(self, request, exc)

    @admin.action(description="End: promote the candidate")
    def end_promote(self, request, queryset):
        self._end(request, queryset, Experiment.Outcome.PROMOTED)

    @admin.action(description="End: roll the candidate back")
    def end_rollback(self, request, queryset):
        self._end(request, queryset, Experiment.Outcome.ROLLED_BACK)

    @admin.action(description="Evaluate now (apply the decision rule)")
    def evaluate_now(self, request, queryset):
        for experiment in queryset.filter(status=Experiment.Status.RUNNING):
            experiment = experiments.experiment_evaluate(experiment=experiment)
            self.message_user(request, f"experiment {experiment.pk}: {experiment.outcome or 'still running'}")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


@admin.register(Event)
class EventAdmin(TeamScopedAdmin):
    list_display = ["created", "team", "kind", "reason", "actor", "job", "version_number", "reverted"]
    list_filter = ["kind", "actor", "team"]
    search_fields = ["reason"]
    list_select_related = ["team", "version", "job"]
    readonly_fields = ["team", "kind", "reason", "actor", "data", "job", "version", "experiment", "reverted_by",
                       "created"]
    actions = ["revert"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="version")
    def version_number(self, event):
        return f"v{event.version.number}" if event.version_id else "–"

    @admin.display(description="reverted", boolean=True)
    def reverted(self, event):
        return event.reverted_by_id is not None

    @admin.action(description="Revert the selected actions")
    def revert(self, request, queryset):
        if not self.has_change_permission(request):
            self.message_user(request, "you may not change events", level=messages.ERROR)
            return
        for event in queryset:
            try:
                undo = events.event_revert(event=event, actor=_actor(request))
                self.message_user(request, undo.reason)
            except REFUSED as exc:
                admin_error(self, request, exc, prefix=f"event {event.pk}: ")


@admin.register(RetrainPolicy)
class RetrainPolicyAdmin(TeamScopedAdmin):
    list_display = ["team", "enabled", "threshold_chunks", "threshold_percent", "schedule", "schedule_hour",
                    "baseline_at", "due_at"]
    list_filter = ["enabled", "schedule"]
    fields = ["team", "enabled", "threshold_chunks", "threshold_percent", "schedule", "schedule_hour", "due_at",
              "baseline_at", "pending"]
    readonly_fields = ["baseline_at", "pending"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "team"] if obj is not None else self.readonly_fields


__all__ = ["AdapterVersion", "EventAdmin", "ExperimentAdmin", "RetrainPolicyAdmin"]
