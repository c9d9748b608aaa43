"""The dashboard's endpoints in process (no lifespan, no worker): sessions, CSRF and access policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from livelens.app import create_app
from livelens.config import Settings

ADMIN = ("LLIADASHADMIN0000001", "admin-secret-000000000000000000000001")
NARROW = ("LLIADASHNARROW000001", "narrow-secret-00000000000000000000001")


@pytest.fixture
def app(tmp_path: Path) -> Any:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"{ADMIN[0]} {ADMIN[1]}\n{NARROW[0]} {NARROW[1]} role=supervisor instances=none-yet\n")
    settings = Settings(db=str(tmp_path / "l.db"), credentials=str(credentials), analysis_workers="0")
    made = create_app(settings)
    center = made.state.runtime.services.center
    made.state.instances = [
        center.create_instance("us-east-1", {"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": alias,
                                              "InboundCallsEnabled": True, "OutboundCallsEnabled": True},
                               None, owner=ADMIN[0])["Id"]
        for alias in ("first", "second")
    ]
    return made


def signed_in(app: Any, key: tuple[str, str]) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/").text
    token = page.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post("/dashboard/sign-in", data={"access_key": key[0], "secret_key": key[1], "csrf": token})
    assert answer.status_code == 303, answer.text
    return client


def test_pages_and_data_need_a_session(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    assert 'id="signin-form"' in client.get("/").text
    for path in ("/dashboard/api/instances", f"/dashboard/api/instances/{app.state.instances[0]}/wall",
                 f"/dashboard/api/instances/{app.state.instances[0]}/rules"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.json()["__type"] == "UnauthenticatedException"
    assert client.get("/dashboard/static/app.js").status_code == 200  # assets hold no data
    assert client.get("/dashboard/static/../app.py").status_code == 404
    assert client.get("/dashboard/static/index.html").status_code == 404  # pages only through their routes


def test_policies_limit_what_a_key_sees(app: Any) -> None:
    first, second = app.state.instances
    admin = signed_in(app, ADMIN)
    assert {i["Id"] for i in admin.get("/dashboard/api/instances").json()["Instances"]} == {first, second}
    assert admin.get(f"/dashboard/api/instances/{first}/rules").json() == {"Rules": []}

    narrow = signed_in(app, NARROW)
    assert narrow.get("/dashboard/api/instances").json()["Instances"] == []
    denied = narrow.get(f"/dashboard/api/instances/{first}/rules")
    assert denied.status_code == 403 and denied.json()["__type"] == "AccessDeniedException"
    assert narrow.get(f"/dashboard/api/instances/{first}/wall").status_code == 403
    assert narrow.get(f"/dashboard/api/instances/{first}/history").status_code == 403


def test_the_wire_protocol_still_owns_every_other_path(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/", content=b"{}")
    assert answer.status_code in (400, 403, 404) and "x-amzn-errortype" in answer.headers


def test_failed_sign_ins_are_limited(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/").text
    for _ in range(10):
        token = page.split('name="csrf" value="')[1].split('"')[0]
        wrong = client.post("/dashboard/sign-in", data={"access_key": ADMIN[0], "secret_key": "guess", "csrf": token})
        assert wrong.status_code == 401
        page = wrong.text  # each answer's form comes with a fresh sign-in nonce
    token = page.split('name="csrf" value="')[1].split('"')[0]
    refused = client.post("/dashboard/sign-in", data={"access_key": ADMIN[0], "secret_key": ADMIN[1], "csrf": token})
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app: Any) -> None:
    client = signed_in(app, ADMIN)
    copied = dict(client.cookies)
    csrf = client.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/dashboard/sign-out", data={"csrf": csrf}).status_code == 303
    thief = TestClient(app, follow_redirects=False, cookies=copied)
    assert thief.get("/dashboard/api/instances").status_code == 401
    assert signed_in(app, ADMIN).get("/dashboard/api/instances").status_code == 200  # a new sign-in works
