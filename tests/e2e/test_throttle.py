"""``livelens serve --throttle aws``: AWS's quotas answered with ThrottlingException (429), retried by botocore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, assert_client_error, start_server

# Left out of make test's PostgreSQL pass: request-rate quotas enforced before a request reaches storage.
pytestmark = pytest.mark.storage_independent


@pytest.fixture(scope="module")
def aws_throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("throttled"), "--throttle", "aws")
    yield server
    server.stop()


def test_v1_quota_is_enforced_and_botocore_retries(aws_throttled: Server) -> None:
    connect = aws_throttled.client("connect")
    instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias="throttled",
                                       InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"]
    contact = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    no_retries = aws_throttled.client("connect-contact-lens")
    calls: list[Any] = []
    with pytest.raises(ClientError) as excinfo:
        for _ in range(5):  # burst 2 at 1 per second: the third call in a row is throttled
            calls.append(no_retries.list_realtime_contact_analysis_segments(InstanceId=instance, ContactId=contact))
    assert len(calls) in (2, 3)
    assert_client_error(excinfo, "ThrottlingException", 429, "ListRealtimeContactAnalysisSegments")
    retrying = aws_throttled.client(
        "connect-contact-lens", config=Config(retries={"mode": "standard", "max_attempts": 10})
    )
    for _ in range(3):
        page = retrying.list_realtime_contact_analysis_segments(InstanceId=instance, ContactId=contact)
        assert "Segments" in page
    assert page["ResponseMetadata"]["RetryAttempts"] >= 0


def test_the_aws_cli_retries_by_itself(aws_throttled: Server) -> None:
    connect = aws_throttled.client("connect")
    instance = connect.list_instances()["InstanceSummaryList"][0]["Id"]
    for _ in range(7):  # DescribeRule's default quota: 2 per second, burst 5
        result = aws_throttled.aws("connect", "list-rules", "--instance-id", instance, check=False)
        assert result.returncode == 0, result.stderr
