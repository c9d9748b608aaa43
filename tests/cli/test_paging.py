"""Live pagination: follow NextToken to every segment available now; --no-paginate; --max-items/--starting-token."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from livelens.cli import segments
from tests.cli.conftest import Run, requests_made, v1_args, v2_args
from tests.e2e.conftest import start_chat

V2_OP = "ListRealtimeContactAnalysisSegmentsV2"


def listing(livelens: Run, *args: str) -> tuple[dict[str, Any], str]:
    result = livelens(*args, "--debug")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout), result.stderr


def test_follows_every_page_of_a_completed_contact(livelens: Run, aws: Run, instance_id: str,
                                                   chat_contact: str) -> None:
    everything = json.loads(aws(*v2_args(instance_id, chat_contact), "--max-results", "100").stdout)
    count = len(everything["Segments"])
    assert count > 6 and "NextToken" not in everything
    paged, log = listing(livelens, *v2_args(instance_id, chat_contact), "--max-results", "2")
    assert paged == everything
    # Several pages, and the page with the last segment (no NextToken) ends it.
    assert requests_made(log, V2_OP) == math.ceil(count / 2)


def test_no_paginate_makes_one_call(livelens: Run, aws: Run, instance_id: str, chat_contact: str) -> None:
    single, log = listing(livelens, *v2_args(instance_id, chat_contact), "--max-results", "2", "--no-paginate")
    assert requests_made(log, V2_OP) == 1
    assert len(single["Segments"]) == 2 and single["NextToken"]
    assert single == json.loads(aws(*v2_args(instance_id, chat_contact), "--max-results", "2").stdout)


def test_in_progress_contact_stops_at_an_empty_page(livelens: Run, aws: Run, connect: Any, participant: Any,
                                                    instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    for text in ("Hello, is anyone there?", "Yes, how can I help?", "My card was declined.", "Let me check."):
        token = chat.customer if text[0] in "HM" else chat.agent
        participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=token)
    args = v2_args(instance_id, chat.contact_id)

    def settled() -> dict[str, Any] | None:
        page = json.loads(aws(*args, "--max-results", "100").stdout)
        return page if sum("Transcript" in s for s in page["Segments"]) == 4 else None

    from tests.e2e.conftest import wait_for

    single = wait_for(settled, timeout=30, interval=0.3)
    paged, log = listing(livelens, *args, "--max-results", "3")
    count = len(single["Segments"])
    # ceil(count/3) pages with segments, then one empty page with a NextToken: nothing more yet.
    assert requests_made(log, V2_OP) == math.ceil(count / 3) + 1
    assert paged["Segments"] == single["Segments"]
    assert paged["Status"] == "IN_PROGRESS"
    # The NextToken printed resumes after the last segment printed (the token aws prints for one page).
    assert paged["NextToken"] == single["NextToken"]
    participant.disconnect_participant(ConnectionToken=chat.customer)


@pytest.mark.parametrize(("page_size", "max_items"), [("2", "3"), ("100", "5")])
def test_max_items_and_starting_token(livelens: Run, aws: Run, instance_id: str, chat_contact: str,
                                      voice_contact: str, page_size: str, max_items: str) -> None:
    # --max-items 3 with pages of 2 cuts pages in the middle (the token carries the truncation).
    contacts = [v2_args(instance_id, chat_contact)] if page_size == "2" else [v1_args(instance_id, voice_contact)]
    for args in contacts:
        everything = json.loads(aws(*args, "--max-results", "100").stdout)["Segments"]
        collected: list[Any] = []
        token: str | None = None
        for _ in range(20):
            extra = ["--starting-token", token] if token else []
            chunk = json.loads(livelens(*args, "--max-items", max_items, "--page-size", page_size, *extra).stdout)
            collected.extend(chunk["Segments"])
            token = chunk.get("NextToken")
            if not token:
                break
        assert collected == everything


def test_paging_options_conflicts(livelens: Run, instance_id: str, chat_contact: str) -> None:
    args = v2_args(instance_id, chat_contact)
    for extra in (["--no-paginate", "--max-items", "2"], ["--follow", "--max-items", "2"], ["--max-items", "0"],
                  ["--max-items", "x"], ["--starting-token", "abc", "--next-token", "def"]):
        result = livelens(*args, *extra)
        assert result.returncode == 252, (extra, result.stderr)
        assert result.stderr.startswith("livelens: error:") and result.stderr.count("\n") == 1


# --- the paging logic alone --------------------------------------------------------------------


class FakeLog:
    """A segment log that serves pages the way livelens does, and grows on demand."""

    def __init__(self, items: int, completed: bool = True) -> None:
        self.items = [{"Transcript": {"Id": str(i)}} for i in range(items)]
        self.completed = completed
        self.calls: list[dict[str, Any]] = []
        self.on_empty: Any = None

    def __call__(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        start = int(params.get("NextToken") or 0)
        size = params.get("MaxResults", 100)
        page = self.items[start:start + size]
        end = start + len(page)
        answer: dict[str, Any] = {"Status": "COMPLETED" if self.completed else "IN_PROGRESS", "Segments": page}
        if not (self.completed and end == len(self.items)):
            answer["NextToken"] = str(end)
        if not page and self.on_empty:
            self.on_empty(self)
        return answer


def test_collect_stops_at_empty_page_while_in_progress() -> None:
    log = FakeLog(5, completed=False)
    result = segments.collect(log, {"MaxResults": 2}, ["Status", "Segments", "NextToken"])
    assert len(result["Segments"]) == 5 and result["NextToken"] == "5" and result["Status"] == "IN_PROGRESS"
    assert [c.get("NextToken") for c in log.calls] == [None, "2", "4", "5"]


def test_collect_max_items_mid_page_and_resume() -> None:
    log = FakeLog(7)
    first = segments.collect(log, {"MaxResults": 3}, ["Segments", "NextToken"], max_items=4)
    assert [s["Transcript"]["Id"] for s in first["Segments"]] == ["0", "1", "2", "3"]
    rest = segments.collect(log, {"MaxResults": 3}, ["Segments", "NextToken"], starting_token=first["NextToken"])
    assert [s["Transcript"]["Id"] for s in rest["Segments"]] == ["4", "5", "6"] and "NextToken" not in rest


def test_follow_prints_each_segment_once_with_backoff() -> None:
    log = FakeLog(3, completed=False)
    waits: list[float] = []

    def grow(fake: FakeLog) -> None:
        if len(waits) == 3:
            fake.items.append({"Transcript": {"Id": str(len(fake.items))}})
        if len(waits) == 6:
            fake.completed = True

    log.on_empty = grow
    seen: list[str] = []
    segments.follow(log, {"MaxResults": 2}, lambda segment, page: seen.append(segment["Transcript"]["Id"]),
                    sleep=waits.append, backoff=segments.Backoff(initial=0.1, maximum=0.4))
    assert seen == ["0", "1", "2", "3"]
    assert waits[:3] == [0.1, 0.2, 0.4]  # doubling while nothing is new, capped
    assert waits[4] == 0.1  # reset after the new segment arrived
