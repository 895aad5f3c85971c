"""/health is a cheap public liveness probe; /health/detail shows components to staff and admin tokens."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from docsbot.teams.services import api_token_create, api_token_revoke


@pytest.fixture
def admin_token(team):
    return api_token_create(team=team, name="ops", role="admin").token


def _detail(token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client(**headers).get("/health/detail", **extra)


def test_it_answers_liveness_publicly_without_internals_or_round_trips(client, db, settings,
                                                                       django_assert_num_queries):
    # Broker unreachable, serving on an internal address: liveness touches neither (nor the
    # database), so it answers at once and tells an anonymous caller nothing about them.
    settings.REDIS_CLIENT_URL = "redis://127.0.0.1:1/0"
    settings.SERVING_URL = "http://10.11.12.13:8000"
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_refuses_the_detail_to_anonymous_callers_read_tokens_and_non_staff(client, db, team, settings):
    settings.SERVING_URL = "http://10.11.12.13:8000"
    anonymous = client.get("/health/detail")
    assert anonymous.status_code == 401 and "10.11.12.13" not in anonymous.content.decode()
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    for role in ("read", "write"):
        assert _detail(api_token_create(team=team, role=role).token).status_code == 403, role
    revoked = api_token_create(team=team, role="admin")
    api_token_revoke(token=revoked.record)
    assert _detail(revoked.token).status_code == 401
    assert _detail("dbt_not-a-token").status_code == 401
    user = get_user_model().objects.create_user("ann", password="pw-ann-123456")
    client.force_login(user)
    assert client.get("/health/detail").status_code == 403


def test_it_reports_each_component_to_an_admin_token(db, admin_token):
    response = _detail(admin_token)
    body = response.json()
    assert response.status_code == 200, body
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["broker"]["status"] == "ok"
    assert "workers" in body["components"]


def test_it_reports_each_component_to_a_staff_session(client, db):
    client.force_login(get_user_model().objects.create_user("ops", password="pw-ops-123456", is_staff=True))
    response = client.get("/health/detail")
    assert response.status_code == 200, response.content
    assert set(response.json()["components"]) >= {"database", "broker", "workers", "serving"}


def test_it_answers_503_with_the_broker_down(db, admin_token, settings):
    settings.REDIS_CLIENT_URL = "redis://127.0.0.1:1/0"
    response = _detail(admin_token)
    assert response.status_code == 503
    assert response.json()["components"]["broker"]["status"] == "down"
