"""Issue 16 push benchmarks, one run, one server (`livelens serve`, in-process analysis):

1. push latency: SendMessage to the analysed Transcript segment arriving on the instance stream
   (``GET /livelens/v1/instances/{I}/stream``), vs polling ``ListRealtimeContactAnalysisSegmentsV2``
   (NextToken per contact, a budget of POLL_RATE calls/s) under the same load, p50/p99/max;
2. fan-out: server CPU (process time, /proc) under the same load with 50 instance-stream clients
   connected vs none, in alternating windows; also the CPU of the server's event-loop thread alone
   (where the streams run), whose extra is the clients' cost without the analysis threads' noise.

N live chats send one customer turn every PERIOD s each (contact i offset by i*PERIOD/N), so the
offered rate is N/PERIOD turns/s. Latency is measured from the turn's scheduled send time.

    [BENCH_ANALYSIS=default|sentiment] [BENCH_WORKERS=0|auto|N] \
    .venv/bin/python bench/instance_stream.py [N] [PERIOD] [SECONDS] [PHASES] [WINDOWS]
    # defaults 200 10 30 push,poll,fanout 6, BENCH_ANALYSIS=sentiment, BENCH_WORKERS=0
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import queue
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402

from tests.e2e.conftest import Server, start_chat, start_server  # noqa: E402
from tests.e2e.test_stream import signed_headers  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
PERIOD = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
CLIENTS = 50
ANALYSIS = os.environ.get("BENCH_ANALYSIS", "sentiment")
WORKERS = os.environ.get("BENCH_WORKERS", "0")
POLL_RATE = 200.0
DRAIN = 15.0
PHASES = sys.argv[4].split(",") if len(sys.argv) > 4 else ["push", "poll", "fanout"]
WINDOWS = int(sys.argv[5]) if len(sys.argv) > 5 else 6
SENDERS = 16


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


class StreamClient(threading.Thread):
    """Reads the instance stream; records the arrival time of each Transcript segment id (if ``record``)."""

    def __init__(self, url: str, record: bool) -> None:
        super().__init__(daemon=True)
        self.url, self.record = url, record
        self.arrived: dict[str, float] = {}
        self.bytes = 0
        self.stop = threading.Event()
        self.open = threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=signed_headers(self.url), timeout=None) as response:
                self.open.set()
                event = ""
                for line in response.iter_lines():
                    self.bytes += len(line) + 1
                    if self.stop.is_set():
                        return
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "SEGMENTS" and self.record:
                        now = time.perf_counter()
                        for segment in json.loads(line[6:])["Segments"]:
                            if "Transcript" in segment:
                                self.arrived.setdefault(segment["Transcript"]["Id"], now)
        except httpx.HTTPError:
            return


class Load:
    """N chats, one customer turn per PERIOD each; ``sent`` maps message id -> (scheduled time, contact)."""

    def __init__(self, server: Server, chats: list[Any]) -> None:
        self.server, self.chats = server, chats
        self.sent: dict[str, tuple[float, str]] = {}
        self.errors = 0
        self.late = 0

    def run(self, seconds: float, on_sent: Any = None) -> None:
        t0 = time.perf_counter() + 0.5
        schedule: queue.Queue[tuple[float, Any] | None] = queue.Queue()
        rounds = int(seconds / PERIOD)
        for k in range(rounds):
            for i, chat in enumerate(self.chats):
                schedule.put((t0 + k * PERIOD + i * PERIOD / len(self.chats), chat))

        def sender() -> None:
            participant = self.server.client("connectparticipant")
            while True:
                try:
                    due, chat = schedule.get_nowait()
                except queue.Empty:
                    return
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.05:
                    self.late += 1
                try:
                    answer = participant.send_message(ContentType="text/plain", ConnectionToken=chat.customer,
                                                      Content=f"My internet bill is wrong again, turn at {due:.3f}.")
                except Exception:
                    self.errors += 1
                    continue
                self.sent[answer["Id"]] = (due, chat.contact_id)
                if on_sent is not None:
                    on_sent(chat, answer["Id"])

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime+stime of process ``pid`` (all threads), or of one of its threads."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = open(path).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(sent: dict[str, tuple[float, str]], arrived: dict[str, float], bound: float) -> dict[str, Any]:
    values = [(arrived[i] - due) * 1000 if i in arrived else float("inf") for i, (due, _) in sent.items()]
    seen = [v for v in values if v != float("inf")]
    return {"turns": len(values), "visible": len(seen),
            "p50_ms": round(percentile(values, 50), 1), "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1) if values else None, "bound_s": bound}


def push_phase(server: Server, instance: str, chats: list[Any]) -> dict[str, Any]:
    url = f"{server.url}/livelens/v1/instances/{instance}/stream?EventTypes=SEGMENTS&SegmentTypes=Transcript"
    client = StreamClient(url, record=True)
    client.start()
    client.open.wait(30)
    load = Load(server, chats)
    load.run(SECONDS)
    deadline = time.perf_counter() + DRAIN
    while time.perf_counter() < deadline and len(set(load.sent) & set(client.arrived)) < len(load.sent):
        time.sleep(0.1)
    client.stop.set()
    return {**latencies(load.sent, client.arrived, DRAIN), "send_errors": load.errors, "late_sends": load.late}


def poll_phase(server: Server, instance: str, chats: list[Any]) -> dict[str, Any]:
    arrived: dict[str, float] = {}
    in_flight: dict[str, int] = {}
    tokens: dict[str, str | None] = {}
    lock = threading.Lock()
    done = threading.Event()
    polls = [0]

    def on_sent(chat: Any, _message_id: str) -> None:
        with lock:
            in_flight[chat.contact_id] = in_flight.get(chat.contact_id, 0) + 1

    def poller(slot: int, slots: int) -> None:
        connect = server.client("connect")
        interval = slots / POLL_RATE
        next_call = time.perf_counter()
        while not done.is_set():
            with lock:
                waiting = [c for c, n in in_flight.items() if n > 0 and hash(c) % slots == slot]
            if not waiting:
                time.sleep(0.002)
                continue
            for contact_id in waiting:
                delay = next_call - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                next_call = max(next_call + interval, time.perf_counter() - interval)
                kwargs: dict[str, Any] = {"InstanceId": instance, "ContactId": contact_id, "OutputType": "Redacted",
                                          "SegmentTypes": ["Transcript"], "MaxResults": 100}
                if tokens.get(contact_id):
                    kwargs["NextToken"] = tokens[contact_id]
                page = connect.list_realtime_contact_analysis_segments_v2(**kwargs)
                polls[0] += 1
                now = time.perf_counter()
                tokens[contact_id] = page.get("NextToken") or tokens.get(contact_id)
                for segment in page["Segments"]:
                    if "Transcript" in segment and segment["Transcript"]["Id"] not in arrived:
                        arrived[segment["Transcript"]["Id"]] = now
                        with lock:
                            in_flight[contact_id] -= 1

    connect = server.client("connect")
    for chat in chats:  # start each contact's polling at the end of what it has now
        kwargs: dict[str, Any] = {"InstanceId": instance, "ContactId": chat.contact_id, "OutputType": "Redacted",
                                  "SegmentTypes": ["Transcript"], "MaxResults": 100}
        while True:
            page = connect.list_realtime_contact_analysis_segments_v2(**kwargs)
            kwargs["NextToken"] = page.get("NextToken")
            if not page["Segments"] or not page.get("NextToken"):
                break
        tokens[chat.contact_id] = kwargs["NextToken"]
    pollers = [threading.Thread(target=poller, args=(i, 2), daemon=True) for i in range(2)]
    for thread in pollers:
        thread.start()
    load = Load(server, chats)
    load.run(SECONDS, on_sent)
    deadline = time.perf_counter() + DRAIN
    while time.perf_counter() < deadline and len(set(load.sent) & set(arrived)) < len(load.sent):
        time.sleep(0.1)
    done.set()
    return {**latencies(load.sent, arrived, DRAIN), "polls": polls[0], "send_errors": load.errors,
            "late_sends": load.late}


def fanout_phase(server: Server, instance: str, chats: list[Any], windows: int = 6) -> dict[str, Any]:
    """Alternate windows of SECONDS/2 under load: without clients, then with CLIENTS stream clients."""
    url = f"{server.url}/livelens/v1/instances/{instance}/stream"
    result: dict[str, list[float]] = {"without": [], "with": []}
    loop_thread: dict[str, list[float]] = {"without": [], "with": []}  # the main thread runs the event loop
    pid = server.process.pid
    received = 0
    for window in range(windows):
        with_clients = window % 2 == 1
        clients = [StreamClient(url, record=False) for _ in range(CLIENTS if with_clients else 0)]
        for client in clients:
            client.start()
        for client in clients:
            client.open.wait(30)
        time.sleep(1)
        load = Load(server, chats)
        worker = threading.Thread(target=load.run, args=(SECONDS / 2,), daemon=True)
        start_cpu, start_loop, start = cpu_seconds(pid), cpu_seconds(pid, pid), time.perf_counter()
        worker.start()
        worker.join()
        time.sleep(PERIOD / 2)  # the last turns' analysis
        elapsed = time.perf_counter() - start
        result["with" if with_clients else "without"].append((cpu_seconds(pid) - start_cpu) / elapsed)
        loop_thread["with" if with_clients else "without"].append((cpu_seconds(pid, pid) - start_loop) / elapsed)
        received += sum(c.bytes for c in clients)
        for client in clients:
            client.stop.set()
        time.sleep(2)
    without = sum(result["without"]) / len(result["without"])
    with_ = sum(result["with"]) / len(result["with"])
    loop_without = sum(loop_thread["without"]) / len(loop_thread["without"])
    loop_with = sum(loop_thread["with"]) / len(loop_thread["with"])
    return {"cpu_without_clients": [round(v * 100, 1) for v in result["without"]],
            "cpu_with_clients": [round(v * 100, 1) for v in result["with"]],
            "extra_pct": round((with_ - without) / without * 100, 1), "clients": CLIENTS,
            "loop_thread_cpu_without": [round(v * 100, 1) for v in loop_thread["without"]],
            "loop_thread_cpu_with": [round(v * 100, 1) for v in loop_thread["with"]],
            "loop_thread_extra_of_a_core_pct": round((loop_with - loop_without) * 100, 2),
            "loop_thread_extra_pct_of_process_cpu": round((loop_with - loop_without) / without * 100, 1),
            "stream_bytes_received": received}


def main() -> None:
    # BENCH_ANALYSIS=default runs the default pipeline (all analysers); BENCH_WORKERS: --analysis-workers.
    # As a user runs it: without the tests' response validation (start_server turns it on).
    env = {"LIVELENS_VALIDATE_RESPONSES": "0"}
    if ANALYSIS != "default":
        env["LIVELENS_ANALYSIS"] = ANALYSIS
    server = start_server(pathlib.Path(tempfile.mkdtemp()) / "s", env=env, workers=WORKERS)
    try:
        connect, participant = server.client("connect"), server.client("connectparticipant")
        instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                           OutboundCallsEnabled=True)["Id"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            chats = list(pool.map(lambda _: start_chat(connect, participant, instance), range(N)))
        for chat in chats[:20]:  # warm up (the first turns load the models), so neither phase pays for it
            participant.send_message(ContentType="text/plain", ConnectionToken=chat.customer,
                                     Content="Hello, my internet bill looks wrong.")
        time.sleep(8)
        commit = os.popen("git rev-parse --short HEAD").read().strip()
        report = {"N": N, "period_s": PERIOD, "turns_per_s": round(N / PERIOD, 1), "seconds": SECONDS,
                  "analysis": ANALYSIS, "analysis_workers": WORKERS, "commit": commit}
        if "push" in PHASES:
            report["push"] = push_phase(server, instance, chats)
        if "poll" in PHASES:
            report["poll"] = poll_phase(server, instance, chats)
        if "fanout" in PHASES:
            report["fanout"] = fanout_phase(server, instance, chats, WINDOWS)
        print(json.dumps(report, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
