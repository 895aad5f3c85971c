from django.contrib.auth import get_user_model

from docsbot.adapters.services import training_event_add, training_job_create


def test_it_shows_live_progress_and_cancels_from_the_admin(client, team, adapter_settings):
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-long-enough-1")
    client.force_login(admin_user)
    job = training_job_create(team=team, enqueue=False)
    training_event_add(job=job, type="metrics", message="step 1", data={"step": 1, "loss": 2.5})
    training_event_add(job=job, type="metrics", message="step 2", data={"step": 2, "loss": 2.1})
    page = client.get(f"/admin/adapters/trainingjob/{job.pk}/change/")
    assert page.status_code == 200 and b"Live progress" in page.content and b"tl-chart" in page.content
    progress = client.get(f"/admin/adapters/trainingjob/{job.pk}/progress/").json()
    assert progress["curve"] == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.1}]
    assert progress["status"] == "queued" and progress["events"][0]["message"].startswith("queued")
    assert client.post(f"/admin/adapters/trainingjob/{job.pk}/cancel/").status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert client.get("/admin/adapters/adapterversion/").status_code == 200
    assert client.get("/admin/adapters/trainingjob/").status_code == 200


def test_it_hides_other_teams_jobs_from_staff(client, team, other_team, adapter_settings):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("staff", password="pw-long-enough-1", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_trainingjob", "change_trainingjob"]))
    from docsbot.teams.services import membership_set

    membership_set(team=team, user=staff, role="admin")
    client.force_login(staff)
    theirs = training_job_create(team=other_team, enqueue=False)
    assert client.get(f"/admin/adapters/trainingjob/{theirs.pk}/progress/").status_code == 404
    mine = training_job_create(team=team, enqueue=False)
    assert client.get(f"/admin/adapters/trainingjob/{mine.pk}/progress/").status_code == 200


def test_a_team_admin_starts_training_from_the_teams_page(client, team, adapter_settings,
                                                           django_capture_on_commit_callbacks):
    from docsbot.adapters.models import TrainingJob

    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-long-enough-1"))
    with django_capture_on_commit_callbacks() as callbacks:
        page = client.post("/admin/teams/team/", {"action": "train_adapter", "_selected_action": [team.pk]},
                           follow=True)
    job = TrainingJob.objects.get(team=team)
    assert job.status == "queued" and len(callbacks) == 1  # queued on the gpu queue once committed
    assert f"/admin/adapters/trainingjob/{job.pk}/change/" in page.content.decode()
    form = client.get(f"/admin/adapters/trainingjob/{job.pk}/change/").content.decode()
    assert 'name="reason"' not in form and 'name="trigger"' not in form  # a job's record, not a form


def test_the_job_page_says_what_a_job_does_after_its_last_step(client, team, adapter_settings):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-long-enough-1"))
    job = training_job_create(team=team, enqueue=False)
    job.status, job.step, job.total_steps = "running", 12, 20
    job.save()
    training_event_add(job=job, message="evaluating base and adapter on 10 held-out examples")
    assert client.get(f"/admin/adapters/trainingjob/{job.pk}/progress/").json()["now"] == ""  # still training
    job.step = 20
    job.save()
    progress = client.get(f"/admin/adapters/trainingjob/{job.pk}/progress/").json()
    assert progress["now"] == "evaluating base and adapter on 10 held-out examples"
