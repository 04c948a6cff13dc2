"""Stage 3 — decode: concatenated OCI JSON (a stream of bytes) into records, by parsing, never by text replacement.

The Service Connector writes records mostly one per line, but some are joined ``}{`` on one line and some span
many lines. The decoder therefore has two paths:

* the fast path takes one whole line (or the part before a ``}{``), and if simdjson finds it to be exactly one
  JSON object, that is the record: validated strictly, its ``time`` read, its raw bytes shipped as they are, and
  no Python objects built for it;
* otherwise a structural scanner walks the bytes (strings, escapes and brace depth only) to find where each object
  ends, and the span is parsed on its own (orjson, or the standard library for what orjson cannot hold exactly).

Bytes that are not a JSON object are never dropped: they come out as a :class:`Fragment` that says where they
were, and decoding resumes at the next line. The work is linear in the input; memory is bounded by one pending
record (at most ``max_record_bytes``) plus one chunk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from csimdjson import Object as _SimdObject
from csimdjson import Parser as _SimdParser  # pysimdjson's binding, without its json-module shim

BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A record still open after this many bytes is treated as damaged, so one broken brace cannot hold the rest
of the object in memory."""

_NON_WS = re.compile(rb"[^ \t\r\n]")
_SIMDJSON_ERRORS = (ValueError, RuntimeError)
"""What simdjson raises for invalid JSON, invalid UTF-8 (a ValueError subclass) and integers beyond 64 bits."""
_DIGIT_MAP = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_LONG_DIGIT_RUN = b"1" * 19


def _may_exceed_64_bits(span: bytes) -> bool:
    """A run of 19+ digits: an integer orjson would turn into a float (or digits in a string: the exact parse is
    then merely slower). ``translate`` + ``in`` runs at memory speed, ~10x a regex here."""
    return _LONG_DIGIT_RUN in span.translate(_DIGIT_MAP)


_BETWEEN_BRACES = re.compile(rb'[^{}"]*(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"[^{}"]*)*')
"""Everything up to the next brace outside a string: non-structural bytes and whole, well-formed strings."""


class Record:
    """One decoded JSON object.

    On the hot path a record is only validated (simdjson: a full, strict parse that builds no Python objects) and
    its ``time`` read; :attr:`value` parses it on first use, which shipping a plain record never needs.
    """

    __slots__ = ("_value", "end", "raw", "stamped", "time")

    def __init__(self, value: dict[str, Any] | None, raw: bytes | None, end: int, time: str | None = None) -> None:
        """``value`` may be None only with ``raw`` given and known to hold no ``@timestamp`` key."""
        self._value = value
        self.raw = raw
        """The object's exact bytes when they sit on one line and parse cleanly (shippable as is)."""
        self.end = end
        """Offset in the decompressed stream just after this record: where a resumed read may start."""
        if value is None:
            self.time, self.stamped = time, False
        else:
            found = value.get("time")
            self.time, self.stamped = (found if isinstance(found, str) else None), "@timestamp" in value

    @property
    def value(self) -> dict[str, Any]:
        """The parsed object, exact (integers beyond 64 bits included), so it can be re-serialised as it was."""
        if self._value is None:
            assert self.raw is not None
            self._value, _ = parse_object(self.raw)
            assert self._value is not None  # validated before this record was made
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.value, self.raw, self.end) == (other.value, other.raw, other.end)

    __hash__ = None  # type: ignore[assignment]  # mutable (the lazily parsed value), like a dataclass

    def __repr__(self) -> str:
        return f"Record({self.value!r}, {self.raw!r}, {self.end})"


@dataclass(slots=True)
class Fragment:
    """Bytes that could not be decoded as a JSON object; shipped as their own record so nothing is lost."""

    text: bytes
    offset: int
    """Offset of the first byte in the decompressed stream."""
    line: int
    """1-based line number of the first byte."""
    reason: str
    end: int


Item = Record | Fragment
_Step = tuple[Item | None, int] | None
"""What one decoding step found (if anything) and where the next starts; ``None`` when it needs more bytes."""


def parse_object(span: bytes) -> tuple[dict[str, Any] | None, bool]:
    """Parse one JSON object; returns (object or None, whether orjson alone could parse it exactly).

    orjson is strict (no NaN) and turns integers beyond 64 bits into floats; the standard library is used for
    those spans so that valid but unusual records are still records with their exact values.
    """
    try:
        value = orjson.loads(span)
        if _may_exceed_64_bits(span):
            raise orjson.JSONDecodeError("integer beyond 64 bits", "", 0)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(span)
        except (ValueError, RecursionError):
            return None, False
        return (value, False) if isinstance(value, dict) else (None, False)
    return (value, True) if isinstance(value, dict) else (None, False)


def scan_object(buf: bytes, start: int) -> int:
    """Find the end of the JSON object that opens at ``buf[start]`` (a ``{``).

    Returns the index just past its closing brace; ``-1`` when the buffer ends first (more bytes needed); or
    ``-(i + 2)`` when the object is broken at index ``i`` (a raw newline inside a string, which valid JSON never
    has), so the caller can resume after that point. One regex step skips everything up to the next brace
    outside a string, so the Python loop turns once per brace, not once per string.
    """
    depth = 0
    pos = start
    size = len(buf)
    skip = _BETWEEN_BRACES.match
    while True:
        pos = skip(buf, pos).end()  # type: ignore[union-attr]  # the pattern matches the empty string too
        if pos >= size:
            return -1
        char = buf[pos]
        if char == 0x7B:  # {
            depth += 1
        elif char == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return pos + 1
        else:  # a quote whose string does not close: at a raw newline (broken), or past the buffer (wait)
            newline = buf.find(b"\n", pos)
            return -1 if newline < 0 else -(newline + 2)
        pos += 1


class Decoder:
    """Incremental decoder: feed it chunks, it yields the items complete so far; call :meth:`finish` at the end."""

    def __init__(self, skip: int = 0, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES):
        """``skip``: bytes at the start of the stream that were already delivered (a record boundary)."""
        self._buf = b""
        self._base = skip  # stream offset of self._buf[0]
        self._line = 1  # line number at self._buf[self._mark]: counted as the hot loop goes, the rest on demand
        self._mark = 0
        self._skip = skip
        self._max_record = max_record_bytes
        self._validator = _SimdParser()  # one per decoder: a parser is not shared between threads

    def feed(self, chunk: bytes) -> Generator[Item, None, None]:
        """Decode everything complete in the buffered bytes plus ``chunk``; keep the incomplete tail."""
        if self._skip:
            chunk = self._skipped(chunk)
        buf = self._buf + chunk if self._buf else chunk
        pos = yield from self._items(buf, final=False)
        self._advance(buf, pos)

    def _skipped(self, chunk: bytes) -> bytes:
        """Drop bytes that were delivered before (a resume), counting their lines."""
        cut = min(self._skip, len(chunk))
        self._line += chunk.count(b"\n", 0, cut)
        self._skip -= cut
        return chunk[cut:]

    def finish(self) -> Generator[Item, None, None]:
        """Decode what is left at the end of the stream; an unfinished record becomes a fragment."""
        buf, self._buf = self._buf, b""
        pos = yield from self._items(buf, final=True)
        if pos < len(buf):  # only an unterminated object can be left over
            start = _NON_WS.search(buf, pos)
            if start is not None:
                yield self._fragment(buf, start.start(), len(buf), "the object is not closed before the end of data")
        self._advance(buf, len(buf))

    def _advance(self, buf: bytes, pos: int) -> None:
        self._line += buf.count(b"\n", self._mark, pos)
        self._mark = 0
        self._base += pos
        self._buf = buf[pos:]

    def _items(self, buf: bytes, final: bool) -> Generator[Item, None, int]:
        """Yield the items in ``buf``; the return value is the offset of the first byte not consumed."""
        pos = 0
        while True:
            pos = yield from self._plain_lines(buf, pos)
            m = _NON_WS.search(buf, pos)
            if m is None:
                return len(buf)
            pos = m.start()
            step = self._object(buf, pos, final) if buf[pos] == 0x7B else self._other(buf, pos, final)
            if step is None:  # needs more bytes
                return pos
            item, pos = step
            if item is not None:
                yield item

    def _plain_lines(self, buf: bytes, pos: int) -> Generator[Record, None, int]:
        """The hot path, in one tight loop: lines that are exactly one object (``{`` first, ``}`` last, valid by
        simdjson). Returns where the first other line starts, for the general path."""
        if pos != self._mark:  # lines the general path consumed since the last count
            self._line += buf.count(b"\n", self._mark, pos)
            self._mark = pos
        find = buf.find
        validate = self._validator.parse
        base = self._base
        nl = find(b"\n", pos)
        while nl > pos and buf[pos] == 0x7B and buf[nl - 1] == 0x7D:
            line = buf[pos:nl]
            try:
                doc = validate(line)
            except _SIMDJSON_ERRORS:  # not JSON, or valid but beyond simdjson (integers over 64 bits)
                break
            record = _validated(doc, line, base + nl)
            del doc  # the parser holds one document at a time
            if record is None:
                break
            yield record
            pos = nl + 1
            self._line += 1
            nl = find(b"\n", pos)
        self._mark = pos
        return pos

    def _other(self, buf: bytes, pos: int, final: bool) -> _Step:
        """Not an object: skip a byte-order mark, or take the rest of the line as a fragment."""
        if buf.startswith(BOM, pos):
            return None, pos + 3
        end = buf.find(b"\n", pos)
        if end < 0:
            if not final:
                return None
            end = len(buf)
        return self._fragment(buf, pos, end, "not a JSON object"), end

    def _object(self, buf: bytes, pos: int, final: bool) -> _Step:
        """An object starts at ``pos``: the whole line if it is exactly one object, or the part before a ``}{``
        (the connector's joined records); else scan for its end."""
        nl = buf.find(b"\n", pos)
        if nl >= 0:
            line_end = nl
            while buf[line_end - 1] in b" \t\r":
                line_end -= 1
            if buf[line_end - 1] == 0x7D:
                joint = buf.find(b"}{", pos, line_end)
                if joint >= 0:  # most often two records joined; else a "}{" inside a string (tried next)
                    record = self._one_object(buf, pos, joint + 1)
                    if record is not None:
                        return record, joint + 1
                tried = line_end == nl and pos == self._mark  # the hot loop just failed on exactly this line
                record = None if tried else self._one_object(buf, pos, line_end)
                if record is not None:
                    return record, nl + 1
        return self._scanned(buf, pos, nl, final)

    def _one_object(self, buf: bytes, start: int, end: int) -> Record | None:
        """``buf[start:end]`` as one record, if it is exactly one JSON object by the strict parsers."""
        span = buf[start:end]
        try:
            doc = self._validator.parse(span)
        except _SIMDJSON_ERRORS:
            return None
        record = _validated(doc, span, self._base + end)
        del doc  # the parser holds one document at a time
        return record

    def _scanned(self, buf: bytes, pos: int, nl: int, final: bool) -> _Step:
        """Slow path: find the object's end structurally, then parse just that span."""
        end = scan_object(buf, pos)
        if end == -1:  # the object goes on past this buffer
            if not final and len(buf) - pos <= self._max_record:
                return None
            stop = nl if nl >= 0 else len(buf)
            reason = "the object is not closed before the end of data" if final else "object too large"
            return self._fragment(buf, pos, stop, reason), stop
        if end < -1:  # broken at a raw newline inside a string
            stop = -end - 2
            return self._fragment(buf, pos, stop, "unterminated string"), stop
        span = buf[pos:end]
        value, clean = parse_object(span)
        if value is None:  # braces balance but it is not JSON: lose only this line, resume at the next
            stop = nl if 0 <= nl < end else end
            return self._fragment(buf, pos, stop, "invalid JSON"), stop
        return Record(value, span if clean and b"\n" not in span else None, self._base + end), end

    def _fragment(self, buf: bytes, start: int, end: int, reason: str) -> Fragment:
        text = buf[start:end].rstrip(b" \t\r\n")
        line = self._line + buf.count(b"\n", self._mark, start)
        return Fragment(text, self._base + start, line, reason, self._base + end)


def _validated(doc: Any, span: bytes, end: int) -> Record | None:
    """A record for ``span``, which simdjson parsed into ``doc``; None when it is not an object."""
    if not isinstance(doc, _SimdObject):
        return None
    if "@timestamp" in doc:  # rare: shaping must compare it with time, so parse it fully
        return Record(orjson.loads(span), span, end)  # exact: simdjson refuses integers beyond 64 bits
    time = doc.get("time")
    return Record(None, span, end, time if type(time) is str else None)


def decode(chunks: Iterable[bytes], skip: int = 0) -> Iterator[Item]:
    """Decode a stream of byte chunks into records and fragments, in stream order, after ``skip`` bytes."""
    decoder = Decoder(skip)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.finish()
