from fastapi.testclient import TestClient

from web_app import app


def test_hello() -> None:
    response = TestClient(app).get("/")
    assert response.status_code == 200
    assert response.json()["message"].startswith("hello")


def test_health() -> None:
    assert TestClient(app).get("/health").json() == {"status": "ok"}
