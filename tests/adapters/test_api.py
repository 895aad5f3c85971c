from docsbot.adapters.models import TrainingJob
from docsbot.adapters.services import training_job_create


def test_it_queues_a_job_over_the_api(api, adapter_settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/api/v1/training-jobs", {"method": "dora", "hyperparameters": {"rank": 8}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["method"] == "dora" and body["hyperparameters"] == {"rank": 8}
    assert body["events"][0]["message"].startswith("queued: dora")
    assert len(callbacks) == 1  # the Celery message goes out only after the row is committed
    assert api.get(f"/api/v1/training-jobs/{body['id']}").json()["id"] == body["id"]


def test_it_explains_bad_requests(api, adapter_settings):
    response = api.post("/api/v1/training-jobs", {"hyperparameters": {"rank": 1000}})
    assert response.status_code == 400 and "rank: 1000 exceeds max_rank" in response.json()["detail"]
    assert response.json()["code"] == "invalid"
    assert api.post("/api/v1/training-jobs", {"method": "full"}).status_code == 422  # the schema's (ninja)
    assert not TrainingJob.objects.exists()


def test_it_hides_other_teams_jobs(api, other_api, adapter_settings):
    job = training_job_create(team=other_api.team, enqueue=False)
    assert api.get(f"/api/v1/training-jobs/{job.pk}").status_code == 404
    assert api.post(f"/api/v1/training-jobs/{job.pk}/cancel").status_code == 404
    assert api.get("/api/v1/training-jobs").json() == []
    assert other_api.get(f"/api/v1/training-jobs/{job.pk}").status_code == 200


def test_it_cancels_over_the_api(api, adapter_settings):
    job = training_job_create(team=api.team, enqueue=False)
    response = api.post(f"/api/v1/training-jobs/{job.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/training-jobs/{job.pk}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_it_needs_a_token(client, db):
    assert client.get("/api/v1/training-jobs/1").status_code == 401
