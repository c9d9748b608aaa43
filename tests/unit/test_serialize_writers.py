"""The compiled ``to_wire`` writers give exactly what the plain recursive walk gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.model import Shape

from livelens.api.routing import load_service_models
from livelens.api.serialize import to_wire, to_wire_reference

TIMESTAMPS = [
    "2026-11-21T05:58:30.123Z",
    "2026-11-21T05:58:30Z",
    "2026-11-21T05:58:30.123456+02:00",
    datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 1, 2, 3, 4, 5),
]


def sample(shape: Shape, rng: random.Random, depth: int = 0) -> Any:
    kind = shape.type_name
    if depth > 6:
        return None
    if kind == "structure":
        value: dict[str, Any] = {"NotInTheModel": "dropped"}
        for name, member in shape.members.items():
            roll = rng.random()
            value[name] = None if roll < 0.15 else sample(member, rng, depth + 1)
        return value
    if kind == "list":
        return [sample(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {f"k{i}": sample(shape.value, rng, depth + 1) for i in range(rng.randint(0, 2))}
    if kind == "timestamp":
        return rng.choice(TIMESTAMPS)
    if kind == "blob":
        return rng.choice([b"\x00bytes", "already text"])
    if kind in ("integer", "long"):
        return rng.randint(0, 10)
    if kind in ("float", "double"):
        return rng.random()
    if kind == "boolean":
        return rng.random() < 0.5
    return rng.choice(["text", "ü ☃", ""])


@pytest.mark.parametrize("service", ["connect", "connect-contact-lens", "connectparticipant"])
def test_compiled_writers_match_the_reference_walk(service: str) -> None:
    model = load_service_models()[service]
    rng = random.Random(7)
    for name in model.operation_names:
        shape = model.operation_model(name).output_shape
        if shape is None:
            continue
        for _ in range(5):
            value = sample(shape, rng)
            assert to_wire(shape, value) == to_wire_reference(shape, value), name
