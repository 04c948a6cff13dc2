"""Per-object delivery progress, so nothing is lost and nothing acknowledged is sent twice.

After every batch the listener acknowledged, a small JSON object ``<state-prefix><object name>.json`` in the
input bucket records how far delivery got: the records and the decompressed source bytes of the acknowledged,
contiguous prefix, and the object's ETag. A later invocation for the same version resumes after that prefix; a
new version (another ETag) starts over; a finished one is not sent again.

The same record carries the lease (who may write it now, see :mod:`.lease`), what went wrong last time and when to
try again (for catch-up, see :mod:`.catchup`), and, once the object is settled, what was lost. Every write is
conditional on the version (the state object's own ETag) the writer last saw, so two writers can never both win.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .bucket import ObjectInfo, OciBucket
from .deadline import parse_time
from .errors import Conflict, UnreadableState

STATE_VERSION = 1
PENDING = ".pending/"
"""Under the state prefix: one empty marker per object whose forwarding started and has not finished, so catch-up
finds them with one listing however many objects are finished."""

RETRY_SCHEDULE_S = (0, 60, 120, 300, 600, 1200, 1800, 3600)
"""Wait after the 1st, 2nd, … consecutive transient failure before catch-up tries an object again (the last value
repeats). The first retry is the next invocation's: most failures are a short listener outage."""

DAMAGED = "damaged"
GONE = "gone"
SETTLED = (DAMAGED, GONE)
"""The permanent outcomes: the object's own bytes are damaged, or the object no longer exists."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass
class Lease:
    """Who may write the record, and until when (it lapses by itself: a killed holder cannot release it)."""

    holder: str
    until: str

    def live(self, now: datetime) -> bool:
        until = parse_time(self.until)
        return until is not None and until > now


@dataclass
class Progress:
    """How far one version of one object has been delivered, and who is delivering it."""

    etag: str
    records: int = 0
    """Records (fragments included) of the acknowledged prefix."""
    offset: int = 0
    """Decompressed bytes of the acknowledged prefix: where a resumed read starts decoding."""
    batches: int = 0
    """Batches of the acknowledged prefix; the next one to send has this sequence number."""
    acked: list[int] = field(default_factory=list)
    """Batches after the prefix that the listener acknowledged (sent concurrently while an earlier one failed):
    skipped on resume, so they are not delivered twice."""
    batch_max_bytes: int = 0
    """The cap the batches were cut with; ``acked`` only holds for the same cap."""
    done: bool = False
    """Nothing more will be sent for this version: every record was delivered, refused, or lost (``settled``)."""
    updated: str = ""
    lease: Lease | None = None
    refused: int = 0
    """Lines the listener answered 400 for: taken out of the object for good (resending would double the rest)."""
    failures: int = 0
    """Consecutive transient failures; reset by progress."""
    retry_at: str = ""
    """Catch-up does not try the object again before this time."""
    error: str = ""
    """What stopped the last attempt, for the operator."""
    settled: str = ""
    """``damaged`` or ``gone`` once the object was given up for good; ``loss`` says what was lost."""
    loss: dict[str, Any] = field(default_factory=dict)

    def advance(self, seq: int, records: int, end: int) -> None:
        """Batch ``seq`` (the next after the prefix) was acknowledged: the prefix grows by it."""
        self.records += records
        self.offset = end
        self.batches = seq + 1
        self.acked = [s for s in self.acked if s > seq]

    def fail(self, error: str, now: datetime, *, made_progress: bool) -> None:
        """A transient failure: catch-up tries again after a wait that grows with every failure in a row."""
        self.failures = 1 if made_progress else self.failures + 1
        wait = RETRY_SCHEDULE_S[min(self.failures, len(RETRY_SCHEDULE_S)) - 1]
        self.retry_at = iso(now + timedelta(seconds=wait))
        self.error = error

    def settle(self, kind: str, loss: dict[str, Any]) -> None:
        """Give the object up for good (``damaged`` / ``gone``): never retried, reported with its loss."""
        self.done, self.settled, self.loss = True, kind, loss
        self.failures, self.retry_at = 0, ""

    def finish(self) -> None:
        self.done, self.failures, self.retry_at, self.error = True, 0, "", ""

    def due(self, now: datetime) -> bool:
        """Whether catch-up may try it now (its retry time has come)."""
        when = parse_time(self.retry_at) if self.retry_at else None
        return when is None or when <= now

    def to_json(self) -> dict[str, Any]:
        value = {"version": STATE_VERSION, **asdict(self)}
        if self.lease is None:
            del value["lease"]
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Progress | None:
        if value.get("version") != STATE_VERSION:
            return None
        try:
            lease = value.get("lease")
            loss = value.get("loss") or {}
            return cls(
                etag=str(value["etag"]),
                records=int(value["records"]),
                offset=int(value["offset"]),
                batches=int(value.get("batches", 0)),
                acked=[int(s) for s in value.get("acked", [])],
                batch_max_bytes=int(value.get("batch_max_bytes", 0)),
                done=bool(value.get("done", False)),
                updated=str(value.get("updated", "")),
                lease=Lease(str(lease["holder"]), str(lease["until"])) if isinstance(lease, dict) else None,
                refused=int(value.get("refused", 0)),
                failures=int(value.get("failures", 0)),
                retry_at=str(value.get("retry_at", "")),
                error=str(value.get("error", "")),
                settled=str(value.get("settled", "")),
                loss=dict(loss) if isinstance(loss, dict) else {},
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Stored:
    """A progress record as read, with the version a conditional write must name (``None``: no record yet)."""

    progress: Progress | None
    version: str | None


class StateStore(Protocol):
    """Where progress is kept. ``save`` is a compare-and-swap: it raises :class:`~.errors.Conflict` unless the
    record is still at ``version`` (``None``: unless there is no record), and returns the new version."""

    def load(self, name: str) -> Stored: ...

    def save(self, name: str, progress: Progress, version: str | None) -> str: ...

    def mark_pending(self, name: str) -> None: ...

    def clear_pending(self, name: str) -> None: ...


class NoState:
    """No memory between runs (``convert`` / ``ship`` of local files): every write succeeds."""

    def load(self, name: str) -> Stored:
        return Stored(None, None)

    def save(self, name: str, progress: Progress, version: str | None) -> str:
        return "-"

    def mark_pending(self, name: str) -> None:
        return None

    def clear_pending(self, name: str) -> None:
        return None


class BucketState:
    """Progress objects in the input bucket under the state prefix (outside the input prefix)."""

    def __init__(self, bucket: OciBucket, prefix: str) -> None:
        self._bucket = bucket
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}.json"

    def name_of(self, key: str) -> str | None:
        """The object a progress key belongs to (None for the state prefix's other objects)."""
        if not key.startswith(self.prefix) or not key.endswith(".json") or key.startswith(self.pending_prefix):
            return None
        return key[len(self.prefix) : -len(".json")]

    @property
    def pending_prefix(self) -> str:
        return self.prefix + PENDING

    def load(self, name: str) -> Stored:
        """The object's record; raises :class:`~.errors.UnreadableState` for a record this forwarder cannot read
        (not JSON, another version): what it says is unknown, so it is neither trusted nor overwritten."""
        key = self.key(name)
        try:
            found = self._bucket.get_json(key)
        except UnreadableState as exc:
            raise UnreadableState(_unreadable(str(exc)), version=exc.version) from None
        if found is None:
            return Stored(None, None)
        value, version = found
        progress = Progress.from_json(value)
        if progress is None:
            what = (
                f"has version {value.get('version')!r} (this forwarder reads {STATE_VERSION})"
                if value.get("version") != STATE_VERSION
                else "is not a progress record"
            )
            raise UnreadableState(_unreadable(f"{self._bucket.where(key)} {what}"), version=version)
        return Stored(progress, version)

    def save(self, name: str, progress: Progress, version: str | None) -> str:
        progress.updated = iso(utcnow())
        return self._bucket.put_json(self.key(name), progress.to_json(), version)

    def mark_pending(self, name: str) -> None:
        self._bucket.put_marker(self.pending_prefix + name)

    def clear_pending(self, name: str) -> None:
        self._bucket.delete(self.pending_prefix + name)

    def pending(self, limit: int) -> tuple[list[ObjectInfo], bool]:
        """Objects whose forwarding started and did not finish (their markers, oldest first by marker time), and
        whether there are more than ``limit``."""
        page, more = self._bucket.list_page(self.pending_prefix, limit=limit)
        infos = [
            ObjectInfo(i.name[len(self.pending_prefix) :], i.size, i.etag, i.created)
            for i in page
            if len(i.name) > len(self.pending_prefix)
        ]
        return sorted(infos, key=lambda i: (i.created is None, i.created, i.name)), more


def _unreadable(problem: str) -> str:
    """Why a progress record is not used, and what a person can do about it."""
    return (
        f"progress record {problem}: it is left as it is and nothing is sent, since how "
        "far delivery got is unknown: delete it to forward the object from its start (records delivered before "
        "may arrive twice), or run the forwarder release that wrote it"
    )


class BackgroundSaves:
    """Saves one object's progress in a background thread, so the pipeline never waits on Object Storage between
    batches (a PutObject is a signed round trip). Saves happen in order, at most one per ``every_s`` seconds; a
    snapshot still waiting when a newer one arrives is replaced by it, since the newer one records more. After the
    first failure nothing more is written (:attr:`failed` tells the pipeline to stop sending); :meth:`flush` writes
    the last snapshot at once, waits for it and raises that failure."""

    def __init__(self, write: Callable[[Progress], None], every_s: float = 0.0) -> None:
        self._write_one = write
        self._every_s = every_s
        self._last = -math.inf
        self._hurry = threading.Event()
        self._lock = threading.Lock()
        self._waiting: Progress | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="progress")
        self._error: Exception | None = None

    @property
    def failed(self) -> bool:
        return self._error is not None

    @property
    def error(self) -> Exception | None:
        """The write that failed, once one has."""
        return self._error

    def save(self, progress: Progress) -> None:
        snapshot = replace(progress, acked=list(progress.acked))
        with self._lock:
            replaced = self._waiting is not None
            self._waiting = snapshot
        if not replaced:
            self._pool.submit(self._write)

    def _write(self) -> None:
        pause = self._last + self._every_s - time.monotonic()
        if pause > 0:
            self._hurry.wait(pause)  # newer snapshots replace this one meanwhile
        with self._lock:
            snapshot, self._waiting = self._waiting, None
        if snapshot is None or self._error is not None:
            return
        self._last = time.monotonic()
        try:
            self._write_one(snapshot)
        except Exception as exc:  # kept for flush(), which raises it in the caller's thread
            self._error = exc

    def flush(self) -> None:
        self._hurry.set()
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error


__all__ = [
    "DAMAGED",
    "GONE",
    "SETTLED",
    "BackgroundSaves",
    "BucketState",
    "Conflict",
    "Lease",
    "NoState",
    "Progress",
    "StateStore",
    "Stored",
]
