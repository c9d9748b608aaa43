"""No input, however malformed, produces a 500 or a traceback.

Every operation livelens serves (the three botocore service models and
livelens' own, ``api/models/livelens.json``) gets signed requests whose JSON
bodies, path labels and query strings are drawn at random: values generated
from the operation's input shape (so they reach the handlers), values of the
wrong type, strings with lone surrogates and NUL, nested garbage. Path labels
and tokens are sometimes real (a live instance, chat contact and connection
token), so handlers run past their lookups. The server must answer each with a
2xx or a 4xx rest-json error. Runs in-process (no worker: nothing here needs
the analysis models). A longer run: ``LIVELENS_FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import json
import os
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

EXAMPLES = int(os.environ.get("LIVELENS_FUZZ_EXAMPLES", "25"))
#: Strings no store accepts: lone surrogates, NUL.
hostile_text = st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\x00y", "\ud83d"])
texts = st.text(max_size=40) | hostile_text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
REAL: dict[str, str] = {}  # filled by the fixture: a live instance, contact, connection token


def from_shape(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like ``shape`` (enums, lengths, nesting), now and then of the wrong kind."""
    kind = shape.type_name
    if depth > 6:
        return st.none()
    if kind == "structure":
        members = {n: m for n, m in shape.members.items() if not m.serialization.get("location")}
        shaped = st.fixed_dictionaries({}, optional={n: from_shape(m, depth + 1) for n, m in members.items()})
    elif kind == "list":
        shaped = st.lists(from_shape(shape.member, depth + 1), max_size=3)
    elif kind == "map":
        shaped = st.dictionaries(st.text(max_size=12) | hostile_text, from_shape(shape.value, depth + 1), max_size=3)
    elif kind == "string":
        enum = shape.metadata.get("enum")
        known = [v for v in REAL.values()] + (list(enum) if enum else [])
        shaped = st.sampled_from(known) | texts if known else texts
    elif kind in ("integer", "long"):
        shaped = st.integers(min_value=-(2**63), max_value=2**63)
    elif kind in ("float", "double"):
        shaped = st.floats(allow_nan=False)
    elif kind == "boolean":
        shaped = st.booleans()
    elif kind == "timestamp":
        shaped = st.datetimes().map(lambda d: d.isoformat()) | st.integers() | texts
    else:
        shaped = texts
    return st.one_of(shaped, shaped, shaped, json_values)


def body_for(operation: Any) -> st.SearchStrategy[Any]:
    shape = operation.model.input_shape if operation.model else None
    if shape is None:
        return json_values
    return st.one_of(from_shape(shape), from_shape(shape), json_values)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    directory = tmp_path_factory.mktemp("fuzz")
    credentials = directory / "credentials"
    credentials.write_text(f"{KEY} {SECRET}\n")
    app = create_app(Settings(db=str(directory / "fuzz.db"), credentials=str(credentials), validate_responses=True))
    test_client = TestClient(app, raise_server_exceptions=False)
    _real_ids(test_client)
    return test_client


def _real_ids(client: TestClient) -> None:
    """A live instance, chat contact and connection token for labels and tokens to draw from."""
    instance = _send(client, "PUT", "/instance", json.dumps(
        {"IdentityManagementType": "CONNECT_MANAGED", "InboundCallsEnabled": True, "OutboundCallsEnabled": True}
    ).encode(), None).json()
    chat = _send(client, "PUT", "/contact/chat", json.dumps(
        {"InstanceId": instance["Id"], "ContactFlowId": "f", "ParticipantDetails": {"DisplayName": "Fuzz"}}
    ).encode(), None).json()
    connection = client.post("http://testserver/participant/connection", json={"Type": ["CONNECTION_CREDENTIALS"]},
                             headers={"X-Amz-Bearer": chat["ParticipantToken"]}).json()
    REAL.update(instance=instance["Id"], contact=chat["ContactId"], participant=chat["ParticipantId"],
                token=connection["ConnectionCredentials"]["ConnectionToken"])


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
    real = st.sampled_from(["instance", "contact"]).map(lambda name: REAL[name])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=body_for(operation), labels=st.lists(st.text(min_size=1, max_size=30) | real, min_size=4,
                                                     max_size=4),
           raw=st.booleans(),
           bearer=st.none() | st.just(REAL["token"])
           | st.text(max_size=60).filter(lambda t: t.isascii() and t.isprintable()))
    def check(body: Any, labels: list[str], raw: bool, bearer: str | None) -> None:
        path = operation.uri.split("?")[0]
        for name, label in zip(("InstanceId", "ContactId", "RuleId", "AttachmentId"), labels, strict=True):
            path = path.replace("{" + name + "}", quote(label, safe=""))
        payload = json.dumps(body).encode() if not raw else json.dumps(body).encode()[:-1]
        if operation.name == "UploadAttachment" and raw:
            payload = b"\x89PNG\r\n" + payload
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

