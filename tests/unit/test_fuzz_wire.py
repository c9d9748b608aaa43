"""No input, however malformed, produces a 500 or a traceback.

Every operation livelens serves gets signed requests whose JSON bodies,
path labels and query strings are drawn at random: values of the wrong type,
strings of every length, nested garbage. The server must answer each with a
2xx or a 4xx rest-json error. Runs in-process (no worker: nothing here needs
the analysis models).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from livelens.api import ops  # noqa: F401
from livelens.api.routing import load_service_models, registry
from livelens.app import create_app
from livelens.config import Settings

KEY, SECRET = "LLIAFUZZ000000000001", "fuzz-secret"
OPERATIONS = registry.build(load_service_models())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def body_for(operation: Any) -> st.SearchStrategy[Any]:
    names = list(operation.model.input_shape.members) if operation.model else ["Utterances", "Content"]
    keyed = st.dictionaries(st.sampled_from(names), json_values, max_size=len(names)) if names else st.just({})
    return st.one_of(keyed, json_values)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    directory = tmp_path_factory.mktemp("fuzz")
    credentials = directory / "credentials"
    credentials.write_text(f"{KEY} {SECRET}\n")
    app = create_app(Settings(db=str(directory / "fuzz.db"), credentials=str(credentials), validate_responses=True))
    return TestClient(app, raise_server_exceptions=False)


def _send(client: TestClient, method: str, path: str, body: bytes, bearer: str | None) -> Any:
    url = f"http://testserver{path}"
    headers = {"Content-Type": "application/json"}
    if bearer is not None:
        headers["X-Amz-Bearer"] = bearer
    request = AWSRequest(method, url, data=body, headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "connect", "us-east-1").add_auth(request)
    return client.request(method, url, content=body, headers=dict(request.headers))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.service}.{op.name}")
def test_random_input_never_breaks_the_server(client: TestClient, operation: Any) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=body_for(operation), label=st.text(min_size=1, max_size=30), raw=st.booleans(),
           bearer=st.none() | st.text(max_size=60).filter(lambda t: t.isascii() and t.isprintable()))
    def check(body: Any, label: str, raw: bool, bearer: str | None) -> None:
        path = operation.uri.split("?")[0]
        for name in ("InstanceId", "ContactId", "RuleId", "AttachmentId"):
            path = path.replace("{" + name + "}", quote(label, safe=""))
        payload = json.dumps(body).encode() if not raw else json.dumps(body).encode()[:-1]
        response = _send(client, operation.method, path, payload, bearer)
        assert response.status_code < 500, (operation.name, response.status_code, response.text)
        assert "Traceback" not in response.text
        if response.status_code >= 400:
            assert response.headers["x-amzn-ErrorType"]
            assert "Message" in response.json()

    check()


def test_unsigned_and_unknown_paths_answer_cleanly(client: TestClient) -> None:
    unsigned = client.post("http://testserver/contact/stop", content=b"{}")
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    unknown = _send(client, "GET", "/no/such/operation", b"", None)
    assert unknown.status_code == 404
    wrong_method = _send(client, "PATCH", "/instance", b"", None)
    assert wrong_method.status_code == 405

