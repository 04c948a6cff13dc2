"""Stage 5 — batch: NDJSON lines into bodies that never exceed batch-max-bytes, in order, none lost."""

from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from logzio_forwarder.pipeline.batch import Batch, batches, split_body
from logzio_forwarder.pipeline.shape import Shaped


def lines(sizes: list[int]) -> list[Shaped]:
    """Lines of the given lengths; each names its index, and its end offset is 1000 * (index + 1)."""
    out = []
    for index, size in enumerate(sizes):
        label = f"{index}:".encode()
        assert size >= len(label)
        out.append(Shaped(label + b"x" * (size - len(label)), 1000 * (index + 1)))
    return out


def body_lines(batch: Batch) -> list[bytes]:
    assert batch.body.endswith(b"\n")
    return batch.body[:-1].split(b"\n")


@pytest.mark.parametrize("seed", range(20))
def test_bodies_never_exceed_the_cap_and_keep_every_line_in_order(seed: int) -> None:
    rng = random.Random(seed)
    max_bytes = rng.choice([1024, 4096, 10_000])
    sizes = [rng.randint(8, max_bytes - 1) if rng.random() < 0.1 else rng.randint(8, 300) for _ in range(300)]
    shaped = lines(sizes)
    result = list(batches(shaped, max_bytes))

    assert all(len(b.body) <= max_bytes for b in result)
    assert [line for b in result for line in body_lines(b)] == [s.line for s in shaped]
    assert [b.seq for b in result] == list(range(len(result)))
    assert sum(b.records for b in result) == len(shaped)
    taken = 0
    for b in result:
        assert b.records == len(body_lines(b))
        taken += b.records
        assert b.end == shaped[taken - 1].end  # just after the batch's last record
    # no body could have taken the next line too (batches are full, not needlessly many)
    for b, nxt in itertools.pairwise(result):
        assert len(b.body) + len(body_lines(nxt)[0]) + 1 > max_bytes


def test_a_line_of_exactly_max_minus_one_fills_a_body() -> None:
    result = list(batches(lines([10, 1023, 10]), 1024))
    assert [len(b.body) for b in result] == [11, 1024, 11]
    assert [b.records for b in result] == [1, 1, 1]


def test_lines_that_fit_exactly_share_a_body() -> None:
    result = list(batches(lines([511, 511, 5]), 1024))
    assert [b.records for b in result] == [2, 1]
    assert len(result[0].body) == 1024


def test_first_seq_continues_numbering_after_a_resume() -> None:
    result = list(batches(lines([600, 600, 600]), 1024, first_seq=7))
    assert [b.seq for b in result] == [7, 8, 9]


def test_each_batch_keeps_its_oldest_record_time() -> None:
    times = ["2026-11-01T10:00:02.000Z", "2026-11-01T10:00:01.500Z", None, "2026-11-01T10:00:03.000Z", None]
    shaped = [Shaped(b"x" * 40, 1000 * (i + 1), time=when) for i, when in enumerate(times)]
    assert [b.oldest for b in batches(shaped, 100)] == ["2026-11-01T10:00:01.500Z", "2026-11-01T10:00:03.000Z", None]


def test_a_batch_age_counts_from_its_oldest_record_and_is_never_negative() -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    before = time.time()
    age = Batch(0, b"x\n", 1, 2, hour_ago.isoformat().replace("+00:00", "Z")).age_s()
    after = time.time()
    assert age is not None
    assert before - hour_ago.timestamp() <= age <= after - hour_ago.timestamp()
    naive = Batch(0, b"x\n", 1, 2, hour_ago.replace(tzinfo=None).isoformat()).age_s()  # no offset: taken as UTC
    assert naive is not None
    assert naive >= 3599
    ahead = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert Batch(0, b"x\n", 1, 2, ahead).age_s() == 0.0
    assert Batch(0, b"x\n", 1, 2, "yesterday").age_s() is None
    assert Batch(0, b"x\n", 1, 2).age_s() is None


def test_no_lines_no_batches() -> None:
    assert list(batches([], 1024)) == []


def test_split_body_cuts_at_a_line_boundary_near_the_middle() -> None:
    body = b"".join(f"line-{i:03d}\n".encode() for i in range(100))
    first, second = split_body(body)
    assert first + second == body
    assert first.endswith(b"\n")
    assert second.endswith(b"\n")
    assert abs(len(first) - len(second)) <= 10  # within one line of the middle


def test_split_body_with_a_long_first_line_cuts_after_it() -> None:
    body = b"a" * 100 + b"\n" + b"b\n" + b"c\n"
    assert split_body(body) == (b"a" * 100 + b"\n", b"b\nc\n")


def test_split_body_with_a_long_last_line_cuts_before_it() -> None:
    body = b"a\n" + b"b\n" + b"c" * 100 + b"\n"
    assert split_body(body) == (b"a\nb\n", b"c" * 100 + b"\n")


def test_two_lines_split_into_one_each() -> None:
    assert split_body(b"first\nsecond\n") == (b"first\n", b"second\n")


@pytest.mark.parametrize("body", [b"only one line\n", b"x\n", b"y" * 5000 + b"\n"])
def test_a_single_line_cannot_be_split(body: bytes) -> None:
    assert split_body(body) == (body, b"")
