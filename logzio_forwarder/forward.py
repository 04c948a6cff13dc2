"""The pipeline for one object: source → decompress → decode → shape → batch → ship, with progress kept.

Download and inflate run in a prefetch thread; decoding, shaping and batching in the calling thread; gzip and
HTTP in a small pool with a bounded number of batches in flight (so memory stays flat); progress writes in a
background thread. The waits (sockets) overlap fully; the CPU work shares the interpreter (README "Performance").
Progress advances only over the contiguous prefix of acknowledged batches, and batches acknowledged past a gap
are remembered, so a resume neither skips an undelivered batch nor resends a delivered one.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from .config import Settings
from .deadline import Deadline
from .errors import ForwarderError, ShipError, SourceError
from .pipeline.batch import Batch, batches
from .pipeline.decode import Decoder, Item
from .pipeline.decompress import DecompressStats, decompress
from .pipeline.prefetch import prefetch
from .pipeline.shape import Tally, shaped_lines
from .pipeline.ship import ShipOutcome, Shipper
from .pipeline.source import Guarded, ObjectSource, OpenedObject
from .state import BackgroundSaves, Progress, StateStore

log = logging.getLogger(__name__)

SHIP_WORKERS = 2
"""Concurrent requests to the listener: enough to overlap compression and upload with decoding on 2 cores."""


@dataclass
class ObjectReport:
    """What happened to one object in this invocation (the response and the summary log line)."""

    object: str
    status: str = "forwarded"
    """forwarded | already-forwarded | stopped (deadline; resumable) | failed"""
    records: int = 0
    undecodable: int = 0
    shortened: int = 0
    batches: int = 0
    requests: int = 0
    retries: int = 0
    bytes_in: int = 0
    bytes_decompressed: int = 0
    bytes_body: int = 0
    bytes_out: int = 0
    rejected: int = 0
    acknowledged: int = 0
    """Records the listener took in this invocation (batches an earlier invocation delivered are not counted)."""
    bytes_acknowledged: int = 0
    """Compressed bytes of the requests that delivered them."""
    delivery_lag_s: float | None = None
    """The largest gap between an acknowledged record's ``time`` and its acknowledgement; None if none was."""
    not_delivered: int = 0
    not_delivered_is_lower_bound: bool | None = None
    """True when reading the rest of the object to count it was cut short by the deadline."""
    resumed_at_record: int = 0
    delivered_through_record: int = 0
    duration_s: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def count_acknowledged(self, outcome: ShipOutcome, batch: Batch) -> None:
        """Add what the listener took of one batch in this invocation, and how late its oldest record arrived."""
        if not outcome.accepted:
            return
        self.acknowledged += outcome.accepted
        self.bytes_acknowledged += outcome.bytes_acknowledged
        age = batch.age_s()
        if age is not None and (self.delivery_lag_s is None or age > self.delivery_lag_s):
            self.delivery_lag_s = round(age, 3)


class Forwarder:
    """Forwards objects from one source to one listener under one deadline."""

    def __init__(
        self,
        source: ObjectSource,
        shipper: Shipper,
        state: StateStore,
        settings: Settings,
        deadline: Deadline,
        *,
        workers: int = SHIP_WORKERS,
    ) -> None:
        self._source = source
        self._shipper = shipper
        self._state = state
        self._settings = settings
        self._deadline = deadline
        self._workers = workers

    def forward(self, name: str) -> ObjectReport:
        """Deliver every record of ``name`` not delivered before; never raises for delivery problems, it reports."""
        started = time.monotonic()
        report = ObjectReport(name)
        try:
            opened = self._source.open(name)
            progress = self._progress(opened)
            if progress.done:
                report.status = "already-forwarded"
                report.delivered_through_record = progress.records
                _close(opened)
            else:
                self._run(opened, progress, report)
        except ForwarderError as exc:
            report.status, report.error = "failed", str(exc)
        report.duration_s = round(time.monotonic() - started, 3)
        return report

    def _progress(self, opened: OpenedObject) -> Progress:
        """Where to start: after the acknowledged prefix of this very version, else at the beginning."""
        saved = self._state.load(opened.name)
        if saved is not None and saved.etag == opened.etag:
            return saved
        if saved is not None:
            log.info("%s changed (ETag %s -> %s); forwarding it from the start", opened.name, saved.etag, opened.etag)
        return Progress(etag=opened.etag)

    def _run(self, opened: OpenedObject, progress: Progress, report: ObjectReport) -> None:
        report.resumed_at_record = report.delivered_through_record = progress.records
        stats = DecompressStats()
        source = Guarded(prefetch(decompress(opened.chunks, stats)))
        tally = Tally()
        lines = shaped_lines(_decoded(source, progress.offset), self._settings.max_line_bytes, tally)
        pending = batches(lines, self._settings.batch_max_bytes, first_seq=progress.batches)
        saves = BackgroundSaves(self._state, opened.name)
        try:
            try:
                completed = self._ship_all(pending, progress, report, saves)
            finally:
                pending.close()
                lines.close()  # settles the tally of what was read, also when delivery stopped early
                _close(opened)
            report.bytes_in, report.bytes_decompressed = stats.compressed, stats.decompressed
            report.records, report.undecodable, report.shortened = tally.records, tally.undecodable, tally.shortened
            if source.error is not None:
                report.status, report.error = "failed", str(source.error)
            elif completed and report.status == "forwarded":
                progress.done = True
                saves.save(progress)  # replaces a snapshot still waiting: one write fewer at the end
        finally:
            saves.flush()  # the last state is written before the invocation answers

    def _ship_all(
        self, pending: Iterator[Batch], progress: Progress, report: ObjectReport, saves: BackgroundSaves
    ) -> bool:
        """Ship batches with a bounded window in flight; True when every batch of the object was acknowledged."""
        window: deque[tuple[Batch, Future[ShipOutcome]]] = deque()
        delivered_before = self._delivered_before(progress)  # before any batch is settled
        healthy = True
        exhausted = False
        with ThreadPoolExecutor(self._workers, thread_name_prefix="ship") as pool:
            while healthy:
                if self._deadline.near(self._settings.deadline_margin_s):
                    report.status = "stopped"
                    break
                batch = next(pending, None)
                if batch is None:
                    exhausted = True
                    break
                window.append((batch, self._send(pool, batch, delivered_before, report)))
                while window and (len(window) > self._workers or window[0][1].done()):
                    healthy = self._settle(*window.popleft(), progress, report, saves) and healthy
            while window:
                healthy = self._settle(*window.popleft(), progress, report, saves) and healthy
        if not healthy:
            self._count_unsent(pending, report)
        return exhausted and healthy

    def _delivered_before(self, progress: Progress) -> set[int]:
        """Batches past the acknowledged prefix that an earlier run delivered: not to be sent again.

        Batch boundaries from the prefix on are the same in every run only with the same ``batch-max-bytes``; with
        another cap the earlier run's batch numbers mean nothing, so they are forgotten (and never saved again).
        """
        if progress.batch_max_bytes != self._settings.batch_max_bytes:
            progress.acked = []
            progress.batch_max_bytes = self._settings.batch_max_bytes
        return set(progress.acked)

    def _send(
        self, pool: ThreadPoolExecutor, batch: Batch, delivered_before: set[int], report: ObjectReport
    ) -> Future[ShipOutcome]:
        if batch.seq in delivered_before:
            done: Future[ShipOutcome] = Future()
            done.set_result(ShipOutcome(lines=batch.records))  # delivered before: nothing accepted now
            return done
        report.batches += 1
        report.bytes_body += len(batch.body)
        return pool.submit(self._shipper.ship, batch.body)

    def _count_unsent(self, pending: Iterator[Batch], report: ObjectReport) -> None:
        """After a failure, read on without sending, so the failure can say exactly how many records were not
        delivered (as long as the deadline allows)."""
        for batch in pending:
            report.not_delivered += batch.records
            if self._deadline.near(self._settings.deadline_margin_s):
                report.not_delivered_is_lower_bound = True
                return

    def _settle(
        self,
        batch: Batch,
        future: Future[ShipOutcome],
        progress: Progress,
        report: ObjectReport,
        saves: BackgroundSaves,
    ) -> bool:
        """Account for one finished batch, in order; advance progress while the prefix is unbroken."""
        try:
            outcome = future.result()
        except ShipError as exc:
            self._shipper.stop()
            report.not_delivered += batch.records
            if report.error is None:
                report.status, report.error = "failed", str(exc)
            return False
        report.requests += outcome.requests
        report.retries += outcome.retries
        report.bytes_out += outcome.bytes_sent
        report.rejected += outcome.rejected
        report.not_delivered += outcome.rejected
        report.count_acknowledged(outcome, batch)
        if report.status == "failed":  # an earlier batch failed: remember this one, but keep the prefix where it is
            progress.acked.append(batch.seq)
            saves.save(progress)
            return False
        progress.advance(batch.seq, batch.records, batch.end)
        report.delivered_through_record = progress.records
        saves.save(progress)
        return True


def _decoded(source: Guarded, skip: int) -> Iterator[Item]:
    """Decode the stream; at its end, the unfinished tail becomes a fragment only if no more bytes can come.

    A truncated gzip is the object's own damage: its tail is shipped as a fragment. A broken download is not:
    the tail is left undelivered, so progress stays at the last complete record and a retry resumes there.
    """
    decoder = Decoder(skip)
    for chunk in source:
        yield from decoder.feed(chunk)
    if not isinstance(source.error, SourceError):
        yield from decoder.finish()


def _close(opened: OpenedObject) -> None:
    close = getattr(opened.chunks, "close", None)
    if close is not None:
        close()
