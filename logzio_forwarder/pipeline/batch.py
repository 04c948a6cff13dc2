"""Stage 5 — batch: NDJSON lines into request bodies no larger than ``batch-max-bytes``.

Logz.io rejects a body over 10,485,760 bytes with 413, so the cap is enforced here, before compression; the
shipper still splits a batch in half if a listener answers 413 anyway.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass

from ..deadline import parse_time
from .shape import Shaped


@dataclass(slots=True)
class Batch:
    """One request body and where it ends in the object, so progress can be recorded when it is acknowledged."""

    seq: int
    """0-based position of this batch in the object."""
    body: bytes
    """Newline-terminated NDJSON lines, uncompressed."""
    records: int
    end: int
    """Offset in the decompressed object just after this batch's last record."""
    oldest: str | None = None
    """The smallest record ``time`` in the batch, as written (None when no record has one)."""

    def age_s(self) -> float | None:
        """Seconds from the oldest record's ``time`` to now (never negative); None without a readable time.

        Parsed once per batch, when the listener has acknowledged it: the largest gap between a record's event and
        its delivery, which is what the ``DeliveryLagSeconds`` metric reports.
        """
        when = parse_time(self.oldest) if self.oldest is not None else None
        if when is None:
            return None
        return max(0.0, time.time() - when.timestamp())


def batches(lines: Iterable[Shaped], max_bytes: int, first_seq: int = 0) -> Generator[Batch, None, None]:
    """Group lines into bodies of at most ``max_bytes`` (each line is at most ``max_bytes - 1`` long by shaping).

    Each batch also keeps its oldest record ``time``: audit times are UTC ISO 8601 of one format, so the oldest is
    the smallest string, found with a string comparison per record instead of parsing each time.
    """
    parts: list[bytes] = []
    size = 0
    end = 0
    seq = first_seq
    oldest: str | None = None
    for shaped in lines:
        needed = len(shaped.line) + 1
        if parts and size + needed > max_bytes:
            yield Batch(seq, b"".join(parts), len(parts) // 2, end, oldest)
            seq += 1
            parts = []
            size = 0
            oldest = None
        parts.append(shaped.line)
        parts.append(b"\n")
        size += needed
        end = shaped.end
        when = shaped.time
        if when is not None and (oldest is None or when < oldest):
            oldest = when
    if parts:
        yield Batch(seq, b"".join(parts), len(parts) // 2, end, oldest)


def split_body(body: bytes) -> tuple[bytes, bytes]:
    """Split a body at the line boundary nearest its middle (for a 413); a single line cannot be split."""
    middle = len(body) // 2
    cut = body.rfind(b"\n", 0, middle)
    if cut < 0:
        cut = body.find(b"\n", middle)
    cut += 1
    if cut <= 0 or cut >= len(body):
        return body, b""
    return body[:cut], body[cut:]
