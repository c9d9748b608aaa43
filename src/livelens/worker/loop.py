"""One analysis worker: claim → analyse → commit, with a heartbeat that keeps its leases.

Each round the worker claims up to ``batch`` contacts with pending items
(oldest pending item first) and reads their snapshots
(:func:`~livelens.contacts.analysis_worker.load_units`). Outside any
transaction it analyses the whole batch
(:meth:`~livelens.contacts.analysis_worker.Analyser.analyse`), then writes
every contact's :class:`~livelens.contacts.analysis_worker.Commit` in one
write transaction, each inside its own savepoint and behind its own claim
check: one fsync for the batch, each contact atomic on its own, and a
contact whose claim was lost meanwhile writes nothing. The same transaction
claims the next round's contacts, so a busy worker begins and commits one
write transaction per round; only a worker that found nothing to do claims
in a transaction of its own (without fsync: a claim lost in a crash is one
nobody holds).

A heartbeat thread extends the leases of the contacts in hand every
``lease_seconds / 3`` and records the worker's counters and histograms in the
``workers`` table. A worker that stalls (or is killed) stops extending; once
its leases expire another worker claims the contacts (with a higher fence)
and redoes the uncommitted items, and the stalled worker's commit, should it
ever come, is refused.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from livelens.contacts.analysis_worker import (
    Analyser,
    Commit,
    Failure,
    WorkUnit,
    apply_commit,
    back_off,
    load_units,
)
from livelens.contacts.rule_runner import RuleRunner
from livelens.storage.base import Claim, Storage, Transaction
from livelens.worker.notify import Waker
from livelens.worker.stats import WorkerStats

log = logging.getLogger("livelens.worker")

PUBLISH_SECONDS = 0.25  # a busy worker records its figures at most this often (and at each heartbeat)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        storage: Storage,
        analyser: Analyser,
        rules: RuleRunner | None,
        waker: Waker,
        *,
        lease_seconds: float = 10.0,
        batch: int = 16,
        items_per_contact: int = 16,
        poll_interval: float = 1.0,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.analyser = analyser
        self.rules = rules
        self.waker = waker
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.items_per_contact = items_per_contact
        self.poll_interval = poll_interval
        self.id = worker_id or new_worker_id()
        self.clock = clock
        self.stats = WorkerStats()
        self.started_at = clock()
        self.analyser.observe = self.stats.observe
        self._held: dict[str, int] = {}
        self._held_lock = threading.Lock()
        self._next: tuple[list[Claim], list[WorkUnit]] | None = None  # claimed in the last commit
        self._published_at = 0.0

    # the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the batch in hand is committed before returning."""
        self.heartbeat()
        beat = threading.Thread(target=self._beat, args=(stop,), name="livelens-worker-heartbeat", daemon=True)
        beat.start()
        errors = 0
        try:
            while not stop.is_set():
                try:
                    done = self.step()
                    errors = 0
                except Exception as exc:  # the database is unreachable, a disk is full, ...: back off
                    errors += 1
                    if errors == 1:
                        log.exception("analysis worker %s: a round failed; backing off", self.id)
                    else:
                        log.warning("analysis worker %s: round failed again (%d in a row): %s", self.id, errors, exc)
                    stop.wait(min(30.0, 0.25 * 2**errors))
                    continue
                if not done:
                    self.waker.wait(self.poll_interval)
        finally:
            stop.set()
            beat.join(timeout=5)
            self._release_all()

    def step(self) -> int:
        """One round; the number of items committed (0: nothing was pending)."""
        if self._next is not None:
            claims, units = self._next
            self._next = None
        else:
            with self.storage.write(durable=False) as tx:  # a claim lost in a crash is one nobody holds
                claims, units = self._claim(tx)
            if not claims:
                return 0
            self._hold(claims)
        try:
            results = self.analyser.analyse(units)
            committed = 0
            with self.storage.write() as tx:
                for result in results:
                    try:
                        with tx.savepoint():
                            committed += self._write(tx, result)
                    except Exception as exc:  # this contact only: the others of the batch still commit
                        reason = f"{type(exc).__name__}: {exc}"[:500]
                        log.warning("analysis worker %s: commit of contact %s failed: %s", self.id,
                                    result.claim.contact_id, reason)
                        failure = Failure(result.claim, result.claim.contact_id, result.claim.failures + 1, reason)
                        with tx.savepoint():
                            self._write(tx, failure)
                # contacts claimed but with nothing to do (cannot normally happen) are released too
                done = {r.claim.contact_id for r in results}
                for claim in claims:
                    if claim.contact_id not in done:
                        tx.release_claim(claim.contact_id, self.id, claim.fence)
                self.stats.count("batches")
                self.stats.count("items", committed)
                following = self._claim(tx)
                if not following[0] or self.clock() - self._published_at >= PUBLISH_SECONDS:
                    self._publish(tx)  # /livelens/v1/metrics: up to date once idle, at most this far behind when busy
            if following[0]:
                self._next = following
            return max(committed, 1)
        finally:
            self._hold(self._next[0] if self._next is not None else [])

    def _claim(self, tx: Transaction) -> tuple[list[Claim], list[WorkUnit]]:
        claims = tx.claim_contacts(self.id, self.clock(), self.lease_seconds, self.batch)
        return claims, (load_units(tx, claims, self.rules, self.items_per_contact) if claims else [])

    def _hold(self, claims: list[Claim]) -> None:
        """The claims the heartbeat keeps alive."""
        with self._held_lock:
            self._held = {c.contact_id: c.fence for c in claims}

    def _write(self, tx: Transaction, result: Commit | Failure) -> int:
        if isinstance(result, Commit):
            if apply_commit(tx, self.id, result, self.rules):
                self.stats.count("commits")
                self.stats.count("turns", result.turns)
                return result.to_seq - result.from_seq
            self.stats.count("refused_commits")
            log.warning("analysis worker %s lost its claim on contact %s; commit refused", self.id,
                        result.contact.id)
            return 0
        self.stats.count("failures")
        if back_off(tx, self.id, result, self.clock()):
            self.stats.count("failed_contacts")
        return 0

    # leases and heartbeat -------------------------------------------------------------------
    def _beat(self, stop: threading.Event) -> None:
        interval = max(0.2, min(self.lease_seconds / 3, 5.0))
        while not stop.wait(interval):
            try:
                self.heartbeat()
            except Exception as exc:  # retried at the next beat; the leases are long enough for a miss
                log.warning("analysis worker %s: heartbeat failed: %s", self.id, exc)

    def heartbeat(self) -> None:
        """Extend the leases in hand and record this worker's figures."""
        with self._held_lock:
            held = list(self._held.items())
        now = self.clock()
        with self.storage.write(durable=False) as tx:
            if held:
                tx.extend_claims(self.id, held, now + self.lease_seconds)
            self._publish(tx)

    def _publish(self, tx: Transaction) -> None:
        self._published_at = self.clock()
        tx.put_worker(self.id, socket.gethostname(), os.getpid(), self.started_at, self.clock(), self.stats.snapshot())

    def _release_all(self) -> None:
        """Deregister, and hand back the contacts claimed for a round that will not run."""
        unstarted, self._next = self._next, None
        try:
            with self.storage.write() as tx:
                for claim in unstarted[0] if unstarted is not None else []:
                    tx.release_claim(claim.contact_id, self.id, claim.fence)
                tx.delete_worker(self.id)
        except Exception as exc:
            log.warning("analysis worker %s: could not deregister: %s", self.id, exc)

    def held(self) -> list[Claim]:
        with self._held_lock:
            return [Claim(contact_id, fence, 0.0) for contact_id, fence in self._held.items()]
