"""Authorization like IAM: every SigV4 operation against denying policies, ownership, the access CLI."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from livelens.api import ops  # noqa: F401  (registers the handlers)
from livelens.api.authz import ROLES, action_of
from livelens.api.routing import load_service_models, registry
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    assert_client_error,
    signed_request,
    start_server,
    wait_for,
)

OTHER = ("LLIAOTHERACCOUNT0001", "other-secret-0000000000000000000000001")
SUPERVISOR = ("LLIASUPERVISOR000001", "supervisor-secret-000000000000000000001")
INGEST = ("LLIAINGESTONLY000001", "ingest-secret-0000000000000000000000001")
LIVELENS = str(Path(sys.executable).parent / "livelens")
SIGNED = [op for op in registry.build(load_service_models()) if op.auth == "sigv4"]


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("authz")
    credentials = directory / "keys"
    credentials.write_text(
        f"{ACCESS_KEY} {SECRET_KEY}\n"
        f"{OTHER[0]} {OTHER[1]}\n"
        f"{SUPERVISOR[0]} {SUPERVISOR[1]} role=supervisor instances=*\n"
        f"{INGEST[0]} {INGEST[1]} role=ingest instances=*\n"
    )
    running = start_server(directory, "--credentials", str(credentials), credentials=False,
                           env={"LIVELENS_ANALYSIS": "sentiment"})
    yield running
    running.stop()
    assert "Traceback" not in "".join(running.output)


@pytest.fixture(scope="module")
def owned(iam: Server) -> str:
    return str(iam.client("connect").create_instance(
        IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"])


def _path(operation: Any, instance_id: str) -> str:
    path = operation.uri.split("?")[0].replace("{InstanceId}", instance_id)
    for label in ("ContactId", "RuleId", "AttachmentId", "ExtractionDefinitionId"):
        path = path.replace("{" + label + "}", "00000000-0000-0000-0000-000000000000")
    # Tags name their resource by ARN (the instance's here), URL-encoded in the path as the SDKs send it.
    arn = f"arn:aws:connect:us-east-1:123456789012:instance/{instance_id}"
    return path.replace("{resourceArn}", urllib.parse.quote(arn, safe=""))


def _call(server: Server, operation: Any, instance_id: str, key: tuple[str, str]) -> Any:
    return signed_request(server, operation.method, _path(operation, instance_id), {"InstanceId": instance_id},
                          access_key=key[0], secret_key=key[1])


@pytest.mark.parametrize("operation", [op for op in SIGNED if op.name not in ("CreateInstance", "ListInstances")],
                         ids=lambda op: f"{op.service}.{op.name}")
def test_another_accounts_key_is_denied_every_operation_on_an_instance(
    iam: Server, owned: str, operation: Any
) -> None:
    answer = _call(iam, operation, owned, OTHER)
    assert answer.status_code == 403, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert f"user/{OTHER[0]} is not authorized to perform" in answer.json()["Message"]
    assert f"instance/{owned}" in answer.json()["Message"]


@pytest.mark.parametrize("role, key", [("supervisor", SUPERVISOR), ("ingest", INGEST)])
@pytest.mark.parametrize("operation", SIGNED, ids=lambda op: f"{op.service}.{op.name}")
def test_each_role_is_denied_what_it_does_not_grant(
    iam: Server, owned: str, operation: Any, role: str, key: tuple[str, str]
) -> None:
    answer = _call(iam, operation, owned, key)
    granted = action_of(operation.name) in ROLES[role]
    if granted:
        assert answer.status_code != 403, answer.text  # reaches the handler (2xx, or 4xx for the empty request)
    else:
        assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_instances_belong_to_the_key_that_created_them(iam: Server, owned: str) -> None:
    other = iam.client("connect", aws_access_key_id=OTHER[0], aws_secret_access_key=OTHER[1])
    theirs = other.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                   OutboundCallsEnabled=True)["Id"]
    listed = {i["Id"] for i in other.list_instances()["InstanceSummaryList"]}
    assert theirs in listed and owned not in listed
    mine = {i["Id"] for i in iam.client("connect").list_instances()["InstanceSummaryList"]}
    assert owned in mine and theirs not in mine
    supervisor = iam.client("connect", aws_access_key_id=SUPERVISOR[0], aws_secret_access_key=SUPERVISOR[1])
    assert {owned, theirs} <= {i["Id"] for i in supervisor.list_instances()["InstanceSummaryList"]}
    with pytest.raises(ClientError) as error:
        other.delete_instance(InstanceId=owned)
    assert_client_error(error, "AccessDeniedException", 403)
    with pytest.raises(ClientError) as error:
        supervisor.delete_instance(InstanceId=theirs)
    assert_client_error(error, "AccessDeniedException", 403)


def test_the_access_cli_changes_a_running_servers_policy(iam: Server, owned: str) -> None:
    other = iam.client("connect", aws_access_key_id=OTHER[0], aws_secret_access_key=OTHER[1])

    def access(*args: str) -> str:
        return subprocess.run([LIVELENS, "access", *args, "--db", iam.database], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    access("set", OTHER[0], "--role", "supervisor", "--instances", f"own,{owned}")
    assert f"{OTHER[0]}\trole=supervisor\tinstances=own,{owned}" in access("list")

    def described() -> bool:
        try:
            return bool(other.describe_instance(InstanceId=owned))
        except ClientError:
            return False

    wait_for(described, timeout=10)
    with pytest.raises(ClientError) as error:
        other.delete_instance(InstanceId=owned)
    assert_client_error(error, "AccessDeniedException", 403)
    access("remove", OTHER[0])
    wait_for(lambda: not described(), timeout=10)
