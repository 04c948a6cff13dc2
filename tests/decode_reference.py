"""The decoder's contract, written the slow and obvious way, for the property tests and the fuzz target.

:func:`reference` applies the rule of ``logzio_forwarder.pipeline.decode`` naively (quadratic, no streaming, no
budgets): an object that parses where an item starts is a record; otherwise the bytes up to the next *candidate*
-- a ``{`` at the start of a line or after a ``}``, spaces between allowed -- whose object parses are one fragment.
"Parses" is the standard library's reading of the bytes (``raw_decode`` finds where the object ends).

:func:`check_items` checks what must hold for any input, whatever decoded it: every byte that is not whitespace
between items is in a record or a fragment, in order, and each record is what its bytes say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from logzio_forwarder.pipeline.decode import BOM, Fragment, Item, Record

WHITESPACE = b" \t\r\n"
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Expected:
    """One item as the rule says it must be: a record's span, or a fragment's offset and text."""

    kind: str
    offset: int
    end: int
    text: bytes


def object_end(data: bytes, text: str, start: int) -> int | None:
    """Where the JSON object that starts at ``data[start]`` ends, if one does and it parses; else None.

    ``text`` is ``data`` read as latin-1 (one character per byte), so offsets agree; the span is then parsed as
    bytes, which also checks that it is UTF-8.
    """
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    try:
        parsed = json.loads(data[start:end])
    except (ValueError, RecursionError):
        return None
    return end if isinstance(parsed, dict) else None


def candidates(data: bytes, after: int) -> list[int]:
    """Every ``{`` after ``after`` whose nearest byte before it, other than space, tab or CR, is ``}`` or a
    newline at or after ``after``."""
    found = []
    for pos in range(after + 1, len(data)):
        if data[pos] != 0x7B:
            continue
        before = pos - 1
        while before >= after and data[before] in b" \t\r":
            before -= 1
        if before >= after and data[before] in b"}\n":
            found.append(pos)
    return found


def reference(data: bytes) -> list[Expected]:
    """The items the rule gives for ``data``."""
    text = data.decode("latin-1")
    found: list[Expected] = []
    pos = 0
    while True:
        while pos < len(data) and data[pos] in WHITESPACE:
            pos += 1
        if pos >= len(data):
            return found
        if data.startswith(BOM, pos):
            pos += len(BOM)
            continue
        end = object_end(data, text, pos) if data[pos] == 0x7B else None
        if end is not None:
            found.append(Expected("record", pos, end, data[pos:end]))
            pos = end
            continue
        stop = next((c for c in candidates(data, pos) if object_end(data, text, c) is not None), len(data))
        damaged = data[pos:stop].rstrip(WHITESPACE)
        found.append(Expected("fragment", pos, pos + len(damaged), damaged))
        pos = stop


def as_expected(data: bytes, items: list[Item]) -> list[Expected]:
    """The decoder's items in the reference's terms (a record's start is the first byte after the last item)."""
    out = []
    pos = 0
    for item in items:
        if isinstance(item, Fragment):
            out.append(Expected("fragment", item.offset, item.end, item.text))
        else:
            start = _next_start(data, pos)
            out.append(Expected("record", start, item.end, data[start : item.end]))
        pos = item.end
    return out


def _next_start(data: bytes, pos: int) -> int:
    while pos < len(data) and (data[pos] in WHITESPACE or data.startswith(BOM, pos)):
        pos += len(BOM) if data.startswith(BOM, pos) else 1
    return pos


def check_items(data: bytes, items: list[Item]) -> None:
    """Nothing is lost and nothing is made up: between items only whitespace (and byte-order marks), every
    fragment is its exact bytes with the right line number, every record is what its bytes parse to."""
    pos = 0
    for item in items:
        if isinstance(item, Fragment):
            assert _only_whitespace(data[pos : item.offset]), (pos, item)
            assert data[item.offset : item.end] == item.text, item
            assert item.text, item
            assert item.text == item.text.rstrip(WHITESPACE), item
            assert item.line == data.count(b"\n", 0, item.offset) + 1, item
            assert item.reason, item
        else:
            assert isinstance(item, Record)
            start = _next_start(data, pos)
            span = data[start : item.end]
            assert item.end > start, (pos, item)
            assert json.loads(span) == item.value, (span, item)
            assert item.raw is None or item.raw == span, (span, item)
        pos = item.end
    assert _only_whitespace(data[pos:]), data[pos:]


def _only_whitespace(gap: bytes) -> bool:
    """What may lie between items: whitespace and byte-order marks."""
    return gap.replace(BOM, b"").strip(WHITESPACE) == b""
