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
from .errors import DecompressError, ForwarderError, LeaseLost, ObjectGone, ShipError, SourceError
from .lease import Claim, Leases
from .pipeline.batch import Batch, batches
from .pipeline.decode import Decoder, Item
from .pipeline.decompress import DecompressStats, decompress
from .pipeline.prefetch import prefetch
from .pipeline.shape import Shaping, Tally, shaped_lines
from .pipeline.ship import ShipOutcome, Shipper
from .pipeline.source import Guarded, ObjectSource, OpenedObject
from .state import DAMAGED, GONE, SETTLED, BackgroundSaves, Progress, Stored, utcnow

log = logging.getLogger(__name__)

SHIP_WORKERS = 2
"""Concurrent requests to the listener: enough to overlap compression and upload with decoding on 2 cores."""
PROGRESS_EVERY_S = 0.25
"""Least time between two progress writes of one object (the last one is never held back). A write is a signed
Object Storage request, ~2-3 ms of the function's CPU: one per 4 MB batch was a tenth of the cost of forwarding.
What a container killed mid-object resends grows by the batches acknowledged in the last quarter second at most."""


@dataclass
class ObjectReport:
    """What happened to one object in this invocation (the response and the summary log line)."""

    object: str
    status: str = "forwarded"
    """forwarded | already-forwarded | in-progress (another invocation holds it) | stopped (deadline; resumable) |
    failed (resumable; catch-up retries it) | damaged / gone (settled for good, see ``loss``)"""
    records: int = 0
    undecodable: int = 0
    shortened: int = 0
    reshaped: int = 0
    """Records changed to keep Logz.io's invalid-log rules (docs/indexing.md)."""
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
    """Set when this invocation met a problem with the object (it then fails); None for a clean or earlier outcome."""
    loss: dict[str, Any] | None = None
    """What is lost for good: a settled object's loss (what, where, why), or lines the listener refused."""
    retry_at: str | None = None
    """When catch-up tries a failed object again."""

    @property
    def failing(self) -> bool:
        """Whether this object makes the invocation fail: something was not delivered in this invocation."""
        return (self.error is not None and self.status != "in-progress") or self.not_delivered > 0

    @property
    def lost_now(self) -> bool:
        """Whether this invocation found a loss nothing can finish: damaged or gone, or lines refused with 400."""
        return (self.status in SETTLED and self.error is not None) or self.rejected > 0

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
    """Forwards objects from one source to one listener under one deadline, one object at a time, each under a
    lease (so no two invocations send the same object at once)."""

    def __init__(
        self,
        source: ObjectSource,
        shipper: Shipper,
        leases: Leases,
        settings: Settings,
        deadline: Deadline,
        *,
        workers: int = SHIP_WORKERS,
        progress_every_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self._source = source
        self._shipper = shipper
        self._leases = leases
        self._settings = settings
        self._deadline = deadline
        self._workers = workers
        self._progress_every_s = progress_every_s

    def forward(self, name: str, stored: Stored | None = None) -> ObjectReport:
        """Deliver every record of ``name`` not delivered before; never raises for delivery problems, it reports.
        ``stored``: the object's progress record if the caller has just read it."""
        started = time.monotonic()
        report = ObjectReport(name)
        try:
            self._forward(name, stored if stored is not None else self._leases.look(name), report)
        except ForwarderError as exc:
            report.status, report.error = "failed", str(exc)
        report.duration_s = round(time.monotonic() - started, 3)
        return report

    def _forward(self, name: str, stored: Stored, report: ObjectReport) -> None:
        if self._leases.busy(stored):
            report.status = "in-progress"
            return
        try:
            opened = self._source.open(name)
        except ObjectGone as exc:
            self._gone(name, stored, report, str(exc))
            return
        except SourceError as exc:
            self._unreadable(name, stored, report, str(exc))
            return
        for _ in range(2):
            earlier = stored.progress
            if earlier is not None and earlier.done and earlier.etag == opened.etag:
                _close(opened)
                report_earlier(earlier, report)
                return
            if self._leases.busy(stored):
                break
            claim = self._leases.take(name, stored, opened.etag)
            if claim is not None:
                self._run(opened, claim, report)
                return
            stored = self._leases.look(name)  # another invocation wrote the record since it was read: look again
        _close(opened)
        report.status = "in-progress"

    def _unreadable(self, name: str, stored: Stored, report: ObjectReport, error: str) -> None:
        """The object could not be opened for a passing reason (5xx, a refused request): a failure recorded in its
        progress like any other, so catch-up retries it at growing intervals."""
        report.status, report.error = "failed", error
        kept = stored.progress
        if kept is not None and kept.done:
            return  # finished before; nothing to retry
        claim = self._leases.take(name, stored, kept.etag if kept is not None else "")
        if claim is None:
            return
        claim.progress.fail(error, utcnow(), made_progress=False)
        claim.release(claim.progress)
        report.retry_at = claim.progress.retry_at

    def _gone(self, name: str, stored: Stored, report: ObjectReport, error: str) -> None:
        """The object does not exist. If its forwarding had started (and not finished), what was not delivered is
        lost for good: settled as ``gone``, never tried again. If it had not, there is nothing to forward and
        nothing to record: ``gone`` without a loss (no retry would find it either)."""
        earlier = stored.progress
        if earlier is None:
            report.status, report.error = GONE, error
            return
        if earlier.done:
            report_earlier(earlier, report)
            return
        claim = self._leases.take(name, stored, earlier.etag)
        if claim is None:
            report.status = "in-progress"
            return
        progress = claim.progress
        report.resumed_at_record = report.delivered_through_record = progress.records
        progress.settle(GONE, _loss(progress, "the object no longer exists", error))
        claim.release(progress)
        report.status, report.error, report.loss = GONE, error, progress.loss

    def _run(self, opened: OpenedObject, claim: Claim, report: ObjectReport) -> None:
        """Ship the object under its lease, then settle what happened in its progress record and release it."""
        progress = claim.progress
        report.resumed_at_record = report.delivered_through_record = progress.records
        stats = DecompressStats()
        source = Guarded(prefetch(decompress(opened.chunks, stats)))
        tally = Tally()
        settings = self._settings
        shaping = Shaping(settings.reshape, settings.unwrap, settings.region)
        lines = shaped_lines(_decoded(source, progress.offset), settings.max_line_bytes, tally, shaping)
        pending = batches(lines, self._settings.batch_max_bytes, first_seq=progress.batches)
        saves = BackgroundSaves(claim.save, self._progress_every_s)
        completed = False
        try:
            try:
                completed = self._ship_all(pending, progress, report, saves)
            finally:
                pending.close()
                lines.close()  # settles the tally of what was read, also when delivery stopped early
                _close(opened)
            report.bytes_in, report.bytes_decompressed = stats.compressed, stats.decompressed
            report.records, report.undecodable, report.shortened = tally.records, tally.undecodable, tally.shortened
            report.reshaped = tally.reshaped
            saves.flush()  # every acknowledged batch is recorded before the outcome is
        except LeaseLost as exc:
            report.status, report.error = "in-progress", str(exc)
            return  # the record is another holder's now: nothing more is written
        except ForwarderError as exc:  # progress could not be recorded: stop, and try to say so in the record
            report.status, report.error = "failed", str(exc)
        self._conclude(progress, report, source.error, completed=completed and not report.error)
        try:
            claim.release(progress)
        except ForwarderError as exc:  # the lease lapses by itself; say why the record may be behind
            report.status = "failed" if report.status in ("forwarded", "stopped") else report.status
            report.error = f"{report.error}; also, {exc}" if report.error else str(exc)

    def _conclude(
        self, progress: Progress, report: ObjectReport, damage: ForwarderError | None, *, completed: bool
    ) -> None:
        """What the record says for next time: done, settled with a loss, or a failure catch-up retries later."""
        if report.rejected:
            progress.refused += report.rejected
            report.loss = _refused(progress)
        made_progress = report.delivered_through_record > report.resumed_at_record
        if report.status == "stopped":  # resumable: the next invocation (catch-up) goes on at once
            progress.error, progress.retry_at = "stopped before the invocation deadline", ""
            return
        if report.error is None and isinstance(damage, DecompressError | ObjectGone):
            # everything readable was delivered: what could not be read is lost for good
            kind = DAMAGED if isinstance(damage, DecompressError) else GONE
            progress.settle(kind, _loss(progress, "the rest of the object could not be read", str(damage)))
            report.status, report.error, report.loss = kind, str(damage), progress.loss
            return
        if report.error is None and damage is not None:
            report.status, report.error = "failed", str(damage)
        if report.error is not None or not completed:
            report.status = "failed"
            progress.fail(report.error or "not every batch was delivered", utcnow(), made_progress=made_progress)
            report.retry_at = progress.retry_at
        else:
            progress.finish()

    def _ship_all(
        self, pending: Iterator[Batch], progress: Progress, report: ObjectReport, saves: BackgroundSaves
    ) -> bool:
        """Ship batches with a bounded window in flight; True when every batch of the object was acknowledged."""
        window: deque[tuple[Batch, Future[ShipOutcome]]] = deque()
        delivered_before = self._delivered_before(progress)  # before any batch is settled
        healthy = True
        exhausted = False
        with ThreadPoolExecutor(self._workers, thread_name_prefix="ship") as pool:
            while healthy and not saves.failed:
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
        if not healthy or (saves.failed and not isinstance(saves.error, LeaseLost)):  # a lost object is not ours
            self._count_unsent(pending, report)
        return exhausted and healthy and not saves.failed

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
        return pool.submit(self._shipper.ship, batch.body, batch.records)

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
            report.requests += exc.requests  # every attempt reached the listener (or tried to): count it
            report.retries += exc.retries
            report.bytes_out += exc.bytes_sent
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


def report_earlier(progress: Progress, report: ObjectReport) -> ObjectReport:
    """An object finished before: already forwarded, or settled with a loss (reported, not failing again)."""
    report.status = progress.settled or "already-forwarded"
    report.delivered_through_record = progress.records
    if progress.settled:
        report.loss = progress.loss
    elif progress.refused:
        report.loss = _refused(progress)
    return report


def _refused(progress: Progress) -> dict[str, Any]:
    return {"refused": progress.refused, "why": "the listener refused these lines (HTTP 400)"}


def _loss(progress: Progress, what: str, why: str) -> dict[str, Any]:
    """A settled object's loss: what was lost, where it starts, why."""
    return {
        "what": what,
        "where": f"after record {progress.records} (decompressed byte {progress.offset})",
        "why": why,
        "delivered_records": progress.records,
    }
