"""Benchmark 1: ingest-to-visible latency under load.

N live chat contacts (a customer and an agent each) send a turn every 2 s
through connectparticipant SendMessage, contact i offset by i·2/N s so the
offered rate is a steady N/2 turns/s. A reader polls
ListRealtimeContactAnalysisSegmentsV2 (Transcript, with its NextToken) for
every contact that has a turn in flight, at most every ``POLL_INTERVAL`` s per
contact, and records when each turn's analysed Transcript segment (with
Sentiment) is first returned.

Latency is measured from the turn's *scheduled* send time (so a client held
up by a slow server does not hide the delay), to the moment the reader reads
the segment. Turns not visible when the run ends (the sending phase plus a
bounded drain) count as infinitely late: p50/p99/max then read "> bound".
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from corpus import TURNS
from harness import Answer, Connection, HttpError, ServerProcess, percentile, raw_request, start_livelens, workdir

PERIOD = 2.0
POLL_INTERVAL = 0.01
#: The reader's whole budget: at most this many ListRealtimeContactAnalysisSegmentsV2 calls per second,
#: spread over the contacts with a turn in flight (oldest first). Enough to see a turn within ~5-10 ms
#: at the rates the server can analyse, without the reader becoming the load it measures.
POLL_RATE = 200.0
SENDERS = 32
READERS = 2
SETUP_CONNECTIONS = 16


@dataclass
class Chat:
    index: int
    contact_id: str
    connections: dict[str, str] = field(default_factory=dict)  # role -> connection token
    next_token: str | None = None
    in_flight: int = 0
    last_poll: float = 0.0
    queued: bool = False


@dataclass
class Turn:
    chat: Chat
    due: float  # perf_counter time it was scheduled for
    text: str
    role: str
    sent: float = math.nan
    answered: float = math.nan
    item_id: str | None = None
    visible: float = math.nan
    client_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0


class ServerError(HttpError):
    """An answer with a status a client may retry (AWS SDKs retry 500, 502, 503 and 504)."""


RETRYABLE = {500, 502, 503, 504}


class Client:
    """A pool of keep-alive connections to one server, or spread round-robin over several nodes
    (what a load balancer in front of them does)."""

    def __init__(self, server: ServerProcess | Sequence[ServerProcess], size: int, *, retry_for: float = 0.0) -> None:
        servers = [server] if isinstance(server, ServerProcess) else list(server)
        self.server = servers[0]
        #: Retry a request that failed with a retryable error for up to this long (same body, same
        #: ClientToken), as AWS SDKs do; 0: raise at once.
        self.retry_for = retry_for
        self.retries = 0
        self.pool: asyncio.Queue[tuple[Connection, str]] = asyncio.Queue()
        for index in range(size):
            node = servers[index % len(servers)]
            self.pool.put_nowait((Connection("127.0.0.1", node.port), node.host))

    async def send(self, method: str, path: str, payload: Any, *, bearer: str | None = None,
                   expect: int = 200) -> Any:
        give_up = time.perf_counter() + self.retry_for
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send_once(method, path, payload, bearer=bearer, expect=expect)
            except (ServerError, OSError, asyncio.IncompleteReadError, ValueError):
                if time.perf_counter() >= give_up:
                    raise
                self.retries += 1
                await asyncio.sleep(min(0.05 * 2 ** min(attempt, 5), 1.0))

    async def _send_once(self, method: str, path: str, payload: Any, *, bearer: str | None = None,
                         expect: int = 200) -> Any:
        body = json.dumps(payload).encode()
        headers = {"X-Amz-Bearer": bearer} if bearer else None
        conn, host = await self.pool.get()
        data = raw_request(method, host, path, body, headers, sign=bearer is None)
        try:
            answer: Answer = await conn.request(data)
        except Exception:
            conn.close()
            raise
        finally:
            self.pool.put_nowait((conn, host))
        if answer.status != expect:
            error = ServerError if answer.status in RETRYABLE else HttpError
            raise error(f"{method} {path}: HTTP {answer.status}: {answer.body[:300]!r}")
        return answer.json()

    def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait()[0].close()


async def create_chats(client: Client, instance_id: str, count: int) -> list[Chat]:
    async def one(index: int) -> Chat:
        started = await client.send("PUT", "/contact/chat", {
            "InstanceId": instance_id, "ContactFlowId": "bench-flow",
            "ParticipantDetails": {"DisplayName": "Customer"}, "ClientToken": str(uuid.uuid4()),
        })
        chat = Chat(index, started["ContactId"])
        agent = await client.send("POST", "/contact/create-participant", {
            "InstanceId": instance_id, "ContactId": chat.contact_id,
            "ParticipantDetails": {"ParticipantRole": "AGENT", "DisplayName": "Agent"},
            "ClientToken": str(uuid.uuid4()),
        })
        tokens = {"CUSTOMER": started["ParticipantToken"], "AGENT": agent["ParticipantCredentials"]["ParticipantToken"]}
        for role, token in tokens.items():
            answer = await client.send("POST", "/participant/connection", {"Type": ["CONNECTION_CREDENTIALS"]},
                                       bearer=token)
            chat.connections[role] = answer["ConnectionCredentials"]["ConnectionToken"]
        return chat

    semaphore = asyncio.Semaphore(SETUP_CONNECTIONS)

    async def bounded(index: int) -> Chat:
        async with semaphore:
            return await one(index)

    return list(await asyncio.gather(*(bounded(i) for i in range(count))))


class Run:
    def __init__(self, server: ServerProcess | Sequence[ServerProcess], instance_id: str, chats: list[Chat],
                 *, retry_for: float = 0.0) -> None:
        self.server = server
        #: How long a SendMessage that failed with a retryable error (5xx, a refused or cut connection) is
        #: retried with the same ClientToken, as AWS SDKs do (0: not retried, counted as a send error).
        self.retry_for = retry_for
        self.retries = 0
        self.instance_id = instance_id
        self.chats = chats
        self.turns: list[Turn] = []
        self.by_id: dict[str, Turn] = {}
        self.seen_early: dict[str, float] = {}  # segments read before their SendMessage answer arrived
        self.active: collections.deque[Chat] = collections.deque()
        self.wakeup = asyncio.Event()
        self.done = False
        self.polls = 0
        self.poll_errors = 0
        self.send_errors = 0
        self.without_sentiment = 0
        self.next_slot = 0.0

    # sending ---------------------------------------------------------------
    async def send_all(self, duration: float) -> None:
        sender = Client(self.server, SENDERS)
        start = time.perf_counter() + 0.2
        n = len(self.chats)
        schedule = sorted(
            (start + chat.index * PERIOD / n + k * PERIOD, chat.index, k)
            for chat in self.chats
            for k in range(int(math.ceil((duration - chat.index * PERIOD / n) / PERIOD)))
        )
        tasks = set()
        for due, index, k in schedule:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            chat = self.chats[index]
            role, text = TURNS[(index * 7 + k) % len(TURNS)]
            turn = Turn(chat, due, text, role)
            self.turns.append(turn)
            chat.in_flight += 1
            self._activate(chat)
            task = asyncio.create_task(self._send(sender, turn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        sender.close()

    async def _send(self, sender: Client, turn: Turn) -> None:
        turn.sent = time.perf_counter()
        give_up = turn.sent + self.retry_for
        while True:
            turn.attempts += 1
            try:
                answer = await sender.send("POST", "/participant/message", {
                    "ContentType": "text/plain", "Content": turn.text, "ClientToken": turn.client_token,
                }, bearer=turn.chat.connections[turn.role])
                break
            except (ServerError, OSError, asyncio.IncompleteReadError, ValueError):
                if time.perf_counter() < give_up:
                    self.retries += 1
                    await asyncio.sleep(min(0.05 * 2 ** min(turn.attempts, 5), 1.0))
                    continue
                self.send_errors += 1
                turn.chat.in_flight -= 1
                return
            except Exception:
                self.send_errors += 1
                turn.chat.in_flight -= 1
                return
        turn.answered = time.perf_counter()
        turn.item_id = answer["Id"]
        early = self.seen_early.pop(turn.item_id, None)
        if early is not None:
            self._visible(turn, early)
        else:
            self.by_id[turn.item_id] = turn

    # reading ---------------------------------------------------------------
    def _activate(self, chat: Chat) -> None:
        if not chat.queued:
            chat.queued = True
            self.active.append(chat)
            self.wakeup.set()

    def _visible(self, turn: Turn, when: float) -> None:
        turn.visible = when
        turn.chat.in_flight -= 1

    async def read_all(self) -> None:
        reader = Client(self.server, READERS)
        await asyncio.gather(*(self._reader(reader) for _ in range(READERS)))
        reader.close()

    async def _reader(self, client: Client) -> None:
        path_prefix = f"/contact/list-real-time-analysis-segments-v2/{self.instance_id}/"
        while not self.done:
            if not self.active:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), 0.05)
                except TimeoutError:
                    pass
                continue
            chat = self.active.popleft()
            now = time.perf_counter()
            self.next_slot = max(self.next_slot + 1 / POLL_RATE, now)
            wait = max(chat.last_poll + POLL_INTERVAL, self.next_slot) - now
            if wait > 0:
                await asyncio.sleep(wait)
            chat.last_poll = time.perf_counter()
            request: dict[str, Any] = {"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": 100}
            if chat.next_token:
                request["NextToken"] = chat.next_token
            try:
                page = await client.send("POST", path_prefix + chat.contact_id, request)
            except Exception:
                self.poll_errors += 1
                page = None
            now = time.perf_counter()
            self.polls += 1
            if page is not None:
                chat.next_token = page.get("NextToken") or chat.next_token
                for segment in page["Segments"]:
                    body = segment.get("Transcript")
                    if body is None:
                        continue
                    if "Sentiment" not in body:
                        self.without_sentiment += 1
                    turn = self.by_id.pop(body["Id"], None)
                    if turn is not None:
                        self._visible(turn, now)
                    else:
                        self.seen_early[body["Id"]] = now
            if chat.in_flight > 0:
                self.active.append(chat)
            else:
                chat.queued = False


def _ms(value: float) -> float:
    return round(value * 1000, 1) if math.isfinite(value) else math.inf


async def _measure(server: ServerProcess | Sequence[ServerProcess], n: int, duration: float, drain: float,
                   during: Callable[[], Awaitable[Any]] | None = None,
                   runs: list[Run] | None = None, retry_for: float = 0.0) -> dict[str, Any]:
    """One run; ``during()`` runs beside the sending (benchmark 8 kills workers there), ``runs`` gets the Run.

    ``server`` may be several nodes of one database: every client then spreads its connections over them
    (memory and CPU figures are the first node's). ``retry_for``: see :attr:`Run.retry_for`.
    """
    nodes = [server] if isinstance(server, ServerProcess) else list(server)
    setup = Client(server, SETUP_CONNECTIONS, retry_for=retry_for)
    instance = await setup.send("PUT", "/instance", {
        "IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": f"bench-{uuid.uuid4().hex[:8]}",
        "InboundCallsEnabled": True, "OutboundCallsEnabled": True,
    })
    instance_id = instance["Id"]
    began = time.perf_counter()
    chats = await create_chats(setup, instance_id, n + 1)
    setup_seconds = time.perf_counter() - began
    setup.close()
    setup_retries = setup.retries
    warm, chats = chats[0], chats[1:]
    for index, chat in enumerate(chats):
        chat.index = index

    # Warm-up: one turn on a spare contact, read back analysed (the models are loaded by then).
    warm_run = Run(server, instance_id, [warm])
    reading = asyncio.create_task(warm_run.read_all())
    await warm_run.send_all(0.01)
    deadline = time.perf_counter() + 120
    while (any(math.isnan(t.visible) for t in warm_run.turns if t.item_id) or not warm_run.turns
           or not any(t.item_id for t in warm_run.turns)) and time.perf_counter() < deadline:
        if warm_run.send_errors:
            raise HttpError("the warm-up turn was refused")
        await asyncio.sleep(0.05)
    warm_run.done = True
    await reading
    before = nodes[0].memory_kib()
    cpu_before = nodes[0].cpu_seconds()

    run = Run(server, instance_id, chats, retry_for=retry_for)
    if runs is not None:
        runs.append(run)
    reading = asyncio.create_task(run.read_all())
    started = time.perf_counter()
    side = asyncio.create_task(during()) if during is not None else None
    await run.send_all(duration)
    if side is not None:
        await side
    sending_ended = time.perf_counter()
    end = sending_ended + drain
    while any(math.isnan(t.visible) for t in run.turns if t.item_id) and time.perf_counter() < end:
        await asyncio.sleep(0.05)
    run.done = True
    await reading
    finished = time.perf_counter()
    after = nodes[0].memory_kib()
    try:
        cpu_used = nodes[0].cpu_seconds() - cpu_before
    except OSError:  # the first node was killed and restarted during the run
        cpu_used = math.nan

    accepted = [t for t in run.turns if t.item_id]
    latencies = sorted((t.visible - t.due) if not math.isnan(t.visible) else math.inf for t in accepted)
    visible = [t for t in accepted if not math.isnan(t.visible)]
    send_times = sorted(t.answered - t.sent for t in accepted)
    bound = finished - started
    return {
        "contacts": n,
        "offered_turns_per_s": round(n / PERIOD, 1),
        "sent": len(run.turns),
        "accepted": len(accepted),
        "send_errors": run.send_errors,
        "send_retries": run.retries,
        "setup_retries": setup_retries,
        "visible": len(visible),
        "not_visible": len(accepted) - len(visible),
        "sending_seconds": round(sending_ended - started, 2),
        "bound_seconds": round(bound, 2),
        "accepted_turns_per_s": round(len(accepted) / max(sending_ended - started, 1e-9), 1),
        "analysed_turns_per_s": round(len(visible) / max(
            (max((t.visible for t in visible), default=started) - started), 1e-9), 1),
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "max_ms": _ms(latencies[-1]) if latencies else math.nan,
        "send_p50_ms": _ms(percentile(send_times, 50)),
        "send_p99_ms": _ms(percentile(send_times, 99)),
        "polls": run.polls,
        "polls_per_s": round(run.polls / max(bound, 1e-9), 1),
        "poll_errors": run.poll_errors,
        "without_sentiment": run.without_sentiment,
        "setup_seconds": round(setup_seconds, 2),
        "server_cpu_cores": round(cpu_used / max(finished - started, 1e-9), 2),
        "rss_before_kib": before.get("VmRSS"),
        "rss_after_kib": after.get("VmRSS"),
        "peak_rss_kib": after.get("VmHWM"),
    }


def run(quick: bool = False) -> dict[str, Any]:
    sizes = [5] if quick else [50, 200, 1000]
    duration, drain = (2.0, 8.0) if quick else (20.0, 20.0)
    results = []
    for n in sizes:
        with workdir(f"latency-{n}") as directory:
            server = start_livelens(directory)
            try:
                results.append(asyncio.run(_measure(server, n, duration, drain)))
            finally:
                server.stop()
    return {"runs": results, "period_s": PERIOD, "poll_interval_ms": POLL_INTERVAL * 1000, "poll_rate": POLL_RATE,
            "duration_s": duration, "drain_s": drain}
