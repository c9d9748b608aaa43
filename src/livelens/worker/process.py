"""``livelens worker``: one analysis worker process over a database."""

from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from types import FrameType

from livelens.config import Settings
from livelens.storage import is_postgres_url
from livelens.worker.notify import DatagramWaker, wake_directory
from livelens.worker.pg_notify import PostgresWaker
from livelens.worker.supervisor import PARENT_ENV

log = logging.getLogger("livelens.worker")


def _watch_parent(parent: int, stop: threading.Event, waker: DatagramWaker | PostgresWaker) -> None:
    """Stop when the ``serve`` that started this worker is gone (it was killed, not stopped)."""
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log.warning("the server (pid %d) that started this worker is gone; stopping", parent)
            stop.set()
            waker.interrupt()


def unavailable_analysers(settings: Settings) -> frozenset[str]:
    """With ``skip_unavailable_analysers``, the analysers that cannot load here (left out, and said so);
    otherwise none: an analyser that cannot load then fails the worker's start, as it fails ``serve``'s."""
    if not settings.skip_unavailable_analysers:
        return frozenset()
    from livelens.analysis import load_pipeline
    from livelens.app import analysis_config
    from livelens.startup import check_analysers, refuse_or_warn

    config = analysis_config(settings, settings.redaction_mask)
    report = check_analysers(settings, lambda components: load_pipeline(components, config))
    return refuse_or_warn(report, settings, log.warning)


def run_worker(settings: Settings) -> None:
    """Load the models, then claim, analyse and commit until SIGTERM or SIGINT (the batch in hand finishes)."""
    from livelens.app import build_worker, contact_center, pipeline_factory, warm_up
    from livelens.startup import StartupError, open_database
    from livelens.storage import open_storage

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "debug":
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    stop = threading.Event()
    waker: DatagramWaker | PostgresWaker
    if is_postgres_url(settings.db):
        waker = PostgresWaker(settings.db)  # LISTEN: woken by any node's NOTIFY, on any machine
    else:
        waker = DatagramWaker(wake_directory(settings.db), f"{os.getpid()}-{uuid.uuid4().hex[:6]}")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        waker.interrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        threading.Thread(target=_watch_parent, args=(int(parent), stop, waker), daemon=True).start()
    unavailable = unavailable_analysers(settings)
    try:
        storage = open_database(settings.db, open_storage)
    except StartupError as exc:
        waker.close()
        raise SystemExit(f"livelens: error: {exc}") from None
    try:
        center = contact_center(settings, storage, pipeline_factory(settings, unavailable))
        worker = build_worker(settings, storage, center, waker, unavailable=unavailable)
        warm_up(settings, unavailable)
        log.info("analysis worker %s ready (database %s)", worker.id, settings.db_display)
        if not stop.is_set():
            worker.run(stop)
    finally:
        waker.close()
        storage.close()
