"""A run's lease stays held while its work runs, however far apart its progress reports come, and a takeover
by another worker is noticed. Real rows, a real renewal thread (its own database connection)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from docsbot.core import leases
from docsbot.qa import services as qa_services
from docsbot.qa.models import GenerationRun
from docsbot.qa.services import GenerationReport, generation_run_execute
from tests.waiting import scaled, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
RUNNING = GenerationRun.Status.RUNNING
LEASE_SECONDS = 1


@pytest.fixture
def short_lease(settings):
    settings.RUN_LEASE_SECONDS = LEASE_SECONDS


def held_run(team, owner: str) -> GenerationRun:
    return GenerationRun.objects.create(team=team, generator="structural", status=RUNNING, attempts=1,
                                        lease_owner=owner,
                                        lease_expires=timezone.now() + timedelta(seconds=LEASE_SECONDS))


def kept(run: GenerationRun, owner: str = "me:1"):
    return leases.lease_kept(lambda: leases.lease_renew(GenerationRun, pk=run.pk, owner=owner, running=RUNNING),
                             lease_seconds=LEASE_SECONDS, name=f"generation run {run.pk}")


def test_a_kept_lease_outlives_its_own_length_while_the_work_runs(team, short_lease):
    run = held_run(team, "me:1")
    first_expiry = run.lease_expires
    with kept(run) as keeper:
        wait_for(lambda: timezone.now() > first_expiry + timedelta(seconds=LEASE_SECONDS) and keeper.renewals >= 2,
                 "two lease lengths and two renewals")
        assert not leases.lease_claim(GenerationRun, pk=run.pk, owner="other:2", queued="queued", running=RUNNING)
    run.refresh_from_db()
    assert run.lease_owner == "me:1" and run.lease_expires > first_expiry
    keeper.check()  # nothing was lost


def test_a_kept_lease_reports_a_run_another_worker_took_over(team, short_lease):
    run = held_run(team, "me:1")
    with kept(run) as keeper:
        GenerationRun.objects.filter(pk=run.pk).update(lease_owner="other:2")
        wait_for(lambda: keeper.lost is not None, "the renewal to find the run taken over")
        with pytest.raises(leases.LeaseLost, match="other:2"):
            keeper.check()


def test_a_generation_run_whose_progress_comes_later_than_its_lease_keeps_it_and_finishes(team, short_lease,
                                                                                          monkeypatch):
    """One long section of questions a CPU model writes: no progress report for longer than the lease. No other
    worker may take the run meanwhile, and the run ends done."""
    run = GenerationRun.objects.create(team=team, generator="structural")
    claims_by_others: list[bool] = []

    def slow_generation(*, team, generator, progress, run):
        started = timezone.now()
        deadline = time.monotonic() + scaled(30)
        while timezone.now() < started + timedelta(seconds=3 * LEASE_SECONDS) and time.monotonic() < deadline:
            time.sleep(0.05)
        claims_by_others.append(leases.lease_claim(GenerationRun, pk=run.pk, owner="other:2", queued="queued",
                                                   running=RUNNING))
        return GenerationReport(chunks=0)

    monkeypatch.setattr(qa_services, "qa_generate", slow_generation)
    finished = generation_run_execute(run_id=run.pk, owner="me:1")
    assert claims_by_others == [False]
    assert finished.status == GenerationRun.Status.DONE and finished.lease_owner == "me:1"
