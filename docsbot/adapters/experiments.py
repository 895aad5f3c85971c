"""A/B experiments of adapter versions on live traffic (issue 20, item 2).

A candidate version answers ``traffic_share`` of the team's conversations, picked by a stable hash
of the experiment and conversation ids (a conversation never switches version while it runs). The
candidate is served as its own adapter name next to the live one (``team-<slug>.v<N>``): a LoRA
adapter on the same base model, so both versions cost no extra base-model memory.

Per version: answers, thumbs up/down, the thumbs-up share of rated answers (the primary metric),
the not-covered rate (answers saying the docs do not cover the question), the source-click rate (answers
with sources whose user opened one), latency. The decision
is a two-sided Fisher exact test on the primary metric, sequential (``Look``): tested once when each
version has ``min_rated`` rated answers, then at 2x, 4x, ... that, at alpha / 2, alpha / 4, ...: a
significantly better candidate is promoted, a significantly worse one (or one that says "not covered"
significantly more often) is rolled back; undecided at ``ends_by``, the experiment times out and the
control stays live.

Over 400 lines because the figures, the tests and the decision read the same per-version counts;
split, each part would re-query them.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from docsbot.adapters.events import event_record
from docsbot.adapters.models import AdapterVersion, Event, Experiment
from docsbot.core.errors import REFUSED, AppError
from docsbot.teams.models import Team

log = logging.getLogger(__name__)
DEFAULT_DAYS = 14
POWER_Z = 0.8416  # 80 % power
MIN_DETECTABLE = 0.05  # smallest difference in thumbs-up share the sample size is planned for


# --- serving the candidate ------------------------------------------------------------------

def candidate_adapter_name(team_slug: str, number: int) -> str:
    """A served name no team's live name can take: slugs have no dots."""
    from docsbot.core.serving import team_adapter_name

    return f"{team_adapter_name(team_slug)}.v{number}"


def candidate_publish(*, version: AdapterVersion) -> None:
    """Serve ``version`` under its own name (hot-loaded when serving is up, and a link in ADAPTER_DIR
    for the filesystem resolver), next to the team's live adapter on the same base model."""
    from docsbot.core.serving import serving_client

    path = Path(version.path).resolve()
    if not (path / "adapter_config.json").is_file():
        raise ValidationError(f"version {version.number} has no adapter at {path}")
    name = candidate_adapter_name(version.team.slug, version.number)
    if settings.SERVING_URL:
        client = serving_client()
        try:
            if client.health():
                client.load_adapter(name=name, path=str(path), inplace=True)
        except Exception as exc:
            raise AppError(f"serving did not take version {version.number}: {exc}", code="conflict") from exc
    adapter_dir = Path(settings.ADAPTER_DIR)
    adapter_dir.mkdir(parents=True, exist_ok=True)
    temporary = adapter_dir / f".{name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(path, target_is_directory=True)
    os.replace(temporary, adapter_dir / name)


def candidate_unpublish(*, version: AdapterVersion) -> None:
    from docsbot.core.serving import serving_client

    name = candidate_adapter_name(version.team.slug, version.number)
    (Path(settings.ADAPTER_DIR) / name).unlink(missing_ok=True)
    if settings.SERVING_URL:
        try:
            serving_client().unload_adapter(name=name)
        except Exception as exc:  # it is dropped from the server's cache in time; nothing routes to it
            log.info("could not unload %s: %s", name, exc, exc_info=True)


def candidate_release(*, team: Team, number: int) -> None:
    """Stop serving the team's candidate version ``number`` under its own name (after ``ask
    --adapter-version`` tried it), unless a running experiment routes traffic to it."""
    version = AdapterVersion.objects.filter(team=team, number=number).select_related("team").first()
    if version is None or version.status != AdapterVersion.Status.CANDIDATE:
        return
    if Experiment.objects.filter(candidate=version, status=Experiment.Status.RUNNING).exists():
        return
    candidate_unpublish(version=version)


# --- routing --------------------------------------------------------------------------------

def experiment_running(*, team: Team) -> Experiment | None:
    return (Experiment.objects.filter(team=team, status=Experiment.Status.RUNNING)
            .select_related("control", "candidate").first())


def assigned_to_candidate(*, experiment: Experiment, conversation_key: str) -> bool:
    """Stable: the same experiment and conversation always give the same answer."""
    digest = hashlib.sha256(f"experiment:{experiment.pk}:{conversation_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < experiment.traffic_share


def experiment_version_for(*, team: Team, live: AdapterVersion, conversation_key: str | None
                           ) -> tuple[str, AdapterVersion] | None:
    """(served name, version) of the candidate when the conversation is in its share, else None (the
    live version answers). An experiment whose control is no longer live routes nothing."""
    if not conversation_key:
        return None
    experiment = experiment_running(team=team)
    if experiment is None or experiment.control_id != live.pk:
        return None
    if not assigned_to_candidate(experiment=experiment, conversation_key=conversation_key):
        return None
    return candidate_adapter_name(team.slug, experiment.candidate.number), experiment.candidate


# --- start / end ----------------------------------------------------------------------------

def experiment_start(*, team: Team, candidate: AdapterVersion, traffic_share: float = 0.5,
                     control: AdapterVersion | None = None, days: float = DEFAULT_DAYS, min_rated: int = 30,
                     alpha: float = 0.05, reason: str = "", actor: str = "auto") -> Experiment:
    live = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).first()
    control = control or live
    if control is None:
        raise ValidationError("the team has no live version to compare with; promote one first")
    if control != live:
        raise ValidationError(f"the control must be the live version (v{live.number if live else '-'}), "
                              f"not v{control.number}")
    if candidate.team_id != team.pk or control.team_id != team.pk:
        raise ValidationError("both versions must belong to the team")
    if candidate.pk == control.pk:
        raise ValidationError("the candidate is the live version")
    if not 0 < traffic_share < 1:
        raise ValidationError(f"traffic_share: between 0 and 1 (exclusive), got {traffic_share!r}")
    if not 0 < alpha < 0.5:
        raise ValidationError(f"alpha: between 0 and 0.5, got {alpha!r}")
    if min_rated < 1 or days <= 0:
        raise ValidationError("min_rated and days must be positive")
    if candidate.base_model != control.base_model:
        raise ValidationError("the candidate was trained on another base model than the live version")
    if experiment_running(team=team) is not None:
        raise AppError("the team already runs an experiment; end it first", code="conflict")
    candidate_publish(version=candidate)
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=team, control=control, candidate=candidate, traffic_share=traffic_share, min_rated=min_rated,
                alpha=alpha, ends_by=timezone.now() + timedelta(days=days))
            event_record(team=team, kind=Event.Kind.EXPERIMENT_STARTED, actor=actor, experiment=experiment,
                         version=candidate,
                         reason=reason or f"A/B: v{candidate.number} answers {traffic_share:.0%} of conversations "
                                          f"against live v{control.number} for up to {days:g} days",
                         data={"control": control.number, "candidate": candidate.number,
                               "traffic_share": traffic_share})
    except IntegrityError:
        raise AppError("the team already runs an experiment; end it first", code="conflict") from None
    return experiment


def experiment_end(*, experiment: Experiment, outcome: str, reason: str, actor: str = "auto") -> Experiment:
    """End by promoting the candidate, rolling it back (retired, the control stays live), timing out
    or cancelling (both leave the candidate a candidate)."""
    from docsbot.adapters.services import adapter_version_promote

    if outcome not in (Experiment.Outcome.PROMOTED, Experiment.Outcome.ROLLED_BACK, Experiment.Outcome.TIMED_OUT,
                       Experiment.Outcome.CANCELLED):
        raise ValidationError(f"outcome: promoted, rolled_back, timed_out or cancelled; got {outcome!r}")
    results = experiment_results(experiment=experiment)
    if outcome == Experiment.Outcome.PROMOTED:
        if not Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.RUNNING).exists():
            raise AppError(f"experiment {experiment.pk} has already ended", code="conflict")
        # First: a candidate serving rejects is not promoted, and the experiment keeps running.
        adapter_version_promote(version=experiment.candidate, actor=actor,
                                reason=f"A/B experiment {experiment.pk}: {reason}")
    with transaction.atomic():
        ended = Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.RUNNING).update(
            status=Experiment.Status.ENDED, outcome=outcome, reason=reason, ended=timezone.now(), results=results)
        if not ended:
            raise AppError(f"experiment {experiment.pk} has already ended", code="conflict")
        if outcome == Experiment.Outcome.ROLLED_BACK:
            AdapterVersion.objects.filter(pk=experiment.candidate_id, status=AdapterVersion.Status.CANDIDATE) \
                .update(status=AdapterVersion.Status.RETIRED)
        experiment.refresh_from_db()
        event_record(team=experiment.team, kind=Event.Kind.EXPERIMENT_ENDED, actor=actor, experiment=experiment,
                     version=experiment.candidate, reason=f"{experiment.get_outcome_display()}: {reason}",
                     data={"outcome": outcome, "results": results})
    candidate_unpublish(version=experiment.candidate)
    return experiment


# --- figures and the decision ---------------------------------------------------------------

def _version_figures(experiment: Experiment, version: AdapterVersion) -> dict[str, Any]:
    from docsbot.chat.models import Message
    from docsbot.core.prompts import NO_ANSWER
    from training.stats import wilson_interval  # torch-free

    answers = Message.objects.filter(team=experiment.team, role=Message.Role.ASSISTANT, failed=False,
                                     adapter_version=version.number, created__gte=experiment.started)
    if experiment.ended:
        answers = answers.filter(created__lte=experiment.ended)
    rows = list(answers.values_list("content", "timings", "feedback__rating", "no_relevant_docs"))
    with_sources = answers.exclude(sources=[])
    clicked = with_sources.filter(source_clicks__isnull=False).distinct().count()
    shown = with_sources.count()
    n = len(rows)
    up = sum(1 for _, _, rating, _ in rows if rating == 1)
    down = sum(1 for _, _, rating, _ in rows if rating == -1)
    # not covered: retrieval found nothing, the answer was withheld (no_relevant_docs), or the model said so
    not_covered = sum(1 for content, _, _, flagged in rows if flagged or content.startswith(NO_ANSWER))
    latencies = [t.get("generation_ms", 0) + t.get("retrieval_ms", 0) + t.get("prompt_ms", 0)
                 for _, t, _, _ in rows if t and "generation_ms" in t]
    rated = up + down
    low, high = wilson_interval(up, rated)
    click_low, click_high = wilson_interval(clicked, shown)
    return {
        "version": version.number, "answers": n, "thumbs_up": up, "thumbs_down": down, "rated": rated,
        "thumbs_up_rate": round(up / rated, 4) if rated else None,
        "thumbs_up_rate_ci": [round(low, 4), round(high, 4)],
        "thumbs_down_rate": round(down / rated, 4) if rated else None,
        "feedback_rate": round(rated / n, 4) if n else None,
        "not_covered": not_covered, "not_covered_rate": round(not_covered / n, 4) if n else None,
        # answers with sources where the user opened at least one (widget clicks, Slack links via docsbot)
        "answers_with_sources": shown, "source_clicked": clicked,
        "source_click_rate": round(clicked / shown, 4) if shown else None,
        "source_click_rate_ci": [round(click_low, 4), round(click_high, 4)],
        "latency_ms_median": round(median(latencies), 1) if latencies else None,
        "latency_ms_mean": round(sum(latencies) / len(latencies), 1) if latencies else None,
    }


def fisher_exact(a_yes: int, a_n: int, b_yes: int, b_n: int) -> float:
    """Two-sided Fisher exact test of two proportions (a_yes/a_n vs b_yes/b_n): the probability,
    with the margins fixed, of a table at most as likely as the observed one."""
    total, yes = a_n + b_n, a_yes + b_yes
    if not a_n or not b_n or yes in (0, total):
        return 1.0

    def log_p(k: int) -> float:  # hypergeometric: k of the yes in group a
        return (_log_comb(a_n, k) + _log_comb(b_n, yes - k)) - _log_comb(total, yes)

    observed = log_p(a_yes)
    low, high = max(0, yes - b_n), min(a_n, yes)
    p = sum(math.exp(log_p(k)) for k in range(low, high + 1) if log_p(k) <= observed + 1e-9)
    return min(1.0, p)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def sample_size_per_version(p1: float, p2: float, *, alpha: float, min_difference: float = MIN_DETECTABLE) -> int:
    """Rated answers per version to detect the difference between p1 and p2 (at least
    ``min_difference``) with a two-sided test at ``alpha`` and 80 % power (normal approximation)."""
    from statistics import NormalDist

    diff = max(abs(p2 - p1), min_difference)
    centre = (p1 + p2) / 2
    q1 = min(max(centre - diff / 2, 0.001), 0.999)
    q2 = min(max(centre + diff / 2, 0.001), 0.999)
    z_alpha = NormalDist().inv_cdf(1 - alpha / 2)
    pooled = (q1 + q2) / 2
    numerator = (z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + POWER_Z * math.sqrt(q1 * (1 - q1) + q2 * (1 - q2)))
    return math.ceil(numerator ** 2 / diff ** 2)


@dataclass(frozen=True)
class Look:
    """One interim test of a sequential design. The decision is tested once each time the rated answers
    per version reach ``min_rated``, then 2x, 4x, 8x ``min_rated`` (look k = 1, 2, 3, ...), at level
    alpha / 2^k: by the union bound the chance of a wrong decision stays under alpha however long the
    experiment runs. Testing at alpha after every vote instead ("peeking") would end far more
    experiments on chance than alpha says."""

    number: int
    alpha: float


def look_reached(*, experiment: Experiment, rated: int) -> Look | None:
    """The latest look ``rated`` answers per version have reached (None below ``min_rated``)."""
    if rated < experiment.min_rated:
        return None
    number = int(math.log2(rated / experiment.min_rated)) + 1
    return Look(number, experiment.alpha / 2 ** number)


def look_due(*, experiment: Experiment, rated: int) -> Look | None:
    """The look the experiment has reached with ``rated`` answers per version and not yet taken."""
    look = look_reached(experiment=experiment, rated=rated)
    return look if look and look.number > experiment.looks else None


def experiment_results(*, experiment: Experiment) -> dict[str, Any]:
    """Both versions' figures, the tests (significant at the level of the look they have reached), and
    the rated answers each version still needs."""
    control = _version_figures(experiment, experiment.control)
    candidate = _version_figures(experiment, experiment.candidate)
    p_up = fisher_exact(control["thumbs_up"], control["rated"], candidate["thumbs_up"], candidate["rated"])
    p_nc = fisher_exact(control["not_covered"], control["answers"], candidate["not_covered"], candidate["answers"])
    p1 = control["thumbs_up_rate"] if control["thumbs_up_rate"] is not None else 0.5
    p2 = candidate["thumbs_up_rate"] if candidate["thumbs_up_rate"] is not None else p1
    needed = max(experiment.min_rated, sample_size_per_version(p1, p2, alpha=experiment.alpha))
    reached = look_reached(experiment=experiment, rated=min(control["rated"], candidate["rated"]))
    level = reached.alpha if reached else None
    next_look = experiment.looks + 1
    return {
        "control": control, "candidate": candidate,
        "thumbs_up_difference": round(p2 - p1, 4) if control["rated"] and candidate["rated"] else None,
        "significance": {"thumbs_up": {"test": "Fisher exact, two-sided", "p_value": round(p_up, 6),
                                       "significant": level is not None and p_up < level},
                         "not_covered": {"test": "Fisher exact, two-sided", "p_value": round(p_nc, 6),
                                         "significant": level is not None and p_nc < level},
                         "alpha": experiment.alpha, "alpha_now": level,
                         "sequential": {"looks_done": experiment.looks,
                                        "next_look_at_rated": experiment.min_rated * 2 ** experiment.looks,
                                        "next_look_alpha": experiment.alpha / 2 ** next_look}},
        "rated_needed_per_version": needed,
        "rated_still_needed": {"control": max(0, needed - control["rated"]),
                               "candidate": max(0, needed - candidate["rated"])},
    }


def experiment_decide(*, experiment: Experiment, now=None, look: Look | None | bool = True,
                      results: dict[str, Any] | None = None) -> tuple[str, str] | None:
    """(outcome, reason) when the experiment should end now, else None. It ends on significance only at a
    look (``Look``; True: the one due now, without taking it), and at its deadline. ``results``: the
    experiment's figures when the caller has them already."""
    results = results or experiment_results(experiment=experiment)
    control, candidate = results["control"], results["candidate"]
    if look is True:
        look = look_due(experiment=experiment, rated=min(control["rated"], candidate["rated"]))
    tests = results["significance"]
    now = now or timezone.now()
    live = AdapterVersion.objects.filter(team=experiment.team, status=AdapterVersion.Status.PROMOTED).first()
    if live is None or live.pk != experiment.control_id:
        return Experiment.Outcome.CANCELLED, "the control is no longer the live version"
    figures = (f"thumbs-up v{candidate['version']} {_pct(candidate['thumbs_up_rate'])} of {candidate['rated']} "
               f"rated vs v{control['version']} {_pct(control['thumbs_up_rate'])} of {control['rated']} "
               f"(Fisher p={tests['thumbs_up']['p_value']:.3g}, look {look.number if look else '-'} at alpha "
               f"{look.alpha if look else experiment.alpha:.3g}); not covered "
               f"{_pct(candidate['not_covered_rate'])} vs {_pct(control['not_covered_rate'])} "
               f"(p={tests['not_covered']['p_value']:.3g})")
    thumbs = bool(look) and tests["thumbs_up"]["p_value"] < look.alpha
    worse_coverage = bool(look) and tests["not_covered"]["p_value"] < look.alpha and \
        candidate["not_covered_rate"] > control["not_covered_rate"]
    if thumbs:
        if candidate["thumbs_up_rate"] > control["thumbs_up_rate"]:
            if not worse_coverage:
                return Experiment.Outcome.PROMOTED, f"the candidate is significantly better: {figures}"
        else:
            return Experiment.Outcome.ROLLED_BACK, f"the candidate is significantly worse: {figures}"
    if worse_coverage:
        return Experiment.Outcome.ROLLED_BACK, f"the candidate says 'not covered' significantly more: {figures}"
    if now >= experiment.ends_by:
        return Experiment.Outcome.TIMED_OUT, f"no significant difference by {experiment.ends_by:%Y-%m-%d %H:%M}: {figures}"
    return None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def experiment_evaluate(*, experiment: Experiment, now=None) -> Experiment:
    """Take the look that is due, once (concurrent evaluations cannot test the same look twice), and end
    the experiment when it decides."""
    results = experiment_results(experiment=experiment)
    look = look_due(experiment=experiment, rated=min(results["control"]["rated"], results["candidate"]["rated"]))
    if look and not Experiment.objects.filter(pk=experiment.pk, looks__lt=look.number).update(looks=look.number):
        look = None  # another evaluation took it
    if look:
        experiment.looks = look.number
    decision = experiment_decide(experiment=experiment, now=now, look=look, results=results)
    if decision is None:
        return experiment
    outcome, reason = decision
    try:
        return experiment_end(experiment=experiment, outcome=outcome, reason=reason, actor="auto")
    except REFUSED as exc:
        log.warning("experiment %s: could not end (%s): %s", experiment.pk, outcome, exc)
        return experiment


def experiments_evaluate(*, team_id: int | None = None, now=None) -> list[str]:
    """Evaluate every running experiment (of one team); the outcomes reached."""
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).select_related("team", "control",
                                                                                       "candidate")
    if team_id is not None:
        running = running.filter(team_id=team_id)
    outcomes = []
    for experiment in running:
        experiment = experiment_evaluate(experiment=experiment, now=now)
        if experiment.outcome:
            outcomes.append(experiment.outcome)
    return outcomes


def experiment_list(*, team: Team) -> QuerySet[Experiment]:
    return Experiment.objects.filter(team=team).select_related("control", "candidate")


def experiment_get(*, team: Team, experiment_id: int) -> Experiment | None:
    return experiment_list(team=team).filter(pk=experiment_id).first()


def feedback_evaluate_soon(*, team_id: int) -> None:
    """A new vote may decide the team's experiment: evaluate it in a worker once committed."""
    if not Experiment.objects.filter(team_id=team_id, status=Experiment.Status.RUNNING).exists():
        return
    from docsbot.adapters.tasks import experiments_evaluate as task

    def send() -> None:
        try:
            task.apply_async(args=[team_id], queue="default")
        except Exception:
            log.exception("could not queue the evaluation of team %s's experiment", team_id)

    transaction.on_commit(send)
