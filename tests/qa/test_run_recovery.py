"""Generation runs whose worker died: a redelivered message takes an expired lease over and runs."""
from datetime import timedelta

from django.utils import timezone

from docsbot.qa.models import GenerationRun
from docsbot.qa.services import generation_run_execute, generation_runs_recover
from tests.adapters.workers import purge_queues


def test_it_takes_over_a_generation_run_whose_lease_expired(ingested):
    run = GenerationRun.objects.create(team=ingested, generator="structural", status="running", attempts=1,
                                       lease_owner="gone-host:4242", lease_expires=timezone.now() - timedelta(1))
    assert generation_runs_recover() == [run.pk]  # what a starting worker requeues
    purge_queues()  # no worker here; this test runs the task itself
    run = generation_run_execute(run_id=run.pk)
    assert run.status == GenerationRun.Status.DONE and run.attempts == 2 and run.summary["kept"] > 0


def test_it_leaves_a_generation_run_held_by_a_live_lease_alone(ingested):
    run = GenerationRun.objects.create(team=ingested, generator="structural", status="running", attempts=1,
                                       lease_owner="other-host:4242",
                                       lease_expires=timezone.now() + timedelta(minutes=5))
    assert generation_runs_recover() == []
    assert generation_run_execute(run_id=run.pk).status == GenerationRun.Status.RUNNING
