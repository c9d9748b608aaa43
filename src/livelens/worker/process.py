"""``livelens worker``: one analysis worker process over a database."""

from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from types import FrameType

from livelens.config import Settings
from livelens.worker.notify import DatagramWaker, wake_directory
from livelens.worker.supervisor import PARENT_ENV

log = logging.getLogger("livelens.worker")


def _watch_parent(parent: int, stop: threading.Event, waker: DatagramWaker) -> None:
    """Stop when the ``serve`` that started this worker is gone (it was killed, not stopped)."""
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log.warning("the server (pid %d) that started this worker is gone; stopping", parent)
            stop.set()
            waker.interrupt()


def run_worker(settings: Settings) -> None:
    """Load the models, then claim, analyse and commit until SIGTERM or SIGINT (the batch in hand finishes)."""
    from livelens.app import build_worker, contact_center, pipeline_factory, warm_up
    from livelens.storage import open_storage

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "debug":
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    stop = threading.Event()
    waker = DatagramWaker(wake_directory(settings.db), f"{os.getpid()}-{uuid.uuid4().hex[:6]}")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        waker.interrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        threading.Thread(target=_watch_parent, args=(int(parent), stop, waker), daemon=True).start()
    storage = open_storage(settings.db)
    try:
        center = contact_center(settings, storage, pipeline_factory(settings))
        worker = build_worker(settings, storage, center, waker)
        warm_up(settings)
        log.info("analysis worker %s ready (database %s)", worker.id, settings.db_path)
        if not stop.is_set():
            worker.run(stop)
    finally:
        waker.close()
        storage.close()
