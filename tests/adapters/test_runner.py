import json
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.runner import training_job_run
from docsbot.adapters.services import training_job_cancel, training_job_claim, training_job_create
from docsbot.core.errors import AppError
from tests.adapters.conftest import FAST
from training.artifacts import check_adapter_dir


def test_it_trains_evaluates_and_publishes_one_version(team, dataset, adapter_settings, tiny_base_model):
    job = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, base_model=str(tiny_base_model),
                              enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "succeeded", done.error
    assert (done.step, done.total_steps, done.eta_seconds) == (3, 3, 0)
    version = AdapterVersion.objects.get(job=job)
    assert version.number == 1 and version.team == team and version.rank == 4
    assert version.dataset_hash == "f" * 64 and version.pair_ids == dataset["pair_ids"]
    assert [point["step"] for point in version.curve] == [1, 2, 3]
    evaluation = version.metrics["evaluation"]
    assert evaluation["heldout_examples"] == 2 and "perplexity_general" in evaluation["base"]
    manifest = check_adapter_dir(Path(version.path))
    assert manifest["team"] == team.slug and manifest["pair_ids"] == dataset["pair_ids"]
    assert not (adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk) / "checkpoints").exists()
    messages = [e.message for e in job.events.all()]
    assert any(m.startswith(("promoted version 1", "kept version 1 as a candidate")) for m in messages)
    assert job.events.filter(type="metrics").exists()
    assert job.events.filter(level="warn", message__startswith="only 2 held-out examples: the gate's").exists(), messages
    # The same message again (redelivery): nothing runs, nothing is published twice.
    assert training_job_run(job_id=job.pk, owner="test:2") is None
    assert AdapterVersion.objects.filter(team=team).count() == 1


def test_it_lets_only_one_worker_hold_a_job(team, dataset, adapter_settings):
    job = training_job_create(team=team, dataset=dataset, enqueue=False)
    assert training_job_claim(job_id=job.pk, owner="a:1") is not None
    assert training_job_claim(job_id=job.pk, owner="b:2") is None
    TrainingJob.objects.filter(pk=job.pk).update(lease_expires="2000-01-01T00:00:00Z")
    assert training_job_claim(job_id=job.pk, owner="b:2").lease_owner == "b:2"


def test_it_fails_clearly_without_training_pairs(team, adapter_settings):
    job = training_job_create(team=team, dataset={"train": [], "heldout": [], "dataset_hash": "", "pair_ids": []},
                              enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "failed" and "no approved training pairs" in done.error


def test_it_cancels_a_queued_job_at_once_and_refuses_a_finished_one(team, dataset, adapter_settings):
    job = training_job_cancel(job=training_job_create(team=team, dataset=dataset, enqueue=False))
    assert job.status == "cancelled" and job.finished is not None
    assert training_job_run(job_id=job.pk, owner="test:1") is None
    with pytest.raises(AppError, match="already cancelled"):
        training_job_cancel(job=job)


@pytest.mark.parametrize("hyperparameters, message", [
    ({"rank": 0}, "rank:"), ({"lr": 1}, "lr: unknown"), ({"eval_max_new_tokens": -1}, "eval_max_new_tokens:"),
])
def test_it_rejects_bad_hyperparameters_before_queueing(team, adapter_settings, hyperparameters, message):
    with pytest.raises(ValidationError, match=message):
        training_job_create(team=team, hyperparameters=hyperparameters, enqueue=False)
    assert not TrainingJob.objects.exists()


def test_it_runs_the_train_command_in_the_foreground(team, dataset, adapter_settings, capsys, tmp_path):
    from django.core.management import call_command

    data = tmp_path / "dataset.json"
    data.write_text(json.dumps(dataset))
    args = ["--team", team.slug, "--foreground", "--json", "--dataset", str(data)]
    args += [f"--set={k}={json.dumps(v)}" for k, v in FAST.items()]
    call_command("train", *args)
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "succeeded" and summary["adapter_version"] == 1
    assert set(summary["metrics"]) >= {"f1_base", "f1_adapter", "rouge_l_adapter", "forgetting_ppl_ratio"}


def test_it_builds_the_dataset_from_the_teams_pairs_when_none_is_given(team, adapter_settings):
    job = training_job_create(team=team, enqueue=False)  # no dataset: docsbot.qa builds it in the worker
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "failed" and "no approved training pairs" in done.error
    snapshot = json.loads((adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk) / "dataset.json").read_text())
    assert snapshot["train"] == [] and snapshot["pair_ids"] == []


class _InterruptedMidQuery:
    """A recipe whose setup is interrupted by the soft time limit while a query is in flight,
    as the limit's signal can land during a progress write."""

    step = 0

    def setup(self) -> None:
        from celery.exceptions import SoftTimeLimitExceeded
        from django.db import connection

        connection.ensure_connection()
        connection.connection.pgconn.send_query(b"select pg_sleep(0.2)")  # sent, result never read
        raise SoftTimeLimitExceeded()

    def cleanup(self) -> None:
        pass


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_job_at_the_soft_limit_even_when_it_interrupted_a_query(team, dataset, adapter_settings,
                                                                               monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a query left in flight is a PostgreSQL connection state")
    monkeypatch.setattr("docsbot.adapters.runner._recipe", lambda *args: _InterruptedMidQuery())
    job = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "failed" and "soft time limit" in done.error


def test_it_fails_a_job_past_its_soft_deadline_between_steps(team, dataset, adapter_settings, tiny_base_model):
    # The worker's deadline, checked at each step: it ends the job even when a library swallowed Celery's signal.
    job = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, base_model=str(tiny_base_model),
                              enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1", soft_deadline=time.monotonic())
    assert done.status == "failed" and done.error.startswith("time limit: stopped at step 0"), done.error
    assert not AdapterVersion.objects.filter(job=job).exists()


def test_it_says_how_many_pairs_from_user_feedback_the_job_used(team, adapter_settings, monkeypatch):
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import pair_create_from_correction

    for n in range(2):
        pair_create_from_correction(team=team, question=f"How do I roll back release {n}?", answer="acme rollback")
    pair_create_from_correction(team=team, question="Is there a dark mode?", answer="No.", kind="unanswered")
    QAPair.objects.create(team=team, question="What is acme?", answer="A deploy tool.", generator="structural",
                          status="approved")
    QAPair.objects.create(team=team, question="Rejected?", answer="Yes.", generator="correction", status="rejected")

    def stop(*args):
        raise RuntimeError("stopped before training")

    monkeypatch.setattr("docsbot.adapters.runner._recipe", stop)
    job = training_job_create(team=team, hyperparameters=FAST, enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "failed" and "stopped before training" in done.error
    said = [e for e in done.events.all() if "from user feedback" in e.message]
    assert len(said) == 1
    assert said[0].message.startswith("used 3 pairs from user feedback (2 corrections, 1 answered question")
    assert said[0].data["feedback_pairs"]["total"] == 3
    snapshot = json.loads((adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk) / "dataset.json").read_text())
    assert snapshot["feedback_pairs"]["kinds"] == {"correction": 2, "unanswered": 1}


@pytest.mark.parametrize("gate_passes", [True, False])
def test_a_version_that_passes_the_gate_is_trained_again_on_every_pair(team, dataset, adapter_settings, tiny_base_model,
                                                                     monkeypatch, gate_passes):
    from docsbot.adapters import runner
    from docsbot.adapters.services import GateDecision

    monkeypatch.setattr(runner, "gate_decide", lambda **kwargs: GateDecision(gate_passes, "test"))
    heldout_id = dataset["heldout"][0]["id"]
    refit = [dict(example, id=heldout_id) for example in dataset["train"][:2]]  # the held-out pair as training examples
    job = training_job_create(team=team, hyperparameters=FAST, dataset={**dataset, "refit": refit},
                              base_model=str(tiny_base_model), enqueue=False)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert done.status == "succeeded", done.error
    version = AdapterVersion.objects.get(job=job)
    manifest = check_adapter_dir(Path(version.path))
    refitted = job.events.filter(message__startswith="the gate passed: training again on all").exists()
    assert refitted is gate_passes and ("refit" in version.metrics) is gate_passes
    assert ("refit" in manifest["metrics"]) is gate_passes
    if gate_passes:
        figures = version.metrics["refit"]
        assert figures["pairs"] == len({e["id"] for e in dataset["train"]} | {heldout_id})
        assert figures["heldout_pairs_added"] == 1 and figures["steps"] == 3 and figures["forgetting_ppl_ratio"] > 0
        assert version.status == "promoted"
        # the gate's figures are the split's, as evaluated
        assert version.metrics["evaluation"]["heldout_examples"] == 2
    assert not (adapter_settings.DATA_DIR / "training" / "jobs" / str(job.pk) / "refit" / "checkpoints").exists()


def test_a_job_killed_while_refitting_resumes_the_refit_from_its_checkpoint(team, dataset, adapter_settings,
                                                                            tiny_base_model, monkeypatch):
    from django.utils import timezone

    from docsbot.adapters import runner
    from docsbot.adapters.services import GateDecision
    from training.recipe import Recipe

    monkeypatch.setattr(runner, "gate_decide", lambda **kwargs: GateDecision(True, "test"))
    refit = [dict(example, id=dataset["heldout"][0]["id"]) for example in dataset["train"][:2]]
    job = training_job_create(team=team, hyperparameters={**FAST, "max_steps": 4}, dataset={**dataset, "refit": refit},
                              base_model=str(tiny_base_model), enqueue=False)
    save_checkpoint = Recipe.save_checkpoint

    def killed_after_refit_step_1(recipe):
        save_checkpoint(recipe)
        if recipe.work_dir.name == runner.REFIT_DIR and recipe.step == 1:
            raise SystemExit("killed")  # not an Exception: nothing marks the job, as after kill -9

    monkeypatch.setattr(Recipe, "save_checkpoint", killed_after_refit_step_1)
    with pytest.raises(SystemExit):
        training_job_run(job_id=job.pk, owner="test:1")
    assert TrainingJob.objects.get(pk=job.pk).status == "running"
    assert not AdapterVersion.objects.filter(job=job).exists()
    monkeypatch.setattr(Recipe, "save_checkpoint", save_checkpoint)
    TrainingJob.objects.filter(pk=job.pk).update(lease_expires=timezone.now())  # the lease ran out

    done = training_job_run(job_id=job.pk, owner="test:2")
    assert done.status == "succeeded", done.error
    assert job.events.filter(message="refit resumed from checkpoint at step 1").exists()
    version = AdapterVersion.objects.get(job=job)
    assert version.metrics["refit"]["steps"] == 4 and [p["step"] for p in version.curve] == [1, 2, 3, 4]


@pytest.mark.parametrize("method, warm", [("lora", True), ("dora", False)])
def test_a_retrain_on_a_docs_change_starts_from_the_live_adapter_when_it_can(team, dataset, adapter_settings,
                                                                             tiny_base_model, monkeypatch, method,
                                                                             warm):
    from docsbot.adapters import runner
    from docsbot.adapters.services import GateDecision, dataset_snapshot_write

    first = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, base_model=str(tiny_base_model),
                                enqueue=False)
    assert training_job_run(job_id=first.pk, owner="test:1").status == "succeeded"
    live = AdapterVersion.objects.get(job=first)
    retrain = training_job_create(team=team, method=method, hyperparameters=FAST, dataset=dataset,
                                  base_model=str(tiny_base_model), enqueue=False)
    TrainingJob.objects.filter(pk=retrain.pk).update(trigger=TrainingJob.Trigger.DOCS_CHANGED,
                                                     changes={"live_version": live.number, "warm_start": None})
    # the gate passes and the version is refitted on every pair: from the same start as the first run
    monkeypatch.setattr(runner, "gate_decide", lambda **kwargs: GateDecision(True, "test"))
    refit = [dict(example, id=dataset["heldout"][0]["id"]) for example in dataset["train"][:2]]
    dataset_snapshot_write(job=retrain, dataset={**dataset, "refit": refit})
    done = training_job_run(job_id=retrain.pk, owner="test:1")
    assert done.status == "succeeded", done.error
    assert done.changes["warm_start"] is warm
    if warm:
        assert done.events.filter(message=f"warm start from live version {live.number}'s adapter").exists()
        # it trained on from the live weights: its first loss is the live adapter's, lower than a fresh start's
        # it trained on from the live weights, the refit too: its first loss is below a fresh start's
        version = AdapterVersion.objects.get(job=retrain)
        assert version.metrics["refit"]["warm_start"] is True and version.curve[0]["loss"] < live.curve[0]["loss"]
    else:
        assert "another method" in done.changes["warm_start_reason"]
        assert done.events.filter(message__startswith="cold start from the base model").exists()


class _SlowToLoad:
    """A recipe whose model takes three leases' length to load; it asks whether another worker could take the
    job meanwhile, then fails."""

    def __init__(self, job_id: int, lease_seconds: float):
        self.job_id, self.lease_seconds = job_id, lease_seconds
        self.claimed_by_other = None

    def setup(self) -> None:
        from tests.waiting import scaled

        started, deadline = time.monotonic(), time.monotonic() + scaled(30)
        while time.monotonic() - started < 3 * self.lease_seconds and time.monotonic() < deadline:
            time.sleep(0.05)
        self.claimed_by_other = training_job_claim(job_id=self.job_id, owner="other:2") is not None
        raise RuntimeError("loading stopped here")

    def cleanup(self) -> None:
        pass


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_lease_of_a_job_whose_model_loads_for_longer_than_the_lease(team, dataset, adapter_settings,
                                                                                 monkeypatch):
    adapter_settings.TRAINING_LEASE_SECONDS = 1
    job = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, enqueue=False)
    recipe = _SlowToLoad(job.pk, adapter_settings.TRAINING_LEASE_SECONDS)
    monkeypatch.setattr("docsbot.adapters.runner._recipe", lambda *args, **kwargs: recipe)
    done = training_job_run(job_id=job.pk, owner="test:1")
    assert recipe.claimed_by_other is False
    assert done.status == "failed" and "loading stopped here" in done.error and done.lease_owner == "test:1"


def test_the_sweep_requeues_a_job_whose_worker_is_gone_and_leaves_a_live_one(team, dataset, adapter_settings):
    from datetime import timedelta

    from django.utils import timezone

    from docsbot.core.tasks import recover_interrupted
    from tests.adapters.workers import purge_queues

    gone = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, enqueue=False)
    live = training_job_create(team=team, hyperparameters=FAST, dataset=dataset, enqueue=False)
    TrainingJob.objects.filter(pk=gone.pk).update(status="running", lease_owner="gone-host:4242",
                                                  lease_expires=timezone.now() - timedelta(seconds=1))
    TrainingJob.objects.filter(pk=live.pk).update(status="running", lease_owner="other-host:4242",
                                                  lease_expires=timezone.now() + timedelta(minutes=2))
    assert recover_interrupted() == {"training_jobs_recover": [gone.pk]}
    purge_queues()  # the requeued job's message: no worker here
    gone.refresh_from_db()
    assert gone.status == "queued" and gone.lease_owner == ""
    assert gone.events.filter(level="warn", message__contains="is gone; requeued").exists()
    assert TrainingJob.objects.get(pk=live.pk).status == "running"
