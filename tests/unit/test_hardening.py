"""Small pieces of the hardening: payload hash, policies, limits, rate-limited logging, private files."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.api.auth import AuthError, SigV4Verifier, parse_credentials, parse_policies
from livelens.api.authz import Policy, action_of
from livelens.api.limits import (
    BodyTimeout,
    BodyTooLarge,
    InflightLimiter,
    RateLimitedLog,
    TooManyRequests,
    json_depth,
    read_body,
)
from livelens.files import private_database, private_dir
from livelens.storage import SqliteStorage


def _verify(body: bytes, claimed: str | None, sent: bytes | None = None) -> object:
    headers = {"Content-Type": "application/json", **({"X-Amz-Content-SHA256": claimed} if claimed else {})}
    request = AWSRequest("POST", "http://127.0.0.1:9/contact/stop", data=body, headers=headers)
    SigV4Auth(Credentials("AKID", "secret"), "connect", "us-east-1").add_auth(request)
    lowered = {k.lower(): v for k, v in request.headers.items()}
    lowered["host"] = "127.0.0.1:9"
    return SigV4Verifier({"AKID": "secret"}).verify("POST", request.url, lowered, body if sent is None else sent)


def test_the_payload_hash_is_computed_not_trusted() -> None:
    body = b'{"ContactId":"c"}'
    assert _verify(body, None)
    assert _verify(body, hashlib.sha256(body).hexdigest())
    for claimed, sent in ((hashlib.sha256(body).hexdigest(), b'{"ContactId":"x"}'), ("UNSIGNED-PAYLOAD", body),
                          ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", body), ("0" * 64, body)):
        with pytest.raises(AuthError) as caught:
            _verify(body, claimed, sent)
        assert caught.value.code == "InvalidSignatureException"
    with pytest.raises(AuthError):  # no claimed hash: the body swapped after signing breaks the signature
        _verify(body, None, b'{"ContactId":"x"}')


def test_policies_in_the_credentials_file() -> None:
    text = "A1 s1\nA2 s2 role=supervisor instances=*\nA3 s3 role=ingest instances=own,i-1  # comment\n"
    assert parse_credentials(text, "f") == {"A1": "s1", "A2": "s2", "A3": "s3"}
    assert parse_policies(text, "f") == {"A2": Policy("supervisor", ("*",)), "A3": Policy("ingest", ("own", "i-1"))}
    with pytest.raises(ValueError, match="role"):
        parse_policies("A1 s1 role=root", "f")
    with pytest.raises(ValueError, match="unknown policy option"):
        parse_policies("A1 s1 color=red", "f")


def test_what_each_operation_is() -> None:
    assert action_of("DescribeInstance") == action_of("ListRealtimeContactAnalysisSegmentsV2") == "read"
    assert action_of("TestRule") == action_of("GetWebhooks") == "read"
    assert action_of("PutUtterances") == action_of("StartChatContact") == "ingest"
    assert action_of("DeleteInstance") == action_of("PutWebhooks") == action_of("TagResource") == "manage"
    own = Policy()
    assert own.reaches("i-1", None, "K") and own.reaches("i-1", "K", "K") and not own.reaches("i-1", "L", "K")
    assert Policy("admin", ("i-1",)).reaches("i-1", "L", "K") and Policy("admin", ("*",)).reaches("x", "L", "K")


def _receiver(chunks: list[bytes], stall: bool = False) -> Any:
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(10 if stall else 0)
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": queue.pop(0), "more_body": bool(queue) or stall}

    return receive


def test_bodies_are_bounded_while_they_stream() -> None:
    assert asyncio.run(read_body(_receiver([b"ab", b"cd"]), 4, 1)) == b"abcd"
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(_receiver([b"ab", b"cd", b"e"] + [b"x" * 1000] * 1000), 4, 1))
    with pytest.raises(BodyTimeout):
        asyncio.run(read_body(_receiver([b"ab"], stall=True), 100, 0.05))


def test_json_depth_is_measured_without_parsing() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b"[" * 100_000) == 100_000
    assert json_depth(b'"\\"[[["') == 0


def test_inflight_requests_are_capped_per_client_and_in_all() -> None:
    limiter = InflightLimiter(total=3, per_client=2)
    with limiter.admit("a"), limiter.admit("a"):
        with pytest.raises(TooManyRequests):
            with limiter.admit("a"):
                pass
        with limiter.admit("b"):
            with pytest.raises(TooManyRequests):
                with limiter.admit("c"):
                    pass
    with limiter.admit("a"), limiter.admit("a"), limiter.admit("c"):
        pass


def test_logging_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger("test.rate"), interval=60)
    with caplog.at_level(logging.WARNING, logger="test.rate"):
        written = [log.log(logging.WARNING, "flood", "refused %s", n) for n in range(1000)]
        log.log(logging.WARNING, "other", "another kind")
    assert written.count(True) == 1
    assert len(caplog.records) == 2


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        storage = SqliteStorage(tmp_path / "db.sqlite")
        with storage.write() as tx:
            tx.set_meta("k", "v")
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"db.sqlite{suffix}"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, suffix
        storage.close()
        loose = tmp_path / "loose.db"
        loose.write_bytes(b"")
        os.chmod(loose, 0o644)
        private_database(loose)
        assert stat.S_IMODE(loose.stat().st_mode) == 0o600
        private_dir(tmp_path / "uploads")
        assert stat.S_IMODE((tmp_path / "uploads").stat().st_mode) == 0o700
    finally:
        os.umask(previous)
