"""The token bucket: per caller and operation, refilled at the quota's rate."""

from __future__ import annotations

import pytest

from livelens.api.throttle import AWS_DEFAULT, Quota, Throttle, quota_for
from livelens.errors import ThrottlingException


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_aws_preset_v1_is_one_per_second_burst_two() -> None:
    clock = Clock()
    throttle = Throttle("aws", clock)
    v1 = ("connect-contact-lens", "ListRealtimeContactAnalysisSegments")
    throttle.take("KEY1", *v1)
    throttle.take("KEY1", *v1)
    with pytest.raises(ThrottlingException, match="1 requests per second, burst 2"):
        throttle.take("KEY1", *v1)
    throttle.take("KEY2", *v1)  # another access key has its own bucket
    throttle.take("KEY1", "connect", "ListRealtimeContactAnalysisSegmentsV2")  # and another operation
    clock.now += 1.0
    throttle.take("KEY1", *v1)  # one token back after a second
    with pytest.raises(ThrottlingException):
        throttle.take("KEY1", *v1)


def test_presets() -> None:
    assert quota_for("aws", "connect", "ListRealtimeContactAnalysisSegmentsV2") == Quota(2.0, 5)
    assert quota_for("aws", "connect", "DescribeRule") == AWS_DEFAULT
    assert quota_for("off", "connect", "DescribeRule") is None
    generous = quota_for("default", "connect", "DescribeRule")
    assert generous is not None and generous.rate >= 1000 and quota_for("aws", "livelens", "PutUtterances") == generous
    throttle = Throttle("off", Clock())
    for _ in range(10_000):
        throttle.take("KEY", "connect-contact-lens", "ListRealtimeContactAnalysisSegments")
    with pytest.raises(ValueError):
        Throttle("fast")
