"""A/B experiments of adapter versions (issue 20, item 2) and the audit trail of events (item 4).

Answers are stored as the chat service stores them (a Message with the version that answered, a
Feedback row per vote); the routing is the chat service's own ``team_model``. No model runs."""
from __future__ import annotations

import json
import random
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from docsbot.adapters.events import event_revert
from docsbot.adapters.experiments import (
    experiment_decide,
    experiment_end,
    experiment_results,
    experiment_start,
    experiments_evaluate,
    fisher_exact,
    look_due,
    sample_size_per_version,
)
from docsbot.adapters.models import AdapterVersion, Event, Experiment
from docsbot.adapters.services import adapter_version_promote
from docsbot.chat.feedback import source_click_record
from docsbot.chat.models import Conversation, Feedback, Message
from docsbot.chat.prepare import NOT_FOUND
from docsbot.chat.routing import team_model
from docsbot.core.errors import AppError
from docsbot.core.prompts import NO_ANSWER


@pytest.fixture
def learning_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.ADAPTER_DIR = tmp_path / "data" / "adapters"
    settings.SERVING_URL = None
    settings.SERVING_BASE_MODEL_NAME = "tiny-base"  # the served base, without asking a serving process
    return settings


def version(team, number: int) -> AdapterVersion:
    path = Path(settings.ADAPTER_DIR) / ".versions" / team.slug / f"v{number}"
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    return AdapterVersion.objects.create(team=team, number=number, path=str(path), method="lora", rank=8,
                                         base_model="tiny")


@pytest.fixture
def versions(team, learning_settings):
    """v1 live, v2 a candidate."""
    v1 = adapter_version_promote(version=version(team, 1), actor="test")
    return v1, version(team, 2)


def answers(team, number: int, *, up: int = 0, down: int = 0, unrated: int = 0, not_covered: int = 0,
            latency_ms: float = 100.0, clicked: int = 0, withheld: int = 0) -> None:
    """Store answers of version ``number`` the way answer_finish does, with their votes; the first
    ``not_covered`` say the docs do not cover it (no sources), the next ``clicked`` had a source opened; the
    last ``withheld`` were withheld as unsupported by their documents (sources kept)."""
    votes = [1] * up + [-1] * down + [None] * unrated
    for index, rating in enumerate(votes):
        conversation = Conversation.objects.create(team=team)
        question = Message.objects.create(team=team, conversation=conversation, role="user", content="q?")
        text = NO_ANSWER if index < not_covered else "An answer [1]."
        sources = [] if index < not_covered else [{"index": 1, "title": "Page", "section": "", "url": "https://x/"}]
        unsupported = index >= len(votes) - withheld
        text = f"{NOT_FOUND} The closest sections are:\n- Page" if unsupported else text
        reply = Message.objects.create(team=team, conversation=conversation, role="assistant", content=text,
                                       no_relevant_docs=index < not_covered or unsupported,
                                       withheld="Invented. [1]" if unsupported else "",
                                       reply_to=question, adapter_version=number, model_name="m", sources=sources,
                                       timings={"retrieval_ms": 10.0, "prompt_ms": 1.0, "generation_ms": latency_ms})
        if not_covered <= index < not_covered + clicked:
            source_click_record(team=team, message_id=reply.pk, index=1)
            source_click_record(team=team, message_id=reply.pk, index=1)  # a second click counts once
        if rating is not None:
            Feedback.objects.create(team=team, message=reply, rating=rating)


def test_an_answer_withheld_as_unsupported_counts_as_not_covered(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2)
    answers(team, 2, unrated=4, withheld=1)
    assert experiment_results(experiment=experiment)["candidate"]["not_covered_rate"] == 0.25


def test_it_routes_a_stable_share_of_conversations_to_the_candidate(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2, traffic_share=0.3)
    link = Path(settings.ADAPTER_DIR) / "team-alpha.v2"  # served next to team-alpha, same base model
    assert link.is_symlink() and link.resolve() == Path(v2.path).resolve()
    conversations = [Conversation.objects.create(team=team) for _ in range(300)]
    first = [team_model(team=team, client=None, conversation=c) for c in conversations]
    again = [team_model(team=team, client=None, conversation=c) for c in reversed(conversations)][::-1]
    assert first == again  # a conversation never switches version
    on_candidate = [model for model in first if model[1] == 2]
    assert {model[0] for model in on_candidate} == {"team-alpha.v2"}
    assert {model[0] for model in first if model[1] == 1} == {"team-alpha"}
    assert 0.2 < len(on_candidate) / len(first) < 0.4
    assert team_model(team=team, client=None) == ("team-alpha", 1, None)  # no conversation: the live one
    experiment_end(experiment=experiment, outcome="cancelled", reason="test")
    assert {team_model(team=team, client=None, conversation=c)[1] for c in conversations} == {1}
    assert not link.exists()


def test_it_promotes_a_candidate_users_significantly_prefer(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2, traffic_share=0.5, min_rated=30)
    answers(team, 1, up=18, down=22, unrated=10)
    answers(team, 2, up=34, down=6, unrated=10)
    assert experiments_evaluate() == ["promoted"]
    experiment.refresh_from_db()
    v2.refresh_from_db()
    assert experiment.outcome == "promoted" and experiment.status == "ended" and v2.status == "promoted"
    assert "significantly better" in experiment.reason
    assert experiment.results["significance"]["thumbs_up"]["p_value"] < 0.05
    kinds = list(Event.objects.filter(team=team).values_list("kind", "actor"))
    assert ("experiment_ended", "auto") in kinds and ("promoted", "auto") in kinds
    promoted = Event.objects.get(team=team, kind="promoted", version=v2)
    assert promoted.reason.startswith(f"A/B experiment {experiment.pk}: the candidate is significantly better")
    assert promoted.data["previous_version"] == 1


def test_it_rolls_back_a_worse_candidate_and_keeps_the_live_version(team, versions):
    v1, v2 = versions
    experiment = experiment_start(team=team, candidate=v2, min_rated=30)
    answers(team, 1, up=32, down=8)
    answers(team, 2, up=15, down=25)
    experiments_evaluate(team_id=team.pk)
    experiment.refresh_from_db()
    v1.refresh_from_db(), v2.refresh_from_db()
    assert experiment.outcome == "rolled_back" and v2.status == "retired" and v1.status == "promoted"
    assert Event.objects.get(team=team, kind="experiment_ended").reason.startswith("rolled back: the candidate "
                                                                                   "is significantly worse")


def test_it_waits_for_enough_rated_answers_then_times_out(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2, min_rated=30, days=7)
    answers(team, 1, up=5, down=10)
    answers(team, 2, up=14, down=1)
    assert experiment_decide(experiment=experiment) is None  # a big difference, but too few votes yet
    outcome, reason = experiment_decide(experiment=experiment, now=experiment.ends_by + timedelta(seconds=1))
    assert outcome == "timed_out" and "no significant difference" in reason
    experiments_evaluate(now=experiment.ends_by + timedelta(seconds=1))
    experiment.refresh_from_db()
    assert experiment.outcome == "timed_out" and AdapterVersion.objects.get(number=2, team=team).status == "candidate"


def test_it_tests_each_look_once_at_its_share_of_alpha(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2, min_rated=30)
    answers(team, 1, up=20, down=20)
    answers(team, 2, up=30, down=10)  # Fisher p = 0.037: under alpha, not under look 1's alpha / 2
    assert experiments_evaluate(team_id=team.pk) == []
    experiment.refresh_from_db()
    assert (experiment.looks, experiment.status) == (1, "running")
    assert experiment_results(experiment=experiment)["significance"]["sequential"] == {
        "looks_done": 1, "next_look_at_rated": 60, "next_look_alpha": 0.0125}
    answers(team, 1, down=5)
    answers(team, 2, up=5)  # 20/45 vs 35/45: clear now, but look 1 was taken; the next is at 60 rated
    assert experiments_evaluate(team_id=team.pk) == []
    answers(team, 1, up=5, down=10)
    answers(team, 2, up=12, down=3)  # 25/60 vs 47/60 at look 2, alpha / 4
    assert experiments_evaluate(team_id=team.pk) == ["promoted"]
    experiment.refresh_from_db()
    assert experiment.looks == 2 and "look 2 at alpha 0.0125" in experiment.reason


def test_it_keeps_wrong_decisions_under_alpha_when_evaluated_after_every_vote():
    """Two equal versions, the decision checked after every vote: the sequential design ends at most
    alpha of such experiments on chance."""
    rng, alpha, runs, wrong = random.Random(20), 0.05, 300, 0
    for _ in range(runs):
        state, ups, rated = SimpleNamespace(min_rated=30, alpha=alpha, looks=0), [0, 0], [0, 0]
        for vote in range(600):
            arm = vote % 2
            rated[arm] += 1
            ups[arm] += rng.random() < 0.6
            look = look_due(experiment=state, rated=min(rated))
            if look:
                state.looks = look.number
                if fisher_exact(ups[0], rated[0], ups[1], rated[1]) < look.alpha:
                    wrong += 1
                    break
    assert wrong / runs <= alpha


def test_it_reports_each_versions_figures_with_significance_and_sample_size(team, versions):
    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2)
    answers(team, 1, up=6, down=4, unrated=10, not_covered=2, latency_ms=200, clicked=9)
    answers(team, 2, up=9, down=1, unrated=10, not_covered=8, latency_ms=400, clicked=3)
    results = experiment_results(experiment=experiment)
    control, candidate = results["control"], results["candidate"]
    assert (control["answers"], control["rated"], control["thumbs_up_rate"]) == (20, 10, 0.6)
    assert candidate["thumbs_up_rate"] == 0.9 and candidate["thumbs_down_rate"] == 0.1
    assert control["not_covered_rate"] == 0.1 and candidate["not_covered_rate"] == 0.4
    assert control["latency_ms_median"] == 211.0 and candidate["latency_ms_median"] == 411.0
    # of the answers that showed sources, the share where the user opened one
    assert (control["answers_with_sources"], control["source_clicked"], control["source_click_rate"]) == (18, 9, 0.5)
    assert (candidate["answers_with_sources"], candidate["source_click_rate"]) == (12, 0.25)
    assert candidate["source_click_rate_ci"][0] < 0.25 < candidate["source_click_rate_ci"][1]
    low, high = candidate["thumbs_up_rate_ci"]
    assert low < 0.9 < high
    assert results["significance"]["thumbs_up"]["p_value"] == pytest.approx(fisher_exact(6, 10, 9, 10), abs=1e-6)
    assert results["rated_needed_per_version"] == sample_size_per_version(0.6, 0.9, alpha=0.05)
    assert results["rated_still_needed"]["candidate"] == max(30, results["rated_needed_per_version"]) - 10
    # Only the experiment's own time counts: answers before it started are not its data.
    Message.objects.filter(adapter_version=2).update(created=experiment.started - timedelta(days=1))
    assert experiment_results(experiment=experiment)["candidate"]["answers"] == 0


def test_it_computes_the_exact_test_and_the_sample_size_like_the_textbook():
    assert fisher_exact(3, 4, 1, 4) == pytest.approx(0.4857, abs=1e-4)  # the lady tasting tea
    assert fisher_exact(0, 10, 10, 10) == pytest.approx(1.0825e-05, rel=1e-3)
    assert fisher_exact(0, 0, 1, 2) == 1.0
    assert 380 <= sample_size_per_version(0.5, 0.6, alpha=0.05) <= 395  # ~388 per group at 80 % power
    assert sample_size_per_version(0.5, 0.5, alpha=0.05) == sample_size_per_version(0.475, 0.525, alpha=0.05)


def test_it_refuses_experiments_that_cannot_run(team, other_team, versions):
    v1, v2 = versions
    with pytest.raises(ValidationError, match="traffic_share"):
        experiment_start(team=team, candidate=v2, traffic_share=1.0)
    with pytest.raises(ValidationError, match="is the live version"):
        experiment_start(team=team, candidate=v1)
    with pytest.raises(ValidationError, match="belong to the team"):
        experiment_start(team=team, candidate=version(other_team, 5))
    with pytest.raises(ValidationError, match="no live version"):
        experiment_start(team=other_team, candidate=version(other_team, 6))
    experiment_start(team=team, candidate=v2)
    with pytest.raises(AppError, match="already runs an experiment"):
        experiment_start(team=team, candidate=version(team, 3))


def test_it_evaluates_the_experiment_after_a_vote(team, versions, django_capture_on_commit_callbacks):
    _, v2 = versions
    answers(team, 1, unrated=1)
    reply = Message.objects.get(role="assistant")
    with django_capture_on_commit_callbacks() as callbacks:
        Feedback.objects.create(team=team, message=reply, rating=1)
    assert callbacks == []  # no experiment: nothing to evaluate
    experiment_start(team=team, candidate=v2)
    with django_capture_on_commit_callbacks() as callbacks:
        Feedback.objects.filter(message=reply).get().save()
    assert len(callbacks) == 1


def test_it_runs_experiments_over_the_api(api, other_api, versions):
    response = api.post("/api/v1/experiments", {"candidate": 2, "traffic_share": 0.5, "min_rated": 5})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["control"], body["candidate"], body["status"]) == (1, 2, "running")
    assert body["results"]["candidate"]["answers"] == 0 and "rated_still_needed" in body["results"]
    assert api.post("/api/v1/experiments", {"candidate": 2}).status_code == 409
    assert api.post("/api/v1/experiments", {"candidate": 9}).status_code == 404
    assert other_api.get(f"/api/v1/experiments/{body['id']}").status_code == 404
    assert other_api.post(f"/api/v1/experiments/{body['id']}/end", {"outcome": "promote"}).status_code == 404
    assert [e["id"] for e in api.get("/api/v1/experiments").json()] == [body["id"]]
    ended = api.post(f"/api/v1/experiments/{body['id']}/end", {"outcome": "rollback", "reason": "looks off"})
    assert ended.status_code == 200 and ended.json()["outcome"] == "rolled_back"
    assert ended.json()["reason"] == "looks off"
    assert api.post(f"/api/v1/experiments/{body['id']}/end", {"outcome": "promote"}).status_code == 409
    events = api.get("/api/v1/events").json()
    assert [e["kind"] for e in events][:2] == ["experiment_ended", "experiment_started"]
    assert events[0]["actor"] == "api" and events[0]["experiment"] == body["id"]
    assert other_api.get("/api/v1/events").json() == []
    assert api.get("/api/v1/events?kind=nope").status_code == 400


def test_it_promotes_and_rolls_back_versions_over_the_api_for_its_team_only(api, other_api, team, versions):
    promoted = api.post("/api/v1/adapter-versions/2/promote", {})
    assert promoted.status_code == 200 and (promoted.json()["number"], promoted.json()["status"]) == (2, "promoted")
    assert Event.objects.filter(team=team, kind="promoted").latest("pk").actor == "api"
    assert other_api.post("/api/v1/adapter-versions/2/promote", {}).status_code == 404
    assert api.post("/api/v1/adapter-versions/9/promote", {}).status_code == 404
    assert other_api.post("/api/v1/adapter-versions/rollback", {}).status_code == 409  # nothing live to undo
    rolled = api.post("/api/v1/adapter-versions/rollback", {})
    assert rolled.status_code == 200 and rolled.json()["number"] == 1
    assert [v["status"] for v in sorted(api.get("/api/v1/adapter-versions").json(), key=lambda v: v["number"])] \
        == ["promoted", "retired"]


def test_it_reverts_a_promotion_in_one_step(api, team, versions):
    v1, v2 = versions
    adapter_version_promote(version=v2, reason="the gate said so", actor="auto")
    promoted = next(e for e in api.get("/api/v1/events?kind=promoted").json() if e["version"] == 2)
    assert promoted["revertible"] and promoted["reason"] == "the gate said so"
    response = api.post(f"/api/v1/events/{promoted['id']}/revert")
    assert response.status_code == 200 and response.json()["kind"] == "reverted"
    v1.refresh_from_db()
    assert v1.status == "promoted"
    assert Event.objects.filter(team=team, kind="rolled_back", version=v1).exists()
    assert api.post(f"/api/v1/events/{promoted['id']}/revert").status_code == 409  # once only


def test_it_cancels_a_queued_retrain_by_reverting_its_event(team, learning_settings):
    from docsbot.adapters.retrain import retrain_queue

    job = retrain_queue(team=team, reason="docs changed: test", changes={})
    event = Event.objects.get(team=team, kind="retrain_queued")
    event_revert(event=event, actor="someone")
    job.refresh_from_db()
    assert job.status == "cancelled" and Event.objects.get(kind="reverted").actor == "someone"


def test_it_shows_experiments_events_and_retrain_settings_in_the_admin(client, team, other_team, versions):
    from django.contrib.auth.models import Permission

    from docsbot.teams.services import membership_set

    _, v2 = versions
    experiment = experiment_start(team=team, candidate=v2)
    answers(team, 2, up=3, down=1)
    theirs_v = adapter_version_promote(version=version(other_team, 1), actor="test")
    theirs = experiment_start(team=other_team, candidate=version(other_team, 2))
    assert theirs_v.status == "promoted"
    staff = get_user_model().objects.create_user("staff", password="pw-long-enough-1", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_experiment", "change_experiment", "view_event", "change_event", "view_retrainpolicy"]))
    membership_set(team=team, user=staff, role="admin")
    client.force_login(staff)
    page = client.get(f"/admin/adapters/experiment/{experiment.pk}/change/")
    assert page.status_code == 200 and b"thumbs-up rate" in page.content and b"75.0%" in page.content
    assert client.get(f"/admin/adapters/experiment/{theirs.pk}/change/").status_code == 404
    listing = client.get("/admin/adapters/event/")
    assert listing.status_code == 200 and b"experiment started" in listing.content
    event = Event.objects.get(team=team, kind="experiment_started")
    response = client.post("/admin/adapters/event/", {"action": "revert", "_selected_action": [event.pk]})
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.outcome == "cancelled"
    assert client.get("/admin/adapters/retrainpolicy/").status_code == 200


def test_it_starts_an_experiment_from_the_admins_add_page_and_reports_a_refusal_there(client, team, versions):
    v1, v2 = versions
    admin = get_user_model().objects.create_superuser("root", password="pw-long-enough-1")
    client.force_login(admin)
    form = {"team": team.pk, "traffic_share": 0.5, "days": 14, "min_rated": 20, "alpha": 0.05}
    refused = client.post("/admin/adapters/experiment/add/", {**form, "candidate": v1.pk}, follow=True)
    assert refused.status_code == 200 and b"live version" in refused.content
    assert not Experiment.objects.exists()
    started = client.post("/admin/adapters/experiment/add/", {**form, "candidate": v2.pk})
    assert started.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.candidate, experiment.control, experiment.status) == (v2, v1, "running")
    assert str(experiment) in client.get("/admin/adapters/experiment/").content.decode()


def test_an_admin_promotes_a_version_the_gate_kept_with_a_warning_and_rolls_it_back(client, team, versions):
    from docsbot.adapters.services import training_event_add, training_job_create

    v1, v2 = versions
    v2.job = training_job_create(team=team, enqueue=False)
    v2.save()
    training_event_add(job=v2.job, message="kept version 2 as a candidate: not a significant gain (p=0.161)")
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-long-enough-1"))
    page = client.post("/admin/adapters/adapterversion/", {"action": "promote", "_selected_action": [v2.pk]},
                       follow=True).content.decode()
    assert "promoted by hand, although its gate" in page and "not a significant gain (p=0.161)" in page
    promoted = Event.objects.filter(team=team, kind="promoted", version=v2).latest("pk")
    assert promoted.actor == "admin:root"
    page = client.post("/admin/adapters/adapterversion/", {"action": "rollback", "_selected_action": [v2.pk]},
                       follow=True).content.decode()
    assert "rolled back to v1" in page
    v1.refresh_from_db()
    assert v1.status == "promoted"


def test_it_draws_an_independent_split_for_each_experiment():
    from docsbot.adapters.experiments import assigned_to_candidate

    first = Experiment(pk=1, traffic_share=0.5)
    second = Experiment(pk=2, traffic_share=0.5)
    keys = [str(uuid.uuid4()) for _ in range(200)]
    a = [assigned_to_candidate(experiment=first, conversation_key=k) for k in keys]
    b = [assigned_to_candidate(experiment=second, conversation_key=k) for k in keys]
    assert a != b  # each experiment draws its own split
    assert 0.35 < sum(a) / len(a) < 0.65
