"""The invocation deadline: Fn-Deadline in every form it arrives in, and the questions the pipeline asks of it."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from logzio_forwarder import deadline as deadline_module
from logzio_forwarder.deadline import FDK_DEFAULT_SECONDS, Deadline

NOW = datetime(2021, 3, 13, 3, 42, 8, tzinfo=UTC)
"""Wall-clock "now" in these tests: 100 s before the Fn-Deadline of the capture in facts.md."""


class FakeTime:
    """Stands in for the ``time`` module inside :mod:`logzio_forwarder.deadline`."""

    def __init__(self) -> None:
        self.wall = NOW.timestamp()
        self.mono = 5_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(deadline_module, "time", fake)
    return fake


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2021-03-13T03:43:48Z", 100.0),  # the Fn agent's RFC 3339 form (capture on OCI Functions)
        ("2021-03-13T03:43:48z", 100.0),
        ("  2021-03-13T03:43:48Z\n", 100.0),
        ("2021-03-13T04:43:48.250000+01:00", 100.25),  # fdk's own default: isoformat() with offset and fraction
        ("2021-03-12T22:13:48.5-05:30", 100.5),
        ("2021-03-13T03:43:48.123+00:00", 100.123),
        ("2021-03-13T03:43:48", 100.0),  # naive: taken as UTC
        ("2021-03-13T03:41:48Z", -20.0),  # already past
    ],
)
def test_parses_every_deadline_form(header: str, seconds: float) -> None:
    assert Deadline.from_header(header).remaining() == pytest.approx(seconds, abs=1e-6)


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("header", ["garbage", "2021-13-45T99:99:99Z", "1615606228", None, ""])
def test_missing_or_unparseable_deadline_means_fdks_30_seconds(header: str | None) -> None:
    assert Deadline.from_header(header).remaining() == pytest.approx(FDK_DEFAULT_SECONDS)


def test_unparseable_deadline_is_logged(clock: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="logzio_forwarder.deadline"):
        Deadline.from_header("next tuesday")
    assert "next tuesday" in caplog.text


def test_fdks_own_default_deadline_string_parses() -> None:
    """fdk's InvokeContext without an Fn-Deadline header makes up now + 30 s in local-time isoformat()."""
    from fdk.context import InvokeContext

    header = InvokeContext("app", "app", "fn", "fn", "call").Deadline()
    assert "T" in header
    assert "+" in header or "-" in header[10:]
    assert 20.0 < Deadline.from_header(header).remaining() <= 30.0


def test_remaining_counts_down_on_the_monotonic_clock(clock: FakeTime) -> None:
    deadline = Deadline.from_header("2021-03-13T03:43:48Z")
    clock.advance(40)
    assert deadline.remaining() == pytest.approx(60.0)
    clock.wall -= 3600  # a wall-clock jump does not move the deadline
    assert deadline.remaining() == pytest.approx(60.0)


def test_near_is_true_when_less_than_the_margin_is_left(clock: FakeTime) -> None:
    deadline = Deadline.after(30.0)
    assert not deadline.near(10.0)
    clock.advance(19.5)
    assert not deadline.near(10.0)
    clock.advance(1.0)
    assert deadline.near(10.0)
    assert not deadline.near(5.0)
    clock.advance(100.0)
    assert deadline.near(0.0)
    assert deadline.remaining() < 0


def test_no_deadline_is_never_near(clock: FakeTime) -> None:
    deadline = Deadline.none()
    clock.advance(10**9)
    assert deadline.remaining() == math.inf
    assert not deadline.near(10**9)
