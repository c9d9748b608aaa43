"""The wall feed's fan-out: one update text for every subscriber, and a slow subscriber's backlog bounded."""

from __future__ import annotations

import asyncio
from typing import Any

from livelens.dashboard import wall
from livelens.dashboard.wall import BACKLOG, InstanceFeed, _Subscriber


class ChangingFeed(InstanceFeed):
    """A feed whose every refresh reports one changed card (no storage needed)."""

    def __init__(self, refreshes: int) -> None:
        super().__init__(None, "instance", 0.001, 5)  # type: ignore[arg-type]
        self.left = refreshes

    def refresh(self) -> tuple[list[dict[str, Any]], list[str]]:
        self.left -= 1
        if self.left <= 0:
            self.subscribers.clear()  # ends run()
        return [{"ContactId": f"c{self.left}"}], []


def test_subscribers_share_one_update_text_and_a_slow_one_gets_the_whole_wall_again() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        feed = ChangingFeed(refreshes=BACKLOG + 5)
        reader, slow = _Subscriber(), _Subscriber()
        feed.subscribers.extend([reader, slow])
        read: list[str] = []

        async def drain() -> None:
            while feed.subscribers:
                while not reader.queue.empty():
                    read.append(reader.queue.get_nowait())
                await asyncio.sleep(0)

        draining = asyncio.get_running_loop().create_task(drain())
        await feed.run()
        await draining
        while not reader.queue.empty():
            read.append(reader.queue.get_nowait())
        backlog = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        return read, backlog

    read, backlog = asyncio.run(scenario())
    assert read[0].startswith("event: snapshot") and len(read) == BACKLOG + 4  # the last refresh ends the run
    assert all(text.startswith("event: update") for text in read[1:])
    assert len(backlog) <= BACKLOG  # never more than BACKLOG updates held for a reader that does not read
    assert backlog[0].startswith("event: snapshot")  # what it missed was replaced by the whole wall
    assert any(text is update for text in backlog for update in read)  # the same text object, not a copy
    assert wall.BACKLOG == BACKLOG
