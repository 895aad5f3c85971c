"""The shared gpu queue: a quota of active jobs per team, and hyperparameters within bounds."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from docsbot.adapters.models import TrainingJob
from docsbot.adapters.services import training_job_cancel, training_job_create
from docsbot.core.errors import AppError


@pytest.fixture
def light_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BASE_MODEL = "tiny-base"
    settings.MAX_ACTIVE_JOBS_PER_TEAM = 2
    return settings


def _queue(api):
    return api.post("/api/v1/training-jobs", {"hyperparameters": {"rank": 4}})


@pytest.mark.django_db
def test_it_refuses_a_third_active_job_with_a_429(api, other_api, light_settings,
                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert [_queue(api).status_code for _ in range(2)] == [201, 201]
        third = _queue(api)
        assert third.status_code == 429 and "DOCSBOT_MAX_ACTIVE_JOBS_PER_TEAM=2" in third.json()["detail"]
        assert _queue(other_api).status_code == 201  # another team's quota is its own
        training_job_cancel(job=TrainingJob.objects.filter(team=api.team).first())
        assert _queue(api).status_code == 201  # a finished job frees its place
    assert TrainingJob.objects.filter(team=api.team, status="queued").count() == 2


@pytest.mark.django_db(transaction=True)
def test_it_admits_only_the_quota_when_requests_race(team, light_settings):
    barrier, outcomes = threading.Barrier(6), []

    def create():
        try:
            barrier.wait()
            training_job_create(team=team, enqueue=False)
            outcomes.append("created")
        except AppError as refused:
            assert refused.code == "quota"
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 4
    assert TrainingJob.objects.filter(team=team).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("hyperparameters", "message"), [
    ({"max_rank": 512}, "max_rank: must be an integer from 1 to 64"),
    ({"rank": 128, "max_rank": 128}, "max_rank: must be an integer from 1 to 64"),
    ({"epochs": 100000}, "epochs: at most 20"),
    ({"batch_size": 4096}, "batch_size: at most 64"),
    ({"max_steps": 10**9}, "max_steps: at most"),
])
def test_it_refuses_hyperparameters_beyond_the_shared_queues_bounds(api, light_settings,
                                                                     hyperparameters, message):
    light_settings.MAX_LORA_RANK = 64
    response = api.post("/api/v1/training-jobs", {"hyperparameters": hyperparameters})
    assert response.status_code == 400 and message in response.json()["detail"], response.content
    assert not TrainingJob.objects.exists()
