"""Health is unsigned; metrics need SigV4 unless asked from the loopback interface."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from livelens.app import create_app
from livelens.config import Settings

KEY, SECRET = "LLIAHEALTH0000000001", "health-secret"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    directory = tmp_path_factory.mktemp("health")
    credentials = directory / "credentials"
    credentials.write_text(f"{KEY} {SECRET}\n")
    settings = Settings(db=str(directory / "health.db"), credentials=str(credentials), analysis_workers="0")
    return TestClient(create_app(settings))  # no lifespan: no worker runs, nothing needs one


def test_health_needs_no_signature(client: TestClient) -> None:
    answer = client.get("/livelens/v1/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["analysis"]["pending_items"] == 0


def test_metrics_from_elsewhere_need_a_signature(client: TestClient) -> None:
    assert client.get("/livelens/v1/metrics").status_code == 403  # TestClient's peer is "testclient"
    request = AWSRequest("GET", "http://testserver/livelens/v1/metrics", headers={})
    SigV4Auth(Credentials(KEY, SECRET), "connect", "us-east-1").add_auth(request)
    answer = client.get("/livelens/v1/metrics", headers=dict(request.headers))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "livelens_analysis_backlog_items 0" in answer.text
    assert "livelens_analysis_worker_processes 0" in answer.text


def test_metrics_from_loopback_need_none(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "loop.db"), credentials="", analysis_workers="0")
    local = TestClient(create_app(settings), client=("127.0.0.1", 50000))
    answer = local.get("/livelens/v1/metrics")
    assert answer.status_code == 200
    assert "# TYPE livelens_items_accepted_total counter" in answer.text


def test_routes_beside_the_wire_answer_a_lost_database_as_the_wire_does(tmp_path: Path) -> None:
    """Streams and recordings get the retryable AWS-shaped 500 of the API routes, not a bare 500."""
    from livelens.storage.base import StorageUnavailable

    credentials = tmp_path / "credentials"
    credentials.write_text(f"{KEY} {SECRET}\n")
    app = create_app(Settings(db=str(tmp_path / "lost.db"), credentials=str(credentials), analysis_workers="0"))
    storage = app.state.runtime.services.center.storage

    def unreachable() -> None:
        raise StorageUnavailable("connection refused")

    storage.read = unreachable
    client = TestClient(app, raise_server_exceptions=False)
    for leaf in ("recordings", "stream"):
        path = f"/livelens/v1/instances/i-1/contacts/c-1/{leaf}"
        request = AWSRequest("GET", f"http://testserver{path}", headers={})
        SigV4Auth(Credentials(KEY, SECRET), "connect", "us-east-1").add_auth(request)
        answer = client.get(path, headers=dict(request.headers))
        assert answer.status_code == 500, (path, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == "InternalServiceException"
        assert answer.json()["__type"] == "InternalServiceException"
        assert "The database is unavailable; nothing was changed, retry" in answer.json()["Message"]
