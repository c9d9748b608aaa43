"""livelens driven by Amazon's JavaScript clients: the AWS SDK for JavaScript v3 and amazon-connect-chatjs.

The tests themselves are in ``tests/js`` (Node's test runner, one file per area); each test here runs one
file against the shared real ``livelens serve`` and fails with Node's report. ``make test`` installs
``tests/js`` with ``npm ci``; run alone, this module does it when ``node_modules`` is missing or older
than ``package-lock.json``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, signed_request, unique, utterances_path

# Left out of make test's PostgreSQL pass: the JavaScript clients' parsing of responses the other e2e modules check on
# both backends.
pytestmark = pytest.mark.storage_independent

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the JavaScript client tests need Node.js 20+ and npm on PATH"
    installed = JS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (JS / "package-lock.json").stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=600,
                       capture_output=True)
    return node


def run_node(node: str, server: Server, test_file: str, **env: str) -> None:
    environment = {
        **os.environ,
        "LIVELENS_URL": server.url,
        "LIVELENS_ACCESS_KEY_ID": ACCESS_KEY,
        "LIVELENS_SECRET_ACCESS_KEY": SECRET_KEY,
        **env,
    }
    result = subprocess.run(
        [node, "--no-warnings", "--test", "--test-reporter=spec", test_file],
        cwd=JS, env=environment, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, f"node --test {test_file} failed:\n{result.stdout}\n{result.stderr}"


def test_a_whole_chat_with_chatjs_and_the_js_participant_client(node: str, server: Server) -> None:
    run_node(node, server, "chat.test.mjs")


def test_every_typed_error_and_clock_skew_recovery_with_the_js_sdk(node: str, server: Server) -> None:
    run_node(node, server, "errors.test.mjs")


def test_v1_on_a_voice_contact_with_the_js_contact_lens_client(node: str, server: Server, connect: Any) -> None:
    instance = connect.create_instance(
        IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"js-voice-{unique()}",
        InboundCallsEnabled=True, OutboundCallsEnabled=True,
    )["Id"]
    connect.create_rule(
        InstanceId=instance, Name="charged-twice", PublishStatus="PUBLISHED",
        TriggerEventSource={"EventSourceName": "OnRealTimeCallAnalysisAvailable"},
        Function='customer said "charged twice"',
        Actions=[{"ActionType": "ASSIGN_CONTACT_CATEGORY", "AssignContactCategoryAction": {}}],
    )
    contact = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    lines = [
        ("AGENT", "Thank you for calling, how can I help?", 0, 4000),
        ("CUSTOMER", "My email is a.b@example.com and I was charged twice for my order.", 5000, 11000),
        ("AGENT", "I am sorry, I have refunded the duplicate charge.", 12000, 16000),
    ]
    for role, text, begin, end in lines:
        answer = signed_request(server, "POST", utterances_path(instance, contact), {
            "ParticipantId": role.lower(), "ParticipantRole": role, "Content": text,
            "BeginOffsetMillis": begin, "EndOffsetMillis": end,
        })
        assert answer.status_code == 200, answer.text
    connect.stop_contact(InstanceId=instance, ContactId=contact)
    run_node(node, server, "voice.test.mjs",
             LIVELENS_VOICE_INSTANCE_ID=instance, LIVELENS_VOICE_CONTACT_ID=contact)


def test_the_contact_lens_api_surface_with_the_js_sdk(node: str, server: Server) -> None:
    run_node(node, server, "contact-lens-api.test.mjs")
