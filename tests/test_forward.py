"""The pipeline for one object: progress over the acknowledged prefix only, resume, done, ETag, damage, deadline."""

from __future__ import annotations

import dataclasses
import gzip
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import requests
import responses

from logzio_forwarder.config import Secret, Settings, load_settings
from logzio_forwarder.deadline import Deadline, parse_time
from logzio_forwarder.errors import Conflict, ObjectGone, SourceError, StateError
from logzio_forwarder.forward import Forwarder, ObjectReport
from logzio_forwarder.lease import Holder, Leases
from logzio_forwarder.pipeline.ship import RetryPolicy, Shipper
from logzio_forwarder.pipeline.source import OpenedObject
from logzio_forwarder.state import BackgroundSaves, Lease, Progress, Stored, utcnow
from logzio_forwarder.token import StaticToken
from tests.support import ClockDeadline, chunked

URL = "https://listener.test:8071/"
TOKEN = "fwdTOKEN0123456789abcdef"
NAME = "audit/ocid1.serviceconnector.oc1.x/20261101T095300Z_20261101T100000Z.0.log.gz"
LINE = 300
"""Every test record serialises to exactly this many bytes, so with batch-max-bytes 1024 a batch holds 3."""
PER_BATCH = 3


def padded_lines(count: int, seed: int = 0) -> list[bytes]:
    """``count`` JSON lines of exactly :data:`LINE` bytes, padded with random hex."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        size = len(orjson.dumps({"n": n, "pad": ""}))
        line = orjson.dumps({"n": n, "pad": "".join(rng.choice("0123456789abcdef") for _ in range(LINE - size))})
        assert len(line) == LINE
        lines.append(line)
    return lines


RECORDS = padded_lines(12)
DATA = b"".join(line + b"\n" for line in RECORDS)
ENDS = [(LINE + 1) * i + LINE for i in range(len(RECORDS))]
"""Offset just past each record's closing brace."""


class MemorySource:
    """An ObjectSource over in-memory objects; ``hook(i)`` runs before chunk ``i`` of an object is handed out,
    ``on_open`` when an object is asked for; ``refusal`` (the text of a passing failure) makes every open fail."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, list[bytes]]] = {}
        self.hook: Callable[[int], None] | None = None
        self.on_open: Callable[[], None] | None = None
        self.refusal: str | None = None
        self.chunks_read = 0

    def put(self, name: str, etag: str, chunks: list[bytes]) -> None:
        self.objects[name] = (etag, chunks)

    def open(self, name: str) -> OpenedObject:
        if self.on_open is not None:
            self.on_open()
        if self.refusal is not None:
            raise SourceError(self.refusal)
        if name not in self.objects:
            raise ObjectGone(f"cannot read oci://bucket@ns/{name}: HTTP 404 ObjectNotFound")
        etag, chunks = self.objects[name]
        return OpenedObject(name, etag, sum(map(len, chunks)), self._stream(chunks))

    def _stream(self, chunks: list[bytes]) -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if self.hook is not None:
                self.hook(index)
            self.chunks_read += 1
            yield chunk


class MemoryState:
    """A StateStore in a dict, keeping every save; writes are compare-and-swap on a version, as in the bucket."""

    def __init__(self) -> None:
        self.saved: dict[str, Progress] = {}
        self.history: list[Progress] = []
        self.pending: set[str] = set()
        self._versions: dict[str, int] = {}
        self.before_save: Callable[[Progress], None] | None = None

    def load(self, name: str) -> Stored:
        found = self.saved.get(name)
        if found is None:
            return Stored(None, None)
        return Stored(dataclasses.replace(found, acked=list(found.acked)), str(self._versions.get(name, 0)))

    def save(self, name: str, progress: Progress, version: str | None) -> str:
        if self.before_save is not None:
            self.before_save(progress)
        current = str(self._versions[name]) if name in self.saved else None
        if version != current:
            raise Conflict(f"{name} changed")
        self._versions[name] = self._versions.get(name, 0) + 1
        self.saved[name] = dataclasses.replace(progress, acked=list(progress.acked))
        self.history.append(self.saved[name])
        return str(self._versions[name])

    def put(self, name: str, progress: Progress) -> None:
        """Store a record as an earlier invocation left it."""
        self._versions[name] = self._versions.get(name, 0) + 1
        self.saved[name] = progress

    def mark_pending(self, name: str) -> None:
        self.pending.add(name)

    def clear_pending(self, name: str) -> None:
        self.pending.discard(name)


class Listener:
    """The Logz.io listener on ``responses``: records what it accepted; ``answer(batch_numbers)`` picks the status."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.accepted: list[list[dict[str, Any]]] = []
        self.refused: list[list[dict[str, Any]]] = []
        self.answer: Callable[[list[dict[str, Any]]], int] = lambda _: 200
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, URL, callback=self._handle)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        lines = [orjson.loads(line) for line in gzip.decompress(request.body).splitlines()]
        status = self.answer(lines)
        with self._lock:
            (self.accepted if status == 200 else self.refused).append(lines)
        return status, {}, b""

    def numbers(self) -> list[int]:
        """Record numbers accepted, sorted (batches may arrive in any order)."""
        return sorted(line["n"] for batch in self.accepted for line in batch if "n" in line)

    def fragments(self) -> list[dict[str, Any]]:
        return [line for batch in self.accepted for line in batch if "n" not in line]


@pytest.fixture
def listener() -> Iterator[Listener]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Listener(mock)


@pytest.fixture
def source() -> MemorySource:
    store = MemorySource()
    store.put(NAME, "etag-1", chunked(DATA, 1000))
    return store


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


def settings() -> Settings:
    """Records here have no time (reshaping would stamp each with the time it was shaped) and every batch holds a
    known number of bytes: they are shipped as decoded (``reshape`` off), line for line."""
    return load_settings(
        {
            "input-bucket": "logfile_download_bucket",
            "logzio-url": URL,
            "logzio-token": TOKEN,
            "batch-max-bytes": "1024",
            "reshape": "off",
        }
    )


def forward(
    source: MemorySource, state: MemoryState, deadline: Deadline | None = None, holder: str = "test-holder"
) -> ObjectReport:
    deadline = deadline or Deadline.none()
    shipper = Shipper(
        URL,
        "oci-audit",
        StaticToken(Secret(TOKEN)),
        deadline,
        policy=RetryPolicy(max_attempts=2),
        session=requests.Session(),
        sleep=lambda _: None,
    )
    leases = Leases(state, Holder(holder, deadline))
    return Forwarder(source, shipper, leases, settings(), deadline, workers=2, progress_every_s=0).forward(NAME)


def after_batches(batches: int, *, done: bool = False, etag: str = "etag-1") -> Progress:
    records = min(batches * PER_BATCH, len(RECORDS))
    return Progress(etag=etag, records=records, offset=ENDS[records - 1] if records else 0, batches=batches, done=done)


def same(a: Progress, b: Progress) -> bool:
    """Equal in what a resume relies on (the update time, the lease, retry bookkeeping and the batch cap aside)."""
    return _core(a) == _core(b)


def _core(p: Progress) -> Progress:
    return dataclasses.replace(p, updated="", batch_max_bytes=0, lease=None, failures=0, retry_at="", error="")


# --- the happy path ----------------------------------------------------------------------------------------------


def test_every_record_is_forwarded_and_progress_saved_after_each_batch(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    report = forward(source, state)
    assert report.status == "forwarded"
    assert report.error is None
    assert (report.records, report.batches, report.requests, report.undecodable) == (12, 4, 4, 0)
    assert report.delivered_through_record == 12
    assert (report.acknowledged, report.bytes_acknowledged) == (12, report.bytes_out)
    assert report.delivery_lag_s is None, "these records have no time"
    assert listener.numbers() == list(range(12))
    assert [len(batch) for batch in listener.accepted] == [3, 3, 3, 3]
    # the lease is taken before anything is sent, and released by the last write
    leased, *during, final = state.history
    assert same(leased, after_batches(0))
    assert leased.lease is not None
    assert leased.lease.holder == "test-holder"
    assert all(saved.lease is not None for saved in during)
    assert final.lease is None
    assert state.pending == set(), "the pending marker goes when the object is done"
    # saved in the background, in order: a snapshot still waiting when a newer one comes is replaced by it
    assert same(final, after_batches(4, done=True))
    assert during, "progress is saved while batches are being acknowledged"
    expected = iter([after_batches(n) for n in (1, 2, 3, 4)])
    assert all(any(same(saved, e) for e in expected) for saved in during)  # an in-order subsequence


def test_lines_reach_the_listener_unchanged(listener: Listener, source: MemorySource, state: MemoryState) -> None:
    forward(source, state)
    got = sorted((line for batch in listener.accepted for line in batch), key=lambda line: line["n"])
    assert got == [orjson.loads(line) for line in RECORDS]


# --- progress only over the contiguous acknowledged prefix -------------------------------------------------------


def test_progress_stops_before_a_failed_batch_even_if_a_later_one_succeeded(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    third_delivered = threading.Event()

    def answer(lines: list[dict[str, Any]]) -> int:
        first = lines[0]["n"]
        if first == 3:  # batch 2: wait until batch 3 has been accepted, then fail for good
            third_delivered.wait(10)
            return 404
        if first == 6:
            third_delivered.set()
        return 200

    listener.answer = answer
    report = forward(source, state)

    assert third_delivered.is_set(), "batch 3 should have been delivered while batch 2 was in flight"
    assert [n for n in listener.numbers() if 6 <= n <= 8] == [6, 7, 8]
    assert report.status == "failed"
    assert report.error is not None
    assert "404" in report.error
    assert report.delivered_through_record == 3
    assert report.not_delivered >= 3
    assert all(p.records <= 3 and p.offset <= ENDS[2] and not p.done for p in state.history)
    # the later batch is remembered as delivered, so a resume does not send it again
    saved = state.saved[NAME]
    assert same(dataclasses.replace(saved, acked=[]), after_batches(1))
    assert 2 in saved.acked  # batch 3 may also have been sent and acknowledged while batch 2 failed
    assert all(n in listener.numbers() for seq in saved.acked for n in range(seq * PER_BATCH, (seq + 1) * PER_BATCH))


def test_resume_after_a_failure_delivers_the_rest(listener: Listener, source: MemorySource, state: MemoryState) -> None:
    listener.answer = lambda lines: 503 if lines[0]["n"] == 3 else 200
    assert forward(source, state).status == "failed"
    first_run = listener.numbers()

    listener.answer = lambda _: 200
    listener.accepted.clear()
    report = forward(source, state)
    assert report.status == "forwarded"
    assert report.resumed_at_record == 3
    # every record arrives exactly once over both runs: the failed batch is resent, the batches acknowledged
    # after it in the first run are not
    assert sorted(first_run + listener.numbers()) == list(range(12))
    assert listener.numbers()[:3] == [3, 4, 5]
    assert state.saved[NAME].done


# --- resume, done, changed object --------------------------------------------------------------------------------


def test_resume_from_saved_progress_ships_only_the_rest(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    state.put(NAME, after_batches(2))
    report = forward(source, state)
    assert report.status == "forwarded"
    assert listener.numbers() == list(range(6, 12))
    assert (report.resumed_at_record, report.delivered_through_record, report.records) == (6, 12, 6)
    assert same(state.saved[NAME], after_batches(4, done=True))


def test_batches_acknowledged_past_a_gap_are_skipped_on_resume(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    state.put(NAME, dataclasses.replace(after_batches(1), acked=[2], batch_max_bytes=1024))
    report = forward(source, state)
    assert report.status == "forwarded"
    assert listener.numbers() == [3, 4, 5, 9, 10, 11]  # batch 3 (records 6-8) was delivered before
    assert report.acknowledged == 6, "what an earlier run delivered is not counted again"
    assert same(state.saved[NAME], after_batches(4, done=True))


def test_acknowledgements_cut_with_another_batch_size_are_forgotten(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    # an earlier run with another batch-max-bytes acknowledged its "batch 3"; that number means nothing now
    state.put(NAME, dataclasses.replace(after_batches(1), acked=[3], batch_max_bytes=4096))
    listener.answer = lambda lines: 503 if lines[0]["n"] >= 6 else 200
    assert forward(source, state).status == "failed"
    assert listener.numbers() == [3, 4, 5]
    saved = state.saved[NAME]
    # not carried on, or the next run would skip this run's batch 3, which was never delivered
    assert (saved.records, saved.acked, saved.batch_max_bytes) == (6, [], 1024)


def test_done_object_is_not_sent_again(listener: Listener, source: MemorySource, state: MemoryState) -> None:
    state.put(NAME, after_batches(4, done=True))
    report = forward(source, state)
    assert report.status == "already-forwarded"
    assert report.delivered_through_record == 12
    assert listener.accepted == []
    assert listener.refused == []
    assert source.chunks_read == 0
    assert state.history == []


def test_changed_etag_starts_over(listener: Listener, source: MemorySource, state: MemoryState) -> None:
    state.put(NAME, after_batches(4, done=True, etag="etag-0"))
    report = forward(source, state)
    assert report.status == "forwarded"
    assert report.resumed_at_record == 0
    assert listener.numbers() == list(range(12))
    assert same(state.saved[NAME], after_batches(4, done=True, etag="etag-1"))


def test_an_object_that_does_not_exist_is_gone_without_a_loss_and_nothing_is_recorded(
    listener: Listener, state: MemoryState
) -> None:
    report = forward(MemorySource(), state)
    assert (report.status, report.loss, report.failing, report.retry_at) == ("gone", None, True, None)
    assert report.error is not None
    assert "ObjectNotFound" in report.error
    assert listener.accepted == []
    assert (state.history, state.pending) == ([], set()), "no record or marker for a name that is not there"


# --- damaged objects ---------------------------------------------------------------------------------------------


def test_truncated_gzip_ships_everything_before_the_damage_then_fails(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    compressed = gzip.compress(DATA)
    cut = compressed[: len(compressed) * 2 // 3]
    readable = zlib.decompressobj(31).decompress(cut)
    complete = [n for n, end in enumerate(ENDS) if end <= len(readable)]
    assert 3 < len(complete) < 12
    source.put(NAME, "etag-1", chunked(cut, 200))

    report = forward(source, state)

    assert report.status == "damaged"
    assert report.error is not None
    assert "truncated" in report.error
    assert report.failing, "the invocation that finds the damage fails, so the error is seen"
    assert listener.numbers() == complete
    tail = readable[ENDS[complete[-1]] :].strip()
    if tail:  # the partial record after the last complete one is shipped as an undecodable fragment, not dropped
        (fragment,) = listener.fragments()
        assert fragment["message"] == tail.decode("utf-8", "replace")
        assert fragment["forwarder"]["undecodable"] is True
    settled = state.saved[NAME]
    assert (settled.done, settled.settled, settled.lease) == (True, "damaged", None)
    assert settled.records >= len(complete)
    assert "truncated" in settled.loss["why"]
    assert settled.loss["where"] == f"after record {settled.records} (decompressed byte {settled.offset})"
    assert report.loss == settled.loss

    again = forward(source, state)  # a later replay or catch-up: reported, nothing sent, not failing
    assert (again.status, again.error, again.failing, again.loss) == ("damaged", None, False, settled.loss)
    assert listener.numbers() == complete


def test_undecodable_lines_are_forwarded_as_fragments(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    data = RECORDS[0] + b"\nthis is not JSON\n" + RECORDS[1] + b"\n"
    source.put(NAME, "etag-1", [data])
    report = forward(source, state)
    assert report.status == "forwarded"
    assert (report.records, report.undecodable) == (3, 1)
    assert listener.numbers() == [0, 1]
    (fragment,) = listener.fragments()
    assert fragment["message"] == "this is not JSON"
    assert fragment["forwarder"]["line"] == 2


def test_lines_the_listener_refuses_are_reported_not_delivered(source: MemorySource, state: MemoryState) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=400, json={"malformedLines": 1, "successfulLines": 2})
        report = forward(source, state)
    assert (report.rejected, report.not_delivered, report.acknowledged) == (4, 4, 8)
    assert report.bytes_acknowledged == report.bytes_out > 0  # the listener took the good lines of every body
    assert state.saved[NAME].done  # resending would duplicate the accepted lines


def test_the_delivery_lag_is_the_oldest_acknowledged_record_age(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    now = datetime.now(UTC)
    ages = [3600, 7200, 60, 10, None, 5]  # seconds before now; batches of three
    lines = [
        orjson.dumps({"n": n, "pad": "x" * 200} | ({"time": (now - timedelta(seconds=age)).isoformat()} if age else {}))
        for n, age in enumerate(ages)
    ]
    source.put(NAME, "etag-1", [b"\n".join(lines) + b"\n"])
    listener.answer = lambda batch: 503 if batch[0]["n"] == 3 else 200
    before = time.time()
    report = forward(source, state)
    after = time.time()
    assert report.status == "failed"
    assert report.acknowledged == 3
    assert report.delivery_lag_s is not None
    oldest = (now - timedelta(seconds=7200)).timestamp()  # of the batch the listener took; not the failed one's
    assert before - oldest - 0.001 <= report.delivery_lag_s <= after - oldest + 0.001  # reported to the millisecond


def test_broken_download_resumes_at_the_last_complete_record(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    broken_at = ENDS[7] - 100  # in the middle of record 7

    def broken() -> Iterator[bytes]:
        yield DATA[:broken_at]
        raise SourceError(f"the download of {NAME} broke after {broken_at} bytes and could not be resumed")

    class BrokenOnce(MemorySource):
        def open(self, name: str) -> OpenedObject:
            return OpenedObject(name, "etag-1", len(DATA), broken())

    report = forward(BrokenOnce(), state)
    assert report.status == "failed"
    assert listener.fragments() == []  # half a record is not "undecodable"; it was cut off by the network
    assert state.saved[NAME].offset <= ENDS[6]

    forward(source, state)  # the retry, with the download working
    assert listener.numbers() == list(range(12))
    assert listener.fragments() == []


# --- the deadline ------------------------------------------------------------------------------------------------


def test_deadline_near_stops_with_progress_kept_and_a_resume_finishes(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    deadline = ClockDeadline()

    def time_runs_out(lines: list[dict[str, Any]]) -> int:
        if lines[0]["n"] == 0:  # batch 1 arrives: from now on less than deadline-margin-seconds (10) is left
            deadline.leave(5.0)  # ... but more than one attempt needs
        return 200

    listener.answer = time_runs_out
    report = forward(source, state, deadline)

    assert report.status == "stopped"
    assert report.error is None
    # no batch is started after the deadline came near; those already in the window (at most two more) finish
    delivered = report.delivered_through_record
    assert delivered in (PER_BATCH, 2 * PER_BATCH, 3 * PER_BATCH)
    assert listener.numbers() == list(range(delivered))
    assert same(state.saved[NAME], after_batches(delivered // PER_BATCH))

    listener.answer = lambda _: 200
    listener.accepted.clear()
    report = forward(source, state)
    assert report.status == "forwarded"
    assert report.resumed_at_record == delivered
    assert listener.numbers() == list(range(delivered, 12))
    assert same(state.saved[NAME], after_batches(4, done=True))


def test_mixed_layout_object_stopped_and_resumed_delivers_each_record_once(
    listener: Listener, state: MemoryState
) -> None:
    """Offsets saved in one invocation are where the next starts decoding, whatever the record layout."""
    values = [orjson.loads(line) for line in padded_lines(30, seed=3)]
    parts = []
    for value in values:
        n = value["n"]
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2) if n % 3 == 0 else orjson.dumps(value)
        parts.append(text + (b"" if n % 3 == 1 else b"\r\n"))  # some joined }{, some CRLF, some pretty
    data = gzip.compress(b"".join(parts))
    mixed = MemorySource()
    mixed.put(NAME, "etag-9", chunked(data, 97))
    deadline = ClockDeadline()
    reads = {"count": 0}

    def time_runs_out(_: int) -> None:
        reads["count"] += 1
        if reads["count"] == len(data) // 97 // 2:
            deadline.leave(5.0)

    mixed.hook = time_runs_out
    first = forward(mixed, state, deadline)
    assert first.status == "stopped"
    assert 0 < first.delivered_through_record < 30

    mixed.hook = None
    second = forward(mixed, state)
    assert second.status == "forwarded"
    assert listener.numbers() == list(range(30))  # each exactly once
    assert listener.fragments() == []
    assert state.saved[NAME].done


# --- leases --------------------------------------------------------------------------------------------------------


def leased_to(holder: str, seconds: float, batches: int = 2) -> Progress:
    """A record as another invocation left it: ``batches`` acknowledged, its lease ending ``seconds`` from now."""
    until = (utcnow() + timedelta(seconds=seconds)).isoformat()
    return dataclasses.replace(after_batches(batches), lease=Lease(holder, until))


def test_an_object_leased_by_a_live_holder_is_left_alone(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    state.put(NAME, leased_to("other-invocation", 60))
    report = forward(source, state)
    assert (report.status, report.error, report.failing) == ("in-progress", None, False)
    assert listener.accepted == []
    assert source.chunks_read == 0
    assert state.history == [], "nothing is written over a live lease"


def test_a_lapsed_lease_is_taken_over_and_delivery_resumes_after_its_progress(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    state.put(NAME, leased_to("killed-invocation", -1))
    report = forward(source, state)
    assert (report.status, report.resumed_at_record) == ("forwarded", 6)
    assert listener.numbers() == list(range(6, 12))
    first = state.history[0]
    assert first.lease is not None
    assert first.lease.holder == "test-holder"
    assert same(state.saved[NAME], after_batches(4, done=True))


def test_a_holder_that_lost_its_lease_stops_sending_and_writes_nothing_more(
    listener: Listener, state: MemoryState
) -> None:
    records = padded_lines(30)
    long = MemorySource()
    long.put(NAME, "etag-1", [b"".join(line + b"\n" for line in records)])
    lost = threading.Event()

    def taken_over(progress: Progress) -> None:
        if progress.records == 3 and not lost.is_set():  # another invocation takes the object over
            state.put(NAME, dataclasses.replace(leased_to("other-invocation", 60, batches=1), records=3))
            lost.set()

    def answer(lines: list[dict[str, Any]]) -> int:
        if lines[0]["n"] >= 3:  # later batches are answered once the lease is gone
            lost.wait(10)
        return 200

    state.before_save = taken_over
    listener.answer = answer
    report = forward(long, state)
    assert report.status == "in-progress"
    assert report.error is not None
    assert "another invocation took the object over" in report.error
    assert not report.failing
    # at most the batches already in the window (two workers, three in flight) go out after the lease was lost
    assert len(listener.numbers()) <= 4 * PER_BATCH
    saved = state.saved[NAME]
    assert saved.lease is not None
    assert saved.lease.holder == "other-invocation", "the other holder's record is not overwritten"


def test_a_transient_failure_releases_the_lease_and_sets_a_growing_retry_time(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    listener.answer = lambda _: 503
    first = forward(source, state)
    assert first.status == "failed"
    saved = state.saved[NAME]
    assert (saved.lease, saved.done, saved.failures) == (None, False, 1)
    assert NAME in state.pending, "catch-up finds it by its pending marker"
    assert "503" in saved.error
    assert first.retry_at == saved.retry_at
    retry_at = parse_time(saved.retry_at)
    assert retry_at is not None
    assert retry_at <= utcnow(), "the first retry is the next invocation's"

    forward(source, state)
    again = state.saved[NAME]
    retry_at = parse_time(again.retry_at)
    assert again.failures == 2
    assert retry_at is not None
    assert retry_at > utcnow() + timedelta(seconds=50), "then catch-up waits, longer after every failure"


def test_progress_resets_the_failure_count(listener: Listener, source: MemorySource, state: MemoryState) -> None:
    state.put(NAME, dataclasses.replace(after_batches(1), failures=5, retry_at=utcnow().isoformat()))
    listener.answer = lambda lines: 503 if lines[0]["n"] >= 6 else 200
    report = forward(source, state)
    assert (report.status, report.delivered_through_record) == ("failed", 6)
    assert state.saved[NAME].failures == 1


def test_refused_lines_are_recorded_as_lost_and_reported_later_without_failing(
    source: MemorySource, state: MemoryState
) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=400, json={"malformedLines": 1, "successfulLines": 2})
        report = forward(source, state)
    assert report.failing
    assert report.loss is not None
    assert report.loss["refused"] == 4
    saved = state.saved[NAME]
    assert (saved.done, saved.refused, saved.lease) == (True, 4, None)
    later = forward(source, state)
    assert (later.status, later.failing, later.loss) == ("already-forwarded", False, report.loss)


def test_an_object_deleted_after_forwarding_started_is_settled_as_gone(listener: Listener, state: MemoryState) -> None:
    state.put(NAME, after_batches(2))
    state.pending.add(NAME)
    report = forward(MemorySource(), state)  # the lifecycle rule deleted it
    assert (report.status, report.failing, report.delivered_through_record) == ("gone", True, 6)
    assert report.error is not None
    assert "ObjectNotFound" in report.error
    saved = state.saved[NAME]
    assert (saved.done, saved.settled, saved.lease) == (True, "gone", None)
    assert saved.loss["where"] == f"after record 6 (decompressed byte {ENDS[5]})"
    assert state.pending == set()
    later = forward(MemorySource(), state)
    assert (later.status, later.error, later.failing) == ("gone", None, False)
    assert listener.accepted == []


# --- objects that cannot be opened -----------------------------------------------------------------------------

REFUSAL = f"cannot read oci://bucket@ns/{NAME}: HTTP 503 ServiceUnavailable"


def test_an_object_finished_before_that_cannot_be_opened_now_keeps_its_record(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    forward(source, state)
    finished = state.saved[NAME]
    source.refusal = REFUSAL  # the same event again, while the service has trouble
    report = forward(source, state)
    assert (report.status, report.error, report.retry_at) == ("failed", REFUSAL, None)
    assert state.saved[NAME] is finished, "no failure is recorded over done: catch-up has nothing to retry"
    assert listener.numbers() == list(range(12))


def test_an_object_that_cannot_be_opened_while_another_invocation_takes_it_is_left_to_that_one(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    theirs = leased_to("other-invocation", 60)
    source.on_open = lambda: state.put(NAME, theirs)  # it took the lease between this one's look and its write
    source.refusal = REFUSAL
    report = forward(source, state)
    assert (report.status, report.error, report.retry_at) == ("failed", REFUSAL, None)
    assert state.saved[NAME] is theirs, "the failure is not written over the other holder's lease"
    assert state.history == []


def test_an_object_gone_while_another_invocation_takes_it_is_left_to_that_one(
    listener: Listener, state: MemoryState
) -> None:
    state.put(NAME, after_batches(2))
    theirs = leased_to("other-invocation", 60)
    deleted = MemorySource()  # the lifecycle rule deleted it
    deleted.on_open = lambda: state.put(NAME, theirs)
    report = forward(deleted, state)
    assert (report.status, report.error, report.loss) == ("in-progress", None, None)
    assert state.saved[NAME] is theirs, "not settled as gone under the other holder's lease: it settles it"
    assert state.history == []


def test_an_object_finished_by_another_invocation_between_the_look_and_the_lease_is_not_sent_again(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    source.on_open = lambda: state.put(NAME, after_batches(4, done=True))  # it finished the object meanwhile
    report = forward(source, state)
    assert report.status == "already-forwarded"
    assert listener.accepted == []


def test_an_object_released_by_another_invocation_between_the_look_and_the_lease_is_resumed_after_its_progress(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    released = dataclasses.replace(after_batches(2), error="HTTP 503")  # it failed and let its lease go
    source.on_open = lambda: state.put(NAME, released)
    report = forward(source, state)
    assert (report.status, report.resumed_at_record) == ("forwarded", 2 * PER_BATCH)
    assert listener.numbers() == list(range(2 * PER_BATCH, 4 * PER_BATCH))


def test_a_release_that_fails_after_a_listener_failure_reports_both_reasons(
    listener: Listener, source: MemorySource, state: MemoryState
) -> None:
    def refuse_the_release(progress: Progress) -> None:
        if progress.lease is None:
            raise StateError("cannot write the record: HTTP 403")

    listener.answer = lambda lines: 503 if lines[0]["n"] >= 2 * PER_BATCH else 200
    state.before_save = refuse_the_release
    report = forward(source, state)
    assert report.status == "failed"
    assert report.error is not None
    assert "503" in report.error, "the listener's reason, the cause, stays first"
    assert "; also, cannot write the record: HTTP 403" in report.error
    assert (report.delivered_through_record, report.not_delivered) == (2 * PER_BATCH, 2 * PER_BATCH)


def test_progress_writes_are_paced_and_the_last_is_never_held_back() -> None:
    written: list[Progress] = []
    writing, go_on = threading.Event(), threading.Event()

    def write(progress: Progress) -> None:
        writing.set()
        go_on.wait(10)
        written.append(progress)

    saves = BackgroundSaves(write, every_s=3600)
    saves.save(after_batches(1))
    assert writing.wait(10)  # the first snapshot goes out at once
    for n in range(2, 6):  # the next ones wait out the interval, each replacing the one before
        saves.save(after_batches(n))
    go_on.set()
    flushing = threading.Thread(target=saves.flush)
    flushing.start()
    flushing.join(30)
    assert not flushing.is_alive(), "flush writes the last snapshot at once, not after the interval"
    assert [p.batches for p in written] == [1, 5]
