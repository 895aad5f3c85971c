"""Retrain on change (issue 20, item 1): counting chunk changes, the threshold, pair regeneration and
retirement, one queued retrain per team, schedules. No training runs: the job is only queued."""
from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from docsbot.adapters.models import AdapterVersion, Event, RetrainPolicy, TrainingJob
from docsbot.adapters.retrain import (
    RETIRED_REASON,
    changed_pages_check,
    changed_pages_emphasis,
    changed_pages_first,
    chunk_changes,
    next_scheduled,
    retrain_after_ingest,
    retrain_check_run,
    retrain_due,
    retrain_policy_get,
    retrain_policy_update,
    retrain_queue,
    retrain_threshold,
)
from docsbot.core.prompts import NO_ANSWER
from docsbot.documents.services import ingest_paths

PAGES = {
    "install.md": "# Install\n\n## Requirements\n\nThe `python` requirement is 3.10 or newer.\n\n"
                  "## Installing\n\nRun pip install acme to install the acme package.\n",
    "config.md": "# Configuration\n\n## Timeout\n\nThe `timeout` option sets the request timeout and defaults to 30 "
                 "seconds.\n\n## Region\n\nThe `region` option selects the data centre and defaults to eu-west.\n",
    "errors.md": "# Errors\n\n## ACME-401\n\nError ACME-401: the API key was revoked; create a new key.\n\n"
                 "## ACME-429\n\nError ACME-429: more than 100 requests were sent in a minute.\n",
}


@pytest.fixture
def learning_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.ADAPTER_DIR = tmp_path / "data" / "adapters"
    settings.SERVING_URL = None
    return settings


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in PAGES.items():
        (folder / name).write_text(text)
    return folder


def ingest(team, docs: Path) -> None:
    """An ingest run and the retrain check its worker runs afterwards (on_commit does not fire in tests),
    here without regenerating or queueing."""
    ingest_paths(team=team, items=[str(docs)], sync=True)
    retrain_after_ingest(team=team, execute=False)


def live_version(team, number: int = 1, method: str = "lora", hyperparameters=None) -> AdapterVersion:
    from docsbot.adapters.services import adapter_version_promote, training_job_create

    path = Path(settings.ADAPTER_DIR) / ".versions" / team.slug / f"v{number}"
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    job = training_job_create(team=team, method=method, hyperparameters=hyperparameters or {}, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingJob.Status.SUCCEEDED)
    version = AdapterVersion.objects.create(team=team, job=job, number=number, path=str(path), method=method,
                                            rank=8, base_model="tiny")
    return adapter_version_promote(version=version, actor="test")


def test_it_counts_changed_added_and_removed_chunks_per_page():
    before = {"a.md": ["1", "2", "3"], "b.md": ["4"], "gone.md": ["5", "6"]}
    after = {"a.md": ["1", "2x", "3", "7"], "b.md": ["4"], "new.md": ["8"]}
    changes = chunk_changes(before=before, after=after)
    assert (changes.changed, changes.added, changes.removed, changes.unchanged) == (1, 2, 2, 3)
    assert changes.pages == ["a.md", "gone.md", "new.md"] and changes.removed_pages == ["gone.md"]
    assert changes.total == 5 and changes.chunks == 6


def test_it_fires_at_five_percent_or_twenty_chunks_whichever_is_fewer(team):
    policy = retrain_policy_get(team=team)
    assert (policy.enabled, policy.threshold_percent, policy.threshold_chunks) == (True, 5.0, 20)
    assert retrain_threshold(policy=policy, chunks=100) == 5
    assert retrain_threshold(policy=policy, chunks=10_000) == 20
    assert retrain_threshold(policy=policy, chunks=3) == 1


def test_it_retrains_the_live_adapter_after_an_ingest_that_changes_enough(team, learning_settings, docs,
                                                                          django_capture_on_commit_callbacks):
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import qa_generate

    with django_capture_on_commit_callbacks() as callbacks:
        ingest_paths(team=team, items=[str(docs)], sync=True)
    assert len(callbacks) == 1  # the check goes to a worker once the run is committed
    assert retrain_policy_get(team=team).baseline_at is not None
    assert retrain_after_ingest(team=team).action == "no_live_version"  # the worker's check: no live adapter yet
    qa_generate(team=team)
    live = live_version(team, hyperparameters={"rank": 8})
    old_timeout = QAPair.objects.filter(team=team, answer__contains="30 seconds").first()
    assert old_timeout is not None
    QAPair.objects.filter(pk=old_timeout.pk).update(status=QAPair.Status.APPROVED)  # a person approved it
    untouched = set(QAPair.objects.filter(team=team, document__source_path="install.md").values_list("pk", flat=True))
    assert untouched

    (docs / "config.md").write_text(PAGES["config.md"].replace("30 seconds", "60 seconds"))
    (docs / "errors.md").unlink()
    ingest_paths(team=team, items=[str(docs)], sync=True)
    assert retrain_after_ingest(team=team, execute=False).action == "queued"  # a dry run leaves the change counted
    decision = retrain_check_run(team_id=team.pk, run_id=7)

    assert decision.action == "queued", decision.reason
    job = decision.job
    assert job.status == "queued" and job.trigger == TrainingJob.Trigger.DOCS_CHANGED
    assert job.method == "lora" and job.hyperparameters == {"rank": 8}  # the live version's recipe
    assert "docs changed: 1 changed, 0 added and 2 removed chunks" in job.reason and "ingest run 7" in job.reason
    assert job.changes["pages"] == ["config.md", "errors.md"] and job.changes["removed_pages"] == ["errors.md"]
    assert job.changes["warm_start"] is None and job.changes["live_version"] == live.number  # decided when it starts
    assert job.changes["pairs"]["chunks_generated"] == 1  # only the changed chunk got new pairs
    assert any("retrain on change" in e.message for e in job.events.all())
    old_timeout.refresh_from_db()
    assert old_timeout.status == "rejected" and old_timeout.reject_reason == RETIRED_REASON
    assert QAPair.objects.filter(team=team, answer__contains="60 seconds").exists()
    assert untouched <= set(QAPair.objects.filter(team=team).values_list("pk", flat=True))  # unchanged page
    assert not QAPair.objects.filter(team=team, document__source_path="errors.md").exclude(status="rejected").exists()
    event = Event.objects.get(team=team, kind=Event.Kind.RETRAIN_QUEUED)
    assert event.job == job and event.reason == job.reason and event.actor == "auto"
    # The baseline moved: the same docs again change nothing.
    ingest_paths(team=team, items=[str(docs)], sync=True)
    assert retrain_after_ingest(team=team).action == "no_change"


def test_it_lets_small_changes_add_up_and_respects_the_team_settings(team, learning_settings, docs):
    ingest(team, docs)
    live_version(team)
    retrain_policy_update(team=team, threshold_chunks=2, threshold_percent=100)
    (docs / "install.md").write_text(PAGES["install.md"].replace("3.10", "3.11"))
    ingest_paths(team=team, items=[str(docs)], sync=True)
    below = retrain_after_ingest(team=team, execute=False)
    assert below.action == "below_threshold" and "below the threshold of 2" in below.reason
    (docs / "errors.md").write_text(PAGES["errors.md"].replace("100 requests", "200 requests"))
    ingest_paths(team=team, items=[str(docs)], sync=True)
    assert retrain_after_ingest(team=team, execute=False).action == "queued"  # 1 + 1 changed chunks

    retrain_policy_update(team=team, enabled=False)
    (docs / "install.md").write_text("# Install\n\nEverything is different now.\n")
    ingest_paths(team=team, items=[str(docs)], sync=True)
    assert retrain_after_ingest(team=team).action == "disabled"
    assert not TrainingJob.objects.filter(team=team, trigger="docs").exists()
    with pytest.raises(Exception, match="threshold_percent"):
        retrain_policy_update(team=team, threshold_percent=0)


def test_it_does_not_retrain_a_team_without_a_live_adapter(team, learning_settings, docs):
    ingest(team, docs)
    (docs / "errors.md").unlink()
    ingest_paths(team=team, items=[str(docs)], sync=True)
    assert retrain_after_ingest(team=team).action == "no_live_version"
    assert not TrainingJob.objects.filter(team=team).exists()


def test_it_keeps_one_queued_retrain_per_team_the_newest_superseding(team, learning_settings):
    live_version(team)
    first = retrain_queue(team=team, reason="docs changed: first", changes={"changed": 3, "added": 0, "removed": 0,
                                                                             "total": 3, "pages": ["a.md"]})
    second = retrain_queue(team=team, reason="docs changed: second", changes={"changed": 1, "added": 1, "removed": 0,
                                                                               "total": 2, "pages": ["b.md"]})
    first.refresh_from_db()
    assert first.status == "cancelled" and second.status == "queued"
    assert TrainingJob.objects.filter(team=team, status="queued").count() == 1
    assert second.changes["total"] == 5 and second.changes["pages"] == ["a.md", "b.md"]
    assert second.changes["superseded_jobs"] == [first.pk]
    assert Event.objects.filter(team=team, kind="retrain_superseded", job=first).exists()


def test_it_folds_a_change_into_a_queued_manual_job(team, learning_settings):
    from docsbot.adapters.services import training_job_create

    live_version(team)
    manual = training_job_create(team=team, enqueue=False)
    assert retrain_queue(team=team, reason="docs changed: x", changes={}) == manual
    assert TrainingJob.objects.filter(team=team, status="queued").count() == 1
    assert "already queued, trains on the new pairs" in Event.objects.get(kind="retrain_queued").reason


def test_it_queues_a_scheduled_retrain_when_it_is_due(team, learning_settings, docs):
    ingest(team, docs)
    live_version(team)
    retrain_policy_update(team=team, schedule="daily", schedule_hour=3)
    (docs / "errors.md").unlink()
    ingest_paths(team=team, items=[str(docs)], sync=True)
    decision = retrain_after_ingest(team=team)
    assert decision.action == "scheduled" and not TrainingJob.objects.filter(trigger="docs").exists()
    policy = RetrainPolicy.objects.get(team=team)
    assert policy.due_at.hour == 3 and policy.pending["changes"]["removed"] == 2
    assert Event.objects.filter(team=team, kind="retrain_scheduled").exists()
    assert retrain_due(now=policy.due_at - timedelta(minutes=1)) == []
    [job_id] = retrain_due(now=policy.due_at)
    job = TrainingJob.objects.get(pk=job_id)
    assert job.reason.startswith("scheduled (daily): docs changed") and job.changes["removed"] == 2
    assert RetrainPolicy.objects.get(team=team).due_at is None


def test_it_schedules_at_the_next_hour_or_monday(team):
    policy = RetrainPolicy(team=team, schedule="daily", schedule_hour=2)
    wednesday = datetime(2025, 1, 8, 5, 0, tzinfo=UTC)
    assert next_scheduled(policy=policy, after=wednesday) == datetime(2025, 1, 9, 2, 0, tzinfo=UTC)
    policy.schedule = "weekly"
    assert next_scheduled(policy=policy, after=wednesday) == datetime(2025, 1, 13, 2, 0, tzinfo=UTC)


def test_it_shows_and_changes_the_settings_over_the_api(api, learning_settings):
    assert api.get("/api/v1/retrain-policy").json()["threshold_chunks"] == 20
    response = api._client.put("/api/v1/retrain-policy", data=json.dumps({"enabled": False, "schedule": "weekly"}),
                       content_type="application/json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert response.json()["schedule"] == "weekly"
    bad = api._client.put("/api/v1/retrain-policy", data=json.dumps({"schedule_hour": 30}), content_type="application/json")
    assert bad.status_code == 400 and "schedule_hour" in bad.json()["detail"]


def test_the_gate_of_a_retrain_checks_the_changed_and_the_unchanged_pages(team, learning_settings, docs):
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import qa_generate

    ingest_paths(team=team, items=[str(docs)], sync=True)
    qa_generate(team=team)
    pairs = list(QAPair.objects.filter(team=team, chunk__isnull=False).select_related("chunk__document"))
    changed = [p for p in pairs if p.chunk.document.source_path == "config.md"]
    others = [p for p in pairs if p.chunk.document.source_path != "config.md"]
    assert changed and others
    retrain = TrainingJob(team=team, trigger=TrainingJob.Trigger.DOCS_CHANGED, changes={"pages": ["config.md"]})

    def evaluation(changed_live: float, changed_new: float, other_live: float, other_new: float) -> dict:
        """Scores of the live version and the candidate on the same held-out pairs, as the runner stores them."""
        ids, live, new = [], [], []
        for pairs_of, before, after in ((changed, changed_live, changed_new), (others * 3, other_live, other_new)):
            for pair in pairs_of:
                ids.append(pair.pk)
                live.append({"covered": True, "f1": before})
                new.append({"covered": True, "f1": after})
        ids.append(changed[0].pk)  # a withheld twin (the source left out): no F1, not counted
        live.append({"covered": False})
        new.append({"covered": False})
        return {"example_ids": ids, "current": {"scores": live}, "adapter": {"scores": new}}

    better = changed_pages_check(job=retrain, evaluation=evaluation(0.2, 0.6, 0.5, 0.5))
    assert better.promote and better.reason.startswith("changed pages: F1 0.600 vs the live version's 0.200")
    assert "no significant drop" in better.reason
    not_better = changed_pages_check(job=retrain, evaluation=evaluation(0.6, 0.4, 0.5, 0.9))
    assert not not_better.promote and "does not beat the live version's 0.600" in not_better.reason
    dropped = changed_pages_check(job=retrain, evaluation=evaluation(0.2, 0.6, 0.8, 0.1))
    assert not dropped.promote and "a significant drop" in dropped.reason
    # the gate scores the first held-out examples only: a retrain puts those of the changed pages first
    heldout = [{"id": pair.pk} for pair in others + changed]
    assert [e["id"] for e in changed_pages_first(job=retrain, heldout=heldout)][:len(changed)] == \
        [pair.pk for pair in changed]
    # and trains on them more often: each changed page's example thrice, the rest once; a not-covered example of a
    # changed page once too (repeated, it taught the retrain to abstain with the new fact in its context)
    def example(pair, target="The answer. [1]"):
        return {"id": pair.pk, "messages": [{"role": "user", "content": "?"}, {"role": "assistant", "content": target}]}

    train = [example(pair) for pair in others + changed] + [example(changed[0], NO_ANSWER)]
    emphasised, repeated = changed_pages_emphasis(job=retrain, train=train)
    assert repeated == len(changed) and len(emphasised) == len(train) + 2 * len(changed)
    assert Counter(e["id"] for e in emphasised) == Counter({p.pk: 3 for p in changed} | {p.pk: 1 for p in others}
                                                           ) + Counter({changed[0].pk: 1})
    assert sum(e["messages"][-1]["content"] == NO_ANSWER for e in emphasised) == 1
    # a job not fired by a docs change, or scores without the live version: the check does not apply
    manual = TrainingJob(team=team, trigger=TrainingJob.Trigger.MANUAL, changes={"pages": ["config.md"]})
    assert changed_pages_emphasis(job=manual, train=train) == (train, 0)
    assert changed_pages_check(job=manual, evaluation=evaluation(0.6, 0.4, 0.5, 0.5)) is None
    assert changed_pages_check(job=retrain, evaluation={**evaluation(0.6, 0.4, 0.5, 0.5), "current": {}}) is None
