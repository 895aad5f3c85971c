from docsbot.teams.models import ApiToken
from docsbot.teams.services import api_token_create, api_token_revoke


def test_it_rejects_requests_without_a_token(client, team):
    response = client.get("/api/v1/team")
    assert response.status_code == 401
    assert "token" in response.json()["detail"]


def test_it_authenticates_the_team_by_token(api):
    response = api.get("/api/v1/team")
    assert response.status_code == 200
    assert response.json() == {"slug": "alpha", "name": "Alpha"}


def test_it_stores_only_the_hash_of_a_token(team):
    issued = api_token_create(team=team)
    record = ApiToken.objects.get(pk=issued.record.pk)
    assert issued.token not in (record.token_hash, record.prefix)
    assert record.token_hash and len(record.token_hash) == 64


def test_it_refuses_a_revoked_token(client, team):
    issued = api_token_create(team=team)
    api_token_revoke(token=issued.record)
    response = client.get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert response.status_code == 401


def test_it_serves_the_openapi_schema(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/team" in schema["paths"]
