"""The per-process segment-stream watcher: wakes on every change, reads marks only when the log moved."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from livelens.api.stream import LogWatcher


class FakeReads:
    """The two reads the watcher makes, over a mutable event-log head and per-contact marks."""

    reads_without_waiting = True

    def __init__(self) -> None:
        self.head = 7
        self.marks: dict[str, tuple[int, str]] = {"c1": (3, "IN_PROGRESS"), "c2": (1, "IN_PROGRESS")}
        self.mark_reads = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        yield self

    def last_instance_event(self) -> int:
        return self.head

    def segment_marks(self, contact_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        self.mark_reads += 1
        return {c: self.marks[c] for c in contact_ids if c in self.marks}


async def settle(ticks: int = 5) -> None:
    await asyncio.sleep(0.01 * ticks)


def test_marks_are_read_only_when_the_event_log_moved_and_every_change_wakes() -> None:
    async def scenario() -> None:
        reads = FakeReads()
        watcher = LogWatcher(reads, 0.01)  # type: ignore[arg-type]
        first = watcher.watch("c1")
        await settle()
        assert first.is_set()  # the first sight of a contact counts as a change
        first.clear()
        baseline = reads.mark_reads
        await settle()
        assert reads.mark_reads == baseline and not first.is_set()  # nothing moved: no marks query

        second = watcher.watch("c2")  # a new contact is read although the log did not move
        await settle()
        assert second.is_set() and not first.is_set()
        second.clear()

        reads.head, reads.marks["c1"] = 8, (4, "IN_PROGRESS")  # a segment for c1 only
        await settle()
        assert first.is_set() and not second.is_set()
        first.clear()

        reads.head, reads.marks["c2"] = 9, (1, "COMPLETED")  # the end of c2's analysis
        await settle()
        assert second.is_set() and not first.is_set()
        watcher.unwatch("c1", first)
        watcher.unwatch("c2", second)
        await settle()

    asyncio.run(scenario())
