"""Output as the strictest SDKs read it: every output shape of the three services, checked strictly.

botocore parses leniently (it takes an epoch number where the model says ``iso8601``); the AWS SDK for
JavaScript v3 and the other generated SDKs do not. These tests serialize values along every output
shape (``to_wire`` then JSON) and the segments livelens stores (spliced into pages as they are), and
check the result with :class:`WireValidator`: member types, timestamps in the declared format, enum
values, required members, unions with one member — never through botocore's parser.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import Shape

from livelens.analysis.types import CharSpan, Issue, PiiSpan, Redaction, Summary, TurnAnalysis
from livelens.api.routing import load_service_models
from livelens.api.serialize import JsonFragments, dumps, to_wire
from livelens.api.validate import WireValidator
from livelens.contacts import segments as render
from livelens.contacts.models import Contact
from livelens.storage.sqlite import apply_migrations

SERVICES = ["connect", "connect-contact-lens", "connectparticipant"]
#: Timestamps as livelens holds them before serializing: stored ISO strings and datetimes.
TIMESTAMPS = [
    "2026-11-21T05:58:30.123Z",
    "2026-11-21T05:58:30Z",
    "2026-11-21T05:58:30.123456+02:00",
    datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5),
]


class TypesOnly(WireValidator):
    """The strict checks except string patterns and lengths (sample strings are not made to match them)."""

    def _check_string(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, str):
            self._fail(found, value, path, "Member must be a string")
        elif shape.metadata.get("enum") and value not in shape.metadata["enum"]:
            self._fail(found, value, path, "Member must satisfy enum value set")

    def _length(self, shape: Shape, value: Any, path: str, found: list[str], what: str) -> None:
        return None

    def _range(self, shape: Shape, value: float, path: str, found: list[str]) -> None:
        return None


def sample(shape: Shape, rng: random.Random, depth: int = 0) -> Any:
    """A value for ``shape`` as a handler returns it (every required member set, unions with one member)."""
    kind = shape.type_name
    if kind == "structure":
        members = {n: m for n, m in shape.members.items() if not m.serialization.get("location")}
        if shape.metadata.get("union"):
            name = rng.choice(sorted(members))
            return {name: sample(members[name], rng, depth + 1)}
        required = set(shape.required_members)
        return {
            name: sample(member, rng, depth + 1)
            for name, member in members.items()
            if name in required or (depth < 5 and rng.random() < 0.8)
        }
    if kind == "list":
        return [sample(shape.member, rng, depth + 1) for _ in range(rng.randint(1, 2) if depth < 5 else 0)]
    if kind == "map":
        keys = shape.key.metadata.get("enum") or ["k0", "k1"]
        return {rng.choice(keys): sample(shape.value, rng, depth + 1) for _ in range(1 if depth < 5 else 0)}
    if kind == "timestamp":
        return rng.choice(TIMESTAMPS)
    if kind == "blob":
        return b"\x00bytes"
    if kind in ("integer", "long"):
        return rng.randint(0, 10)
    if kind in ("float", "double"):
        return rng.random()
    if kind == "boolean":
        return rng.random() < 0.5
    enum = shape.metadata.get("enum")
    return rng.choice(enum) if enum else "text"


def serialized(shape: Shape, value: Any) -> Any:
    return json.loads(dumps(to_wire(shape, value)))


@pytest.mark.parametrize("service", SERVICES)
def test_every_output_shape_serializes_strictly(service: str) -> None:
    model = load_service_models()[service]
    rng = random.Random(10)
    checked = 0
    for name in model.operation_names:
        shape = model.operation_model(name).output_shape
        if shape is None:
            continue
        for _ in range(4):
            problems = TypesOnly().errors(shape, serialized(shape, sample(shape, rng)))
            assert not problems, f"{service} {name}: {problems}"
            checked += 1
    assert checked > 0


def test_the_strict_reading_rejects_what_botocore_would_accept() -> None:
    model = load_service_models()["connect"]
    shape = model.operation_model("ListRealtimeContactAnalysisSegmentsV2").output_shape
    good = {"Channel": "CHAT", "Status": "IN_PROGRESS", "Segments": [
        {"Event": {"Id": "e", "EventType": "x", "Time": {"AbsoluteTime": "2026-11-21T05:58:30.123Z"}}}
    ]}
    assert WireValidator(dotall=True).errors(shape, good) == []

    def problems_with(time: Any = "2026-11-21T05:58:30.123Z", **changes: Any) -> list[str]:
        value = json.loads(json.dumps(good))
        value["Segments"][0]["Event"]["Time"] = time
        value.update(changes)
        return WireValidator(dotall=True).errors(shape, value)

    assert "iso8601" in " ".join(problems_with({"AbsoluteTime": 1795243444.848}))
    assert problems_with({"AbsoluteTime": "2026-11-21T05:58:30Z"})  # AWS writes milliseconds
    assert problems_with({"AbsoluteTime": "2026-11-21T05:58:30.123+00:00"})
    assert problems_with({})  # a union with no member
    assert problems_with(Channel="SMS")  # not in the enum
    assert problems_with(Status=None)  # a required member null
    assert problems_with(Surprise=1)  # a member the model does not declare
    timestamp_in_epoch = load_service_models()["connect"].operation_model("DescribeContact").output_shape
    described = {"Contact": {"InitiationTimestamp": "2026-11-21T05:58:30.123Z"}}
    assert "epoch" in " ".join(WireValidator().errors(timestamp_in_epoch, described))


def _contact(policy: str = "RedactedAndOriginal") -> Contact:
    return Contact(
        id="c", arn="arn", instance_id="i", channel="CHAT", initiation_method="API",
        initiation_timestamp="2026-11-21T05:58:30.123Z", redaction_policy=policy, language="en-US",
        analysis=["redaction", "sentiment", "issues", "summary"], redaction_mask="PII",
    )


def _stored_v2_rows(policy: str) -> list[render.SegmentRow]:
    contact = _contact(policy)
    text = "Hi, my email is a.b@example.com and I was charged twice."
    redaction = Redaction(
        content="Hi, my email is [PII] and I was charged twice.",
        entities=(PiiSpan(16, 31, "EMAIL", 0.9),),
        original_spans=(CharSpan(16, 31),),
        redacted_spans=(CharSpan(16, 21),),
    )
    who = {"participant_id": "p", "role": "CUSTOMER", "display_name": "Dana"}
    message = {"id": "m", "time": "2026-11-21T05:58:30.123Z", "content": text, **who}
    analysis = TurnAnalysis(sentiment="NEGATIVE", issues=[Issue(4, 55, text[4:55])], redaction=redaction)
    rows = render.turn_segments(contact, message, analysis, redaction)
    rows.append(render.event_segment(contact, {
        "id": "e", "time": "2026-11-21T05:58:31Z", "content_type":
        "application/vnd.amazonaws.connect.event.participant.joined", **who,
    }))
    rows.append(render.attachments_segment(contact, {
        "id": "a", "time": "2026-11-21T05:58:32.5+00:00", "attachments": [
            {"AttachmentName": "r.pdf", "ContentType": "application/pdf", "AttachmentId": "x", "Status": "APPROVED"}
        ], **who,
    }))
    summary = render.summary_body(Summary("COMPLETED", "Customer was charged twice."), render.V2_SUMMARY_MAX)
    rows.append(render.both(contact, {"PostContactSummary": summary}))
    return rows


@pytest.mark.parametrize("policy", ["None", "RedactedAndOriginal", "RedactedOnly"])
def test_stored_v2_segments_spliced_into_a_page_are_strictly_valid(policy: str) -> None:
    shape = load_service_models()["connect"].operation_model("ListRealtimeContactAnalysisSegmentsV2").output_shape
    rows = _stored_v2_rows(policy)
    for output in (0, 1):
        stored = [(kind, bodies[output]) for kind, *bodies in rows if bodies[output] is not None]
        if not stored:
            continue
        # as the segment log stores and splices them: JSON texts, never re-serialized
        page = {"Channel": "CHAT", "Status": "IN_PROGRESS",
                "Segments": JsonFragments(f'{{"{kind}":{json.dumps(body)}}}' for kind, body in stored),
                "NextToken": "t"}
        body = json.loads(dumps(to_wire(shape, page)))
        assert WireValidator(dotall=True).errors(shape, body) == []
        times = [s[k]["Time"]["AbsoluteTime"] for s in body["Segments"] for k in s if "Time" in s[k]]
        assert times and all(isinstance(t, str) and t.endswith("Z") for t in times)


def test_migration_0007_rewrites_epoch_segment_times() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(conn)
    old = '{"Id":"m","Content":"ü","Time":{"AbsoluteTime":1795243444.848}}'
    conn.execute("INSERT INTO segments VALUES ('c', 1, 'Transcript', ?, ?)", (old, old))
    conn.execute("INSERT INTO segments VALUES ('c', 2, 'PostContactSummary', '{\"Status\":\"FAILED\"}', NULL)")
    conn.execute("DELETE FROM _migrations WHERE name LIKE '0007_%'")
    assert apply_migrations(conn) == ["0007_iso8601_segment_times.sql"]
    rows = conn.execute("SELECT raw, redacted FROM segments ORDER BY seq").fetchall()
    expected = {"Id": "m", "Content": "ü", "Time": {"AbsoluteTime": "2026-11-21T06:44:04.848Z"}}
    assert json.loads(rows[0][0]) == expected and json.loads(rows[0][1]) == expected
    assert rows[1] == ('{"Status":"FAILED"}', None)
