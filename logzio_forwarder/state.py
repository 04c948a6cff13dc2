"""Per-object delivery progress, so nothing is lost and nothing acknowledged is sent twice.

After every batch the listener acknowledged, a small JSON object ``<state-prefix><object name>.json`` in the
input bucket records how far delivery got: the records and the decompressed source bytes of the acknowledged,
contiguous prefix, and the object's ETag. A later invocation for the same version resumes after that prefix; a
new version (another ETag) starts over; a finished one is not sent again.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from .bucket import OciBucket

STATE_VERSION = 1


@dataclass
class Progress:
    """How far one version of one object has been delivered."""

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
    updated: str = ""

    def advance(self, seq: int, records: int, end: int) -> None:
        """Batch ``seq`` (the next after the prefix) was acknowledged: the prefix grows by it."""
        self.records += records
        self.offset = end
        self.batches = seq + 1
        self.acked = [s for s in self.acked if s > seq]

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Progress | None:
        if value.get("version") != STATE_VERSION:
            return None
        try:
            return cls(
                etag=str(value["etag"]),
                records=int(value["records"]),
                offset=int(value["offset"]),
                batches=int(value.get("batches", 0)),
                acked=[int(s) for s in value.get("acked", [])],
                batch_max_bytes=int(value.get("batch_max_bytes", 0)),
                done=bool(value.get("done", False)),
                updated=str(value.get("updated", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


class StateStore(Protocol):
    """Where progress is kept."""

    def load(self, name: str) -> Progress | None: ...

    def save(self, name: str, progress: Progress) -> None: ...


class BackgroundSaves:
    """Saves one object's progress in a background thread, so the pipeline never waits on Object Storage between
    batches (a PutObject is a signed round trip). Saves happen in order; a snapshot still waiting when a newer
    one arrives is replaced by it, since the newer one records more. :meth:`flush` waits for the last save and
    raises the first failure."""

    def __init__(self, store: StateStore, name: str) -> None:
        self._store = store
        self._name = name
        self._lock = threading.Lock()
        self._waiting: Progress | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="progress")
        self._error: Exception | None = None

    def save(self, progress: Progress) -> None:
        snapshot = replace(progress, acked=list(progress.acked))
        with self._lock:
            replaced = self._waiting is not None
            self._waiting = snapshot
        if not replaced:
            self._pool.submit(self._write)

    def _write(self) -> None:
        with self._lock:
            snapshot, self._waiting = self._waiting, None
        if snapshot is None or self._error is not None:
            return
        try:
            self._store.save(self._name, snapshot)
        except Exception as exc:  # kept for flush(), which raises it in the caller's thread
            self._error = exc

    def flush(self) -> None:
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error


class NoState:
    """No memory between runs (``convert`` / ``ship`` of local files)."""

    def load(self, name: str) -> Progress | None:
        return None

    def save(self, name: str, progress: Progress) -> None:
        return None


class BucketState:
    """Progress objects in the input bucket under the state prefix (outside the input prefix)."""

    def __init__(self, bucket: OciBucket, prefix: str) -> None:
        self._bucket = bucket
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}.json"

    def load(self, name: str) -> Progress | None:
        value = self._bucket.get_json(self.key(name))
        return Progress.from_json(value) if value is not None else None

    def save(self, name: str, progress: Progress) -> None:
        progress.updated = datetime.now(UTC).isoformat(timespec="seconds")
        self._bucket.put_json(self.key(name), progress.to_json())
