"""The invocation deadline, as a monotonic clock every stage can ask "how long have I got?"."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

FDK_DEFAULT_SECONDS = 30.0
"""What fdk itself assumes when the Fn agent sends no ``Fn-Deadline``."""


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 time as an aware datetime (no offset means UTC); None when it is not one."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Deadline:
    """A point in time on the monotonic clock (immune to wall-clock jumps); ``None`` means no deadline (CLI)."""

    __slots__ = ("_at",)

    def __init__(self, at_monotonic: float | None) -> None:
        self._at = at_monotonic

    @classmethod
    def none(cls) -> Deadline:
        return cls(None)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    @classmethod
    def from_header(cls, value: str | None) -> Deadline:
        """Parse ``ctx.Deadline()``: RFC 3339 from the Fn agent (``2021-03-13T03:43:48Z``) or fdk's own
        ``isoformat()`` default with an offset and fraction. Unparseable values fall back to fdk's 30 s default."""
        if value:
            when = parse_time(value.strip().replace("z", "Z"))
            if when is not None:
                return cls.after(when.timestamp() - time.time())
            log.warning("unparseable Fn-Deadline %r; assuming %.0f s", value, FDK_DEFAULT_SECONDS)
        return cls.after(FDK_DEFAULT_SECONDS)

    def remaining(self) -> float:
        """Seconds left (may be negative); infinity when there is no deadline."""
        return math.inf if self._at is None else self._at - time.monotonic()

    def near(self, margin: float) -> bool:
        """True when less than ``margin`` seconds are left: time to stop starting new work."""
        return self.remaining() < margin

    def wall_clock(self) -> datetime | None:
        """The deadline as a UTC wall-clock time, for what other processes read (leases); None without one."""
        if self._at is None:
            return None
        return datetime.now(UTC) + timedelta(seconds=self.remaining())

    def capped(self, seconds: float) -> Deadline:
        """This deadline, or ``seconds`` from now if that comes first (a share of the time left for one task)."""
        cap = time.monotonic() + seconds
        return Deadline(cap if self._at is None else min(self._at, cap))
