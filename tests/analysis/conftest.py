"""Shared fixtures: the real models, loaded once per test session."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from livelens.analysis import Pipeline, Turn, load_pipeline

_ids = itertools.count()


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return load_pipeline()


@pytest.fixture(scope="session")
def make_turn() -> Callable[..., Turn]:
    def make(content: str, role: str = "CUSTOMER", channel: str = "CHAT", **kwargs: object) -> Turn:
        n = next(_ids)
        return Turn(
            id=f"t{n}",
            contact_id="contact-1",
            channel=channel,  # type: ignore[arg-type]
            participant_id=role.lower(),
            participant_role=role,
            content=content,
            **kwargs,  # type: ignore[arg-type]
        )

    return make
