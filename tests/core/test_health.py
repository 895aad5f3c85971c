def test_it_reports_each_component(client, db):
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["broker"]["status"] == "ok"
    assert "workers" in body["components"]


def test_it_answers_503_with_the_broker_down(client, db, settings):
    settings.REDIS_CLIENT_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["components"]["broker"]["status"] == "down"
