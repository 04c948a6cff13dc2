"""Stage 3 — decode: concatenated OCI JSON (a stream of bytes) into records, by parsing, never by text replacement.

The Service Connector writes records mostly one per line, but some are joined ``}{`` on one line and some span
many lines. The decoder therefore has four paths:

* the fast path takes one whole line, and if simdjson finds it to be exactly one JSON object, that is the record:
  validated strictly, its ``time`` read, its raw bytes shipped as they are, and no Python objects built for it;
* a line of joined records is split where ``}`` is followed by the start of an object, and each piece validated
  the same way; a piece that fails (the ``}{`` was inside a string) is merged with the next, a bounded number of
  times, so joined lines keep the fast path's speed whatever their strings contain;
* a record pretty-printed over many lines (``{`` alone on its line) is validated at once up to the first line that
  starts with ``}``, and parsed if that span is one object;
* otherwise a structural scanner walks the bytes (strings, escapes and brace depth only) to find where the object
  ends, and the span is parsed on its own (orjson, or the standard library for what orjson cannot hold exactly).

Bytes that are not a JSON object are never dropped, and damage costs only what it touched: decoding resumes at
the next place a complete object starts -- a ``{`` at the start of a line or right after a ``}`` (whitespace
allowed between) whose object parses -- and the damaged bytes before it become one :class:`Fragment` that says
where they were and why. :class:`_Resync` finds that place in one pass over the lines. The work is linear in the
input; memory is bounded by one pending record (at most ``max_record_bytes``) plus one chunk.
"""

from __future__ import annotations

import bisect
import json
import re
import time as _time
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from csimdjson import Object as _SimdObject
from csimdjson import Parser as _SimdParser  # pysimdjson's binding, without its json-module shim

BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A record still open after this many bytes is treated as damaged, so one broken brace cannot hold the rest
of the object in memory."""
MAX_MERGES = 8
"""How many ``}{`` inside strings one record may hold before its line goes to the structural scanner: the bound
that keeps a line with thousands of them linear (each piece is validated at most this many times)."""
FRAGMENT_BYTES = 256 * 1024
"""A damaged stretch longer than this is shipped as several fragments, cut where a line starts, so none is long
enough for shaping to shorten it (the listener takes lines up to 500,000 bytes): a non-JSON object loses nothing."""
MAX_PENDING = 1 << 16
"""After damage, an object still open once this many later candidates have been read is treated as too large,
like one longer than ``max_record_bytes``: what is remembered while waiting on it stays small (16 bytes each)."""
SIDE_BUDGET = 64
"""After damage, ``}{`` positions that lie inside a string as seen from an earlier start are checked on their own,
for at most this many times the length of their line (plus 64 KiB); past it, later ones on that line are not
tried. Only lines with thousands of ``}{`` inside strings next to damage get there; on those, where the damaged
stretch is cut into fragments may depend on where a resumed read started (every byte is still delivered once)."""

_NON_WS = re.compile(rb"[^ \t\r\n]")
_SIMDJSON_ERRORS = (ValueError, RuntimeError)
"""What simdjson raises for invalid JSON, invalid UTF-8 (a ValueError subclass) and integers beyond 64 bits."""
_DIGIT_MAP = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_LONG_DIGIT_RUN = b"1" * 19
_JOINT = re.compile(rb"\}[ \t\r]*\{")
"""A ``}`` then, on the same line, the ``{`` of what may be the next object."""
_PIECE_END = re.compile(rb"\}(?=[ \t\r]*\{[ \t\r]*[\"}])")
"""A ``}`` followed by what can begin an object (``{`` then a key or ``}``): where joined records may be split.
``}{\\"`` or ``}{x`` inside a string cannot begin one, so they are not even tried."""
_LEAD = re.compile(rb"[ \t\r]*\{")


def _may_exceed_64_bits(span: bytes) -> bool:
    """A run of 19+ digits: an integer orjson would turn into a float (or digits in a string: the exact parse is
    then merely slower). ``translate`` + ``in`` runs at memory speed, ~10x a regex here."""
    return _LONG_DIGIT_RUN in span.translate(_DIGIT_MAP)


_BETWEEN_BRACES = re.compile(rb'[^{}"]*(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"[^{}"]*)*')
"""Everything up to the next brace outside a string: non-structural bytes and whole, well-formed strings."""


class Record:
    """One decoded JSON object.

    On the hot path a record is only validated (simdjson: a full, strict parse that builds no Python objects) and
    its time read; :attr:`value` parses it on first use, which shipping a plain record never needs.

    Two layouts are read (per record): the flat audit record, its event time at ``time``, and a Logging entry
    ``{"datetime": <epoch ms>, "logContent": {<the record>}}``, its time at ``logContent.time``, else ``datetime``.
    """

    __slots__ = ("_value", "end", "raw", "time", "wrapped")

    def __init__(
        self,
        value: dict[str, Any] | None,
        raw: bytes | None,
        end: int,
        time: str | None = None,
        wrapped: bool = False,
    ) -> None:
        """``value`` may be None only with ``raw`` given (then ``time`` and ``wrapped`` are given too)."""
        self._value = value
        self.raw = raw
        """The object's exact bytes when they sit on one line and parse cleanly (shippable as is)."""
        self.end = end
        """Offset in the decompressed stream just after this record: where a resumed read may start."""
        if value is None:
            self.time, self.wrapped = time, wrapped
        else:
            self.time, self.wrapped = layout_of(value)
        """``time``: the event time, ISO 8601 as the record has it (from ``datetime``: UTC, milliseconds), or None.
        ``wrapped``: a Logging entry (see above)."""

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
    """Offset just after the last byte of ``text``: where a resumed read may start."""


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


def _scan(buf: bytes, pos: int, depth: int, stop: int) -> tuple[int, int, int]:
    """Walk braces outside strings from ``pos`` (at ``depth``) up to ``stop``.

    Returns (outcome, position, depth): outcome is the index just past the brace that brings the depth to 0; ``-1``
    when ``stop`` comes first (the position and depth then say where to go on from); or ``-(i + 2)`` when a string
    does not close before a raw newline at index ``i`` or before ``stop`` (then ``i`` is ``stop``). One regex step
    skips everything up to the next brace outside a string, so the loop turns once per brace, not per string.
    """
    skip = _BETWEEN_BRACES.match
    while True:
        pos = skip(buf, pos, stop).end()  # type: ignore[union-attr]  # the pattern matches the empty string too
        if pos >= stop:
            return -1, pos, depth
        char = buf[pos]
        if char == 0x7B:  # {
            depth += 1
        elif char == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return pos + 1, pos + 1, 0
        else:  # a quote whose string does not close: at a raw newline (broken), or before stop
            newline = buf.find(b"\n", pos, stop)
            return (-1, pos, depth) if newline < 0 else (-(newline + 2), pos, depth)
        pos += 1


def scan_object(buf: bytes, start: int) -> int:
    """Find the end of the JSON object that opens at ``buf[start]`` (a ``{``).

    Returns the index just past its closing brace; ``-1`` when the buffer ends first (more bytes needed); or
    ``-(i + 2)`` when the object is broken at index ``i`` (a raw newline inside a string, which valid JSON never
    has), so the caller can resume after that point.
    """
    return _scan(buf, start, 0, len(buf))[0]


# Why a candidate start is not an object (stored in place of its end offset).
_UNTERMINATED, _NOT_CLOSED, _TOO_LARGE, _INVALID, _NOT_TRIED, _OPEN = -1, -2, -3, -4, -5, 0
_REASONS = {
    _UNTERMINATED: "unterminated string",
    _NOT_CLOSED: "the object is not closed before the end of data",
    _TOO_LARGE: "object too large",
    _INVALID: "invalid JSON",
    _NOT_TRIED: "invalid JSON",
}
RecordAt = Callable[[bytes, int, int], Record | None]


class _Resync:
    """Where decoding resumes after damage: the first *candidate* -- a ``{`` at the start of a line, or after a
    ``}`` with only spaces between -- whose object parses.

    It reads the bytes after the damage line by line, once, and remembers what it learnt (where each candidate's
    object ends, or why it cannot), so a later search in the same stretch (damage again a few records on) costs
    nothing new. One walk follows the braces from the first candidate on, keeping a stack of the candidates it
    passed, so nested ones (a pretty-printed record's inner objects) and the next lines' records are found in the
    same pass. A candidate that walk sees inside a string (a ``}{`` in a value, or the true next record when the
    damage left a quote open) is checked on its own: first as the pieces up to the next few ``}{``, then by a
    scan of its line, within :data:`SIDE_BUDGET`. Every line is a fresh start for strings (JSON strings hold no
    raw newline), so an object still open at the end of a line joins the walk on the next one.

    Offsets are stream offsets, so the state survives from one buffer to the next; candidates are numbered in
    order (``_dropped`` + their index), and kept in two arrays, 16 bytes each, however long a stretch waits on one
    open object.
    """

    def __init__(self, start: int, record_at: RecordAt, *, inclusive: bool) -> None:
        self.at = start
        """Where the next line to read starts (the damaged line's first byte, at first)."""
        self._first_line = True
        self._inclusive = inclusive
        """Whether the search's own start is a candidate (an object still open), not damage."""
        self._record_at = record_at
        self._depth = 0
        self._opens: list[tuple[int, int]] = []
        """(depth to return to, candidate number) for the walk's unclosed candidates, by depth."""
        self._cands = array("q")
        self._codes = array("q")
        """Per candidate: the end of its object (not yet parsed), ``_OPEN``, or why there is none (negative)."""
        self._head = 0  # candidates before this index are forgotten (removed in bulk, now and then)
        self._dropped = 0  # candidates removed from the arrays
        self.blocked = start
        """After a search that needs more bytes: the first candidate still undecided (or :attr:`at`)."""
        self._passed = (-1, _OPEN)
        """(offset, code) of the last search's own start, once judged: its reason outlives the arrays."""

    def _index(self, offset: int) -> int:
        index = bisect.bisect_left(self._cands, offset, self._head)
        return index if index < len(self._cands) and self._cands[index] == offset else -1

    def knows(self, offset: int) -> bool:
        """Whether ``offset`` was read as a candidate whose object this can still judge."""
        index = self._index(offset)
        return index >= 0 and self._codes[index] != _NOT_TRIED

    def reason(self, offset: int, default: str) -> str:
        """Why the object at ``offset`` is not a record."""
        index = self._index(offset)
        code = self._codes[index] if index >= 0 else self._passed[1] if self._passed[0] == offset else _OPEN
        return _REASONS.get(code, default)

    def find(
        self, buf: bytes, base: int, start: int, *, inclusive: bool, final: bool, limit: int
    ) -> tuple[int, Record | None] | None:
        """The first candidate after ``start`` (or at it, if ``inclusive``) whose object parses, and its record;
        ``(-1, None)`` when none does up to the end of data; ``(offset, None)`` when the damaged bytes from ``start``
        grew past :data:`FRAGMENT_BYTES` (ship them up to that line start or undecided candidate and search on from
        there); ``None`` when more bytes are needed."""
        cands, codes = self._cands, self._codes
        self._forget((bisect.bisect_left if inclusive else bisect.bisect_right)(cands, start, self._head))
        index = self._head
        while True:
            while index < len(cands):
                cand, code = cands[index], codes[index]
                if code == _OPEN:
                    if self.at - cand <= limit and len(cands) - index <= MAX_PENDING:
                        break
                    code = codes[index] = _TOO_LARGE
                if code > 0:
                    record = self._record_at(buf, cand - base, code - base)
                    if record is not None:
                        return cand, record
                    code = codes[index] = _INVALID
                if cand == start:
                    self._passed = (cand, code)
                index += 1
                if index - self._head > 4096:  # judged and passed: no search will ask again
                    self._forget(index)
                    index = self._head
            self.blocked = cands[index] if index < len(cands) else self.at
            if self.blocked - start > FRAGMENT_BYTES:
                return self.blocked, None
            if not self._line(buf, base, final):
                if not final:
                    return None
                if not self._opens:
                    return -1, None
                self._close_all(_NOT_CLOSED)

    def _forget(self, head: int) -> None:
        """Forget the candidates before index ``head``: decoding has moved past them. They leave the arrays once
        they are most of them, so forgetting costs O(1) per candidate however often it is asked."""
        self._head = head
        if head > 1024 and 2 * head > len(self._cands):
            del self._cands[:head]
            del self._codes[:head]
            self._dropped += head
            self._head = 0

    def _decide(self, number: int, code: int) -> None:
        """Record what became of candidate ``number``, unless it is forgotten or already decided."""
        if self._undecided(number):
            self._codes[number - self._dropped] = code

    def _close_all(self, code: int) -> None:
        for _, number in self._opens:
            self._decide(number, code)
        self._opens.clear()

    def _line(self, buf: bytes, base: int, final: bool) -> bool:
        """Read the next line (the rest of the buffer only at the end of data); False when there is none."""
        start = self.at - base
        newline = buf.find(b"\n", start)
        if newline < 0:
            if not final or start >= len(buf):
                return False
            stop = len(buf)
        else:
            stop = newline
        cands = self._candidates(buf, start, stop)
        first = self._dropped + len(self._cands)
        self._cands.extend(base + cand for cand in cands)
        self._codes.extend(_OPEN for _ in cands)
        inside = self._walk(buf, start, stop, cands, first)
        if inside:
            self._check_alone(buf, inside, start, stop, newline=newline >= 0)
        self.at = base + (stop + 1 if newline >= 0 else stop)
        self._first_line = False
        if newline < 0:
            self._close_all(_NOT_CLOSED)
        elif len(self._opens) > 2 * MAX_PENDING:  # drop the entries of candidates already judged
            self._opens = [(level, n) for level, n in self._opens if self._undecided(n)]
        return True

    def _undecided(self, number: int) -> bool:
        index = number - self._dropped
        return index >= self._head and self._codes[index] == _OPEN

    def _candidates(self, buf: bytes, start: int, stop: int) -> list[int]:
        found = []
        if not self._first_line:
            lead = _LEAD.match(buf, start, stop)
            if lead is not None:
                found.append(lead.end() - 1)
        elif self._inclusive:  # the search's own start (a "{") is the first candidate
            found.append(start)
        found.extend(joint.end() - 1 for joint in _JOINT.finditer(buf, start, stop))
        return found

    def _walk(self, buf: bytes, pos: int, stop: int, cands: list[int], first: int) -> list[tuple[int, int]]:
        """Follow the braces of one line, from its start ``pos``, from the walk's state (candidate ``cands[k]`` is
        number ``first + k``); returns (position, number) of the candidates it saw inside strings."""
        base = self.at - pos
        opens, depth = self._opens, self._depth
        skip = _BETWEEN_BRACES.match
        inside: list[tuple[int, int]] = []
        index, count = 0, len(cands)
        while True:
            if not opens:  # nothing open: start again at the next candidate
                if index == count:
                    break
                pos = cands[index]
                opens.append((0, first + index))
                depth, pos, index = 1, pos + 1, index + 1
                continue
            pos = skip(buf, pos, stop).end()  # type: ignore[union-attr]
            while index < count and cands[index] < pos:
                inside.append((cands[index], first + index))
                index += 1
            if pos >= stop:
                break
            char = buf[pos]
            if char == 0x7B:
                if index < count and cands[index] == pos:
                    opens.append((depth, first + index))
                    index += 1
                depth += 1
            elif char == 0x7D:
                depth -= 1
                while opens and opens[-1][0] == depth:
                    self._decide(opens.pop()[1], base + pos + 1)
            else:  # a string that does not close on this line: every object still open is broken
                self._close_all(_UNTERMINATED if buf.startswith(b"\n", stop) else _NOT_CLOSED)
                inside.extend((cands[k], first + k) for k in range(index, count))
                break
            pos += 1
        self._depth = depth
        return inside

    def _check_alone(self, buf: bytes, cands: list[tuple[int, int]], start: int, stop: int, *, newline: bool) -> None:
        """Judge the candidates the walk saw inside strings, each from its own start, all within one budget."""
        budget = SIDE_BUDGET * (stop - start) + 65536
        end = stop
        while end > start and buf[end - 1] in b" \t\r":
            end -= 1
        pieces = [m.start() + 1 for m in _PIECE_END.finditer(buf, start, end)]
        if buf[end - 1] == 0x7D:
            pieces.append(end)
        base = self.at - start
        for cand, number in cands:
            code, budget = self._pieces(buf, cand, pieces, budget)
            depth = 0
            if code == _OPEN:
                code, used, depth = self._alone(buf, cand, stop, budget, newline)
                budget -= used
            if code != _OPEN:
                self._decide(number, code + base if code > 0 else code)
            elif not newline:
                self._decide(number, _NOT_CLOSED)
            elif self._opens:  # still open at the end of the line: the walk carries it on
                bisect.insort(self._opens, (self._depth - depth, number))
            else:
                self._depth = depth
                self._opens.append((0, number))

    def _pieces(self, buf: bytes, cand: int, pieces: list[int], budget: int) -> tuple[int, int]:
        """The candidate's object if it ends where the line could be split: at most :data:`MAX_MERGES` cheap
        validations, paid from ``budget``. Returns (its end or ``_OPEN``, the budget left)."""
        first = bisect.bisect_right(pieces, cand)
        for stop in pieces[first : first + MAX_MERGES]:
            budget -= stop - cand
            if budget < 0:
                break
            if self._record_at(buf, cand, stop) is not None:
                return stop, budget
        return _OPEN, budget

    @staticmethod
    def _alone(buf: bytes, cand: int, stop: int, budget: int, newline: bool) -> tuple[int, int, int]:
        """(end or code, bytes scanned, depth if open) of the object at ``cand``, scanned within its line."""
        limit = min(stop, cand + max(budget, 0))
        outcome, pos, depth = _scan(buf, cand, 0, limit)
        if outcome > 0:
            return outcome, outcome - cand, 0
        if limit < stop:  # out of budget: not judged
            return _NOT_TRIED, limit - cand, 0
        if pos < stop:  # a string runs into the end of the line
            return (_UNTERMINATED if newline else _NOT_CLOSED), stop - cand, 0
        return _OPEN, stop - cand, depth


class Decoder:
    """Incremental decoder: feed it chunks, it yields the items complete so far; call :meth:`finish` at the end."""

    def __init__(self, skip: int = 0, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES):
        """``skip``: bytes at the start of the stream that were already delivered (a record boundary)."""
        self._buf = b""
        self._base = skip  # stream offset of self._buf[0]
        self._line = 1  # line number at self._buf[self._mark]: counted as the hot loop goes, the rest on demand
        self._mark = 0
        self._fresh = True  # self._buf[0] starts a line
        self._skip = skip
        self._max_record = max_record_bytes
        self._validator = _SimdParser()  # one per decoder: a parser is not shared between threads
        self._search: tuple[int, str | None, bool] | None = None
        """Damaged bytes waiting for the next object: (their start, why, whether the start may itself be one)."""
        self._resync: _Resync | None = None
        self._tried = -1  # index where the line was just split in vain: go straight to the scanner
        self._newline = -1  # index of the next newline, when known
        self._closing = -1  # stream offset of the last line starting with "}" a many-line record was tried to end at

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
        if cut:
            self._fresh = chunk[cut - 1] == 0x0A
        self._skip -= cut
        return chunk[cut:]

    def finish(self) -> Generator[Item, None, None]:
        """Decode what is left at the end of the stream; an unfinished record becomes a fragment."""
        buf, self._buf = self._buf, b""
        pos = yield from self._items(buf, final=True)
        if pos < len(buf):  # not expected: at the end of data every step decides
            start = _NON_WS.search(buf, pos)
            if start is not None:
                yield self._fragment(buf, start.start(), len(buf), "the object is not closed before the end of data")
        self._advance(buf, len(buf))

    def _advance(self, buf: bytes, pos: int) -> None:
        self._line += buf.count(b"\n", self._mark, pos)
        self._mark = 0
        self._base += pos
        if pos:
            self._fresh = buf[pos - 1] == 0x0A
        self._buf = buf[pos:]

    def _items(self, buf: bytes, final: bool) -> Generator[Item, None, int]:
        """Yield the items in ``buf``; the return value is the offset of the first byte not consumed."""
        pos = 0
        self._tried = self._newline = -1
        while True:
            if self._search is not None:
                after = yield from self._resynced(buf, final)
                if after is None:  # needs more bytes
                    return self._search[0] - self._base
                pos = after
                continue
            pos = yield from self._plain_lines(buf, pos)
            m = _NON_WS.search(buf, pos)
            if m is None:
                return len(buf)
            if m.start() != pos and buf[m.start() - 1] == 0x0A:  # blank after a record: a line starts, the hot path
                pos = m.start()
                continue
            pos = m.start()
            if buf[pos] != 0x7B:
                step = self._other(buf, pos, final)
            elif self._known(pos):
                self._search = (self._base + pos, None, True)
                continue
            else:
                if pos != self._tried:
                    after = yield from self._line_objects(buf, pos)
                    if after != pos:
                        pos = after
                        continue
                    if self._newline >= len(buf) and not final and len(buf) - pos <= self._max_record:
                        return pos  # a line cut by the chunk's end: read it whole from the next chunk on
                step = self._many_lines(buf, pos) or self._scanned(buf, pos)
            if step is None:  # needs more bytes
                return pos
            item, pos = step
            if item is not None:
                yield item

    def _plain_lines(self, buf: bytes, pos: int) -> Generator[Record, None, int]:
        """The hot path, in one tight loop: lines that are exactly one object (``{`` first, ``}`` last, valid by
        simdjson), or several joined. Returns where the first other line starts, for the general path."""
        if pos != self._mark:  # lines the general path consumed since the last count
            self._line += buf.count(b"\n", self._mark, pos)
            self._mark = pos
        if not (buf[pos - 1] == 0x0A if pos else self._fresh):
            return pos  # mid-line: the general path splits from here
        find = buf.find
        validate = self._validator.parse
        base = self._base
        nl = find(b"\n", pos)
        while nl > pos and buf[pos] == 0x7B:
            end = nl - 1 if buf[nl - 1] == 0x0D else nl
            if buf[end - 1] != 0x7D:
                break
            line = buf[pos:end]
            try:
                doc = validate(line)
            except _SIMDJSON_ERRORS:  # not JSON, joined records, or beyond simdjson (integers over 64 bits)
                doc = None
            if doc is not None:
                record = _validated(doc, line, base + end)
                doc = None  # the parser holds one document at a time
                if record is None:
                    break
                yield record
            else:
                stop = yield from self._joined(buf, pos, end, True)
                if stop != end:
                    self._tried = pos = stop
                    break
            pos = nl + 1
            self._line += 1
            nl = find(b"\n", pos)
        self._mark = pos
        return pos

    def _joined(self, buf: bytes, start: int, end: int, tried: bool) -> Generator[Record, None, int]:
        """Records joined on one line, ``buf[start:end]``: split where a ``}`` is followed by what can begin an
        object; a piece that is not an object (the ``}{`` was in a string) is merged with the next, at most
        :data:`MAX_MERGES` times. ``tried``: the whole line already failed as one object. Returns where it stopped:
        ``end``, or the start of an object it could not split off (for the scanner)."""
        validate = self._validator.parse
        search = _PIECE_END.search
        base = self._base
        while True:
            joint = search(buf, start, end)
            record = None
            for _ in range(MAX_MERGES + 1):
                if joint is None and tried:
                    return start
                stop = end if joint is None else joint.start() + 1
                span = buf[start:stop]
                try:
                    doc = validate(span)
                except _SIMDJSON_ERRORS:
                    pass
                else:
                    record = _validated(doc, span, base + stop)
                    del doc
                    if record is not None:
                        break
                if joint is None:
                    return start
                joint = search(buf, stop, end)
            if record is None:
                return start
            yield record
            if joint is None:
                return end
            start, tried = _NON_WS.search(buf, stop).start(), False  # type: ignore[union-attr]

    def _line_objects(self, buf: bytes, pos: int) -> Generator[Record, None, int]:
        """From ``pos`` (a ``{`` the hot path did not take) to the end of its line, when the line ends with
        ``}``: the records there, split as joined ones. Returns where the line's next byte is, or where an object
        could not be split off."""
        nl = self._newline
        if nl < pos:
            nl = buf.find(b"\n", pos)
            self._newline = nl if nl >= 0 else len(buf)
        if nl < 0 or nl >= len(buf):
            return pos
        end = nl
        while buf[end - 1] in b" \t\r":
            end -= 1
        if buf[end - 1] != 0x7D:
            return pos
        stop = yield from self._joined(buf, pos, end, False)
        if stop == end:
            return nl + 1
        self._tried = stop
        return stop

    def _many_lines(self, buf: bytes, pos: int) -> _Step:
        """A record printed over many lines, as pretty printers write one (``{`` alone on its first line, ``}`` at
        the start of its last), taken whole: the span up to the first line that starts with ``}`` is validated
        at once. A span that parses is exactly one object (a JSON object's end is where its braces close, and
        the parsers refuse what follows it), so that is the record; otherwise None, and the structural scanner
        decides. Each such closing line is tried from one start only, so damage still costs linear time."""
        if buf[pos + 1 : pos + 2] not in (b"\n", b"\r"):
            return None
        close = buf.find(b"\n}", pos, pos + self._max_record)
        if close < 0 or self._base + close <= self._closing:
            return None
        self._closing = self._base + close
        end = close + 2
        span = buf[pos:end]
        try:
            self._validator.parse(span)
        except _SIMDJSON_ERRORS:
            return None
        value, _ = parse_object(span)
        if value is None:
            return None
        return Record(value, None, self._base + end), end

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

    def _record_at(self, buf: bytes, start: int, end: int) -> Record | None:
        """``buf[start:end]`` as a record, by simdjson on one line, else parsed (exact big integers, many lines)."""
        span = buf[start:end]
        one_line = span.find(b"\n") < 0
        if one_line:
            record = self._one_object(buf, start, end)
            if record is not None:
                return record
        value, clean = parse_object(span)
        if value is None:
            return None
        return Record(value, span if clean and one_line else None, self._base + end)

    def _known(self, pos: int) -> bool:
        """Whether a resynchronisation already read past ``pos`` and can judge the object there."""
        resync = self._resync
        if resync is None:
            return False
        offset = self._base + pos
        if offset >= resync.at:
            self._resync = None  # decoding has moved past everything it read
            return False
        return resync.knows(offset)

    def _scanned(self, buf: bytes, pos: int) -> _Step:
        """Slow path: find the object's end structurally, then parse just that span. An object still open at the
        end of the buffer is handed to a resynchronisation that includes it: it reads on line by line, once, and
        so judges the records after it too (a ``{`` that never closes costs one pass, however many follow)."""
        end = scan_object(buf, pos)
        if end == -1:  # the object goes on past this buffer
            return self._search_from(pos, None, inclusive=True)
        if end < -1:  # broken at a raw newline inside a string
            return self._search_from(pos, "unterminated string")
        record = self._record_at(buf, pos, end)
        if record is None:
            return self._search_from(pos, "invalid JSON")
        return record, end

    def _other(self, buf: bytes, pos: int, final: bool) -> _Step:
        """Not an object: skip a byte-order mark, or look for the next object."""
        if buf.startswith(BOM, pos):
            return None, pos + 3
        if not final and len(buf) - pos < len(BOM) and BOM.startswith(buf[pos:]):
            return None  # perhaps the start of a byte-order mark
        return self._search_from(pos, "not a JSON object")

    def _search_from(self, pos: int, reason: str | None, *, inclusive: bool = False) -> _Step:
        """Bytes from ``pos`` are not a record (or, ``inclusive``, not yet known to be one): search for the next
        object after them (or at ``pos``)."""
        offset = self._base + pos
        resync = self._resync
        if resync is None or offset >= resync.at or (inclusive and not resync.knows(offset)):
            self._resync = _Resync(offset, self._record_at, inclusive=inclusive)
        self._search = (offset, reason, inclusive)
        return None, pos

    def _resynced(self, buf: bytes, final: bool) -> Generator[Item, None, int | None]:
        """Go on with the search for the next object: yield the damaged bytes as a fragment, then the record found.
        Returns where decoding goes on, or None when more bytes are needed."""
        assert self._search is not None
        assert self._resync is not None
        start, reason, inclusive = self._search
        resync, base = self._resync, self._base
        found = resync.find(buf, base, start, inclusive=inclusive, final=final, limit=self._max_record)
        if found is None:
            if base + len(buf) - start <= self._max_record:
                return None
            cut = resync.blocked  # too long to wait for: ship what is already known to be damaged
            if cut > start:
                why = reason or resync.reason(start, "invalid JSON")
                yield from self._damage(buf, start - base, cut - base, why)
                self._search = (cut, None if resync.knows(cut) else why, True)
                return cut - base
            found = resync.find(buf, base, start, inclusive=inclusive, final=True, limit=self._max_record)  # data ends
            self._resync = None
            assert found is not None
        cand, record = found
        why = reason or resync.reason(start, "invalid JSON")
        if record is None and cand >= 0:  # a long damaged stretch: this much of it now, the rest after
            yield from self._damage(buf, start - base, cand - base, why)
            self._search = (cand, None if resync.knows(cand) else why, True)
            return cand - base
        self._search = None
        if cand != start:
            yield from self._damage(buf, start - base, cand - base if cand >= 0 else len(buf), why)
        if record is None:
            return len(buf)
        yield record
        return record.end - base

    def _damage(self, buf: bytes, start: int, end: int, reason: str) -> Generator[Fragment, None, None]:
        """The fragment for ``buf[start:end]``, unless that is only whitespace (a cut at a blank line)."""
        fragment = self._fragment(buf, start, end, reason)
        if fragment.text:
            yield fragment

    def _fragment(self, buf: bytes, start: int, end: int, reason: str) -> Fragment:
        text = buf[start:end].rstrip(b" \t\r\n")
        line = self._line + buf.count(b"\n", self._mark, start)
        offset = self._base + start
        return Fragment(text, offset, line, reason, offset + len(text))


ENTRY_KEYS = frozenset({"datetime", "logContent"})
"""A Logging entry is an object of exactly these members, ``logContent`` an object and ``datetime`` (optional) an
integer."""


def _validated(doc: Any, span: bytes, end: int) -> Record | None:
    """A record for ``span``, which simdjson parsed into ``doc``; None when it is not an object. (``in`` and
    ``get`` on a simdjson object raise and catch a KeyError inside for a missing key: each costs a few microseconds
    then, so the layout is told by its size first.)"""
    if not isinstance(doc, _SimdObject):
        return None
    if len(doc) <= 2 and "logContent" in doc:
        time, wrapped = _entry_time(doc)
    else:
        time, wrapped = doc.get("time"), False
        if type(time) is not str:
            time = None
    return Record(None, span, end, time, wrapped)


def _entry_time(doc: Any) -> tuple[str | None, bool]:
    """(time, is a Logging entry) of a simdjson object of at most two members, one of them ``logContent``."""
    entry = doc["logContent"]
    stamp = doc.get("datetime") if len(doc) == 2 else None
    if not isinstance(entry, _SimdObject) or (len(doc) == 2 and type(stamp) is not int):
        time = doc.get("time")
        return (time if type(time) is str else None), False
    inner = entry.get("time")
    return (inner if type(inner) is str else _from_epoch_ms(stamp)), True


def layout_of(value: dict[str, Any]) -> tuple[str | None, bool]:
    """(the event time, whether ``value`` is a Logging entry) of a parsed record: see :class:`Record`."""
    time = value.get("time")
    if isinstance(time, str):
        return time, False
    entry = value.get("logContent")
    stamp = value.get("datetime")
    if time is not None or not isinstance(entry, dict) or not value.keys() <= ENTRY_KEYS:
        return None, False
    if "datetime" in value and type(stamp) is not int:
        return None, False
    inner = entry.get("time")
    return (inner if isinstance(inner, str) else _from_epoch_ms(stamp)), True


def _from_epoch_ms(value: Any) -> str | None:
    """A Logging entry's ``datetime`` (integer epoch milliseconds) as ISO 8601 in the audit records' own format
    (``2026-11-01T09:55:01.800Z``), so times of both layouts compare as strings; None if it is not one."""
    if type(value) is not int:
        return None
    seconds, millis = divmod(value, 1000)
    try:
        return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(seconds)) + f".{millis:03d}Z"
    except (OverflowError, OSError, ValueError):
        return None


def decode(chunks: Iterable[bytes], skip: int = 0) -> Iterator[Item]:
    """Decode a stream of byte chunks into records and fragments, in stream order, after ``skip`` bytes."""
    decoder = Decoder(skip)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.finish()
