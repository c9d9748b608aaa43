"""The analysis worker processes ``livelens serve`` starts, watches and restarts.

Each is ``python -m livelens worker --db PATH`` with the server's settings in
its environment, so it loads the models once and analyses exactly as the
server would. A worker that exits while the server runs (killed, crashed, out
of memory) is logged and started again; one that keeps dying within seconds
of starting is restarted with a growing delay (up to 30 s) instead of in a
tight loop. The claims of a worker seen dead are ended at once (``on_exit``),
so the other workers (or its replacement) take its contacts over without
waiting for ``analysis_lease_seconds``; a worker elsewhere that dies is
covered by the lease expiry.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from livelens.config import Settings

log = logging.getLogger("livelens.worker")

QUICK_EXIT_SECONDS = 10.0
#: The environment variable that tells a worker which process started it.
PARENT_ENV = "LIVELENS_WORKER_PARENT_PID"
MAX_DELAY = 30.0


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0
    restart_at: float = 0.0
    restarts: int = 0
    pids: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, settings: Settings, count: int, check_interval: float = 0.25,
                 on_exit: Callable[[int], None] = lambda pid: None) -> None:
        self.settings = settings
        self.on_exit = on_exit  # called with the pid of a worker that died (its claims can be freed at once)
        self.slots = [Slot(i) for i in range(count)]
        self.check_interval = check_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def restarts(self) -> int:
        return sum(slot.restarts for slot in self.slots)

    def pids(self) -> list[int]:
        with self._lock:
            return [s.process.pid for s in self.slots if s.process is not None and s.process.poll() is None]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "livelens", "worker", "--db", self.settings.db]

    def _spawn(self, slot: Slot) -> None:
        env = {**os.environ, **self.settings.environment(), PARENT_ENV: str(os.getpid())}
        # A session of its own: a Ctrl-C meant for serve does not stop the workers behind its back (serve
        # stops them itself); a worker whose serve is gone exits by itself (see process.run_worker).
        slot.process = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        slot.started = time.monotonic()
        slot.pids.append(slot.process.pid)
        log.info("analysis worker %d started (pid %d)", slot.index, slot.process.pid)

    def start(self) -> None:
        with self._lock:
            for slot in self.slots:
                self._spawn(slot)
        self._thread = threading.Thread(target=self._watch, name="livelens-worker-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.check_interval):
            with self._lock:
                for slot in self.slots:
                    self._check(slot)

    def _check(self, slot: Slot) -> None:
        now = time.monotonic()
        process = slot.process
        if process is not None:
            code = process.poll()
            if code is None:
                return
            how = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit status {code}"
            quick = now - slot.started < QUICK_EXIT_SECONDS
            slot.quick_exits = slot.quick_exits + 1 if quick else 0
            delay = 0.0 if slot.quick_exits == 0 else min(MAX_DELAY, 0.5 * 2 ** slot.quick_exits)
            log.warning("analysis worker %d (pid %d) stopped with %s; restarting%s", slot.index, process.pid, how,
                        f" in {delay:.1f} s" if delay else "")
            slot.process = None
            slot.restart_at = now + delay
            try:
                self.on_exit(process.pid)
            except Exception as exc:  # its leases then expire by themselves
                log.warning("could not free the claims of worker pid %d: %s", process.pid, exc)
        if slot.process is None and now >= slot.restart_at:
            slot.restarts += 1
            self._spawn(slot)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to finish its batch and exit (SIGTERM); kill what is left after ``timeout``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            running = [s.process for s in self.slots if s.process is not None and s.process.poll() is None]
            for process in running:
                process.terminate()
            deadline = time.monotonic() + timeout
            for process in running:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("analysis worker pid %d did not stop in time; killing it", process.pid)
                    process.kill()
                    process.wait()
