"""Leases: at most one invocation sends an object at a time, and a killed one is taken over.

A lease lives in the object's progress record (:mod:`.state`): before anything is sent, the record is written with
``{"lease": {"holder", "until"}}`` by a conditional write (create only if absent, else only if unchanged since it
was read), so of two invocations racing for an object exactly one wins; the other sees a live lease and leaves the
object alone. Every later write is conditional too, so a holder that lost its lease notices and stops. ``until``
is the holder's invocation deadline plus :data:`GRACE_S` (the platform kills a function at its deadline), or, for
a holder without a deadline (the command line), :data:`OPEN_ENDED_S` after its latest write. A lapsed lease may be
taken over; delivery then resumes after the last acknowledged batch the record holds.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .deadline import Deadline
from .errors import Conflict, LeaseLost, StateError
from .state import Lease, Progress, StateStore, Stored, iso, utcnow

log = logging.getLogger(__name__)

GRACE_S = 10.0
"""A lease lapses this long after its holder's invocation deadline."""
OPEN_ENDED_S = 600.0
"""Without a deadline, a lease lapses this long after the holder's latest write (each write renews it)."""


def cli_holder() -> str:
    """A holder name for the command line: which machine and process, unique per run."""
    return f"cli:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Holder:
    """Who takes leases (the invocation's call id, or :func:`cli_holder`), and the deadline they end with."""

    name: str
    deadline: Deadline

    def until(self, now: datetime) -> str:
        wall = self.deadline.wall_clock()
        return iso(wall + timedelta(seconds=GRACE_S) if wall is not None else now + timedelta(seconds=OPEN_ENDED_S))


class Leases:
    """Reads progress records and takes leases on them for one holder."""

    def __init__(self, store: StateStore, holder: Holder, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self.holder = holder
        self._clock = clock

    def look(self, name: str) -> Stored:
        """The object's record as it is now (no lease taken)."""
        return self._store.load(name)

    def busy(self, stored: Stored) -> bool:
        """Another holder's lease on the record is live: leave the object alone."""
        lease = _lease(stored)
        return lease is not None and lease.holder != self.holder.name and lease.live(self._clock())

    def take(self, name: str, stored: Stored, etag: str) -> Claim | None:
        """Lease the object (version ``etag``), starting from the record's progress if it is for that version.
        None when another invocation took it first."""
        kept = stored.progress
        progress = replace(kept, acked=list(kept.acked)) if kept is not None and kept.etag == etag else Progress(etag)
        if kept is not None and kept.etag != etag:
            log.info("%s changed (ETag %s -> %s); forwarding it from the start", name, kept.etag, etag)
        progress.lease = Lease(self.holder.name, self.holder.until(self._clock()))
        self._store.mark_pending(name)  # before the lease: a holder killed after this is still found by catch-up
        try:
            version: str | None = self._store.save(name, progress, stored.version)
        except Conflict:
            again = self._store.load(name)
            if not self.holds(again):
                return None
            version = again.version  # our own write, retried by the SDK after its answer was lost
        return Claim(self._store, name, progress, version, self)

    def holds(self, stored: Stored) -> bool:
        """Whether the record is under this holder's lease."""
        lease = _lease(stored)
        return lease is not None and lease.holder == self.holder.name

    def renewed(self, progress: Progress) -> Progress:
        """``progress`` under this holder's lease, its term renewed (it only moves for holders without deadline)."""
        progress.lease = Lease(self.holder.name, self.holder.until(self._clock()))
        return progress


class Claim:
    """A lease held on one object: every write is conditional on the version this holder wrote last."""

    def __init__(self, store: StateStore, name: str, progress: Progress, version: str | None, leases: Leases) -> None:
        self._store = store
        self.name = name
        self.progress = progress
        """The progress the lease was taken with (the pipeline's working copy)."""
        self._version = version
        self._leases = leases

    def save(self, progress: Progress) -> None:
        """Record progress; raises :class:`LeaseLost` if another holder has taken the object over."""
        self._write(self._leases.renewed(progress))

    def release(self, progress: Progress) -> None:
        """The last write: the lease goes, so the next invocation (a replay, catch-up) may take the object at once.
        A finished object's pending marker goes too."""
        progress.lease = None
        self._write(progress)
        if progress.done:
            try:
                self._store.clear_pending(self.name)
            except StateError as exc:  # the record says done: catch-up removes a marker left behind
                log.warning("%s is done but its pending marker stays (%s); catch-up removes it", self.name, exc)

    def _write(self, progress: Progress) -> None:
        try:
            self._version = self._store.save(self.name, progress, self._version)
        except Conflict:
            again = self._store.load(self.name)
            if not _same(again.progress, progress):
                raise LeaseLost(f"{self.name}: another invocation took the object over; this one stopped") from None
            self._version = again.version  # our own write, retried by the SDK after its answer was lost


def _lease(stored: Stored) -> Lease | None:
    return stored.progress.lease if stored.progress is not None else None


def _same(stored: Progress | None, written: Progress) -> bool:
    """Whether the record holds exactly what this holder wrote (the time stamp aside)."""
    return stored is not None and replace(stored, updated="") == replace(written, updated="")
