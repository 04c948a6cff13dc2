"""Stage 4 — shape: one decoded item into one NDJSON line that Logz.io indexes as the audit record it is.

* ``@timestamp`` comes first and is the record's event time, unchanged: its ``time``, or for a Logging entry
  (``{"datetime": <epoch ms>, "logContent": {<the record>}}``) the inner record's ``time``, else ``datetime`` as
  ISO 8601. So Logz.io files the event when it happened, not when it was shipped.
* With ``reshape`` on (the default), the record's top-level ``type`` is renamed in place to ``eventType`` (Logz.io
  files a line under its own top-level ``type``, which would override ``logzio-type``), and a record that breaks one
  of Logz.io's invalid-log rules is changed as little as possible to keep them (:mod:`.indexable`), which its
  ``forwarder`` object then says. A record without any time of its own is stamped with the time it was shaped.
* With ``unwrap`` on (the default), a Logging entry is shipped as its inner record, ``datetime`` kept as
  ``forwarder.datetime``.
* ``forwarder.region``: the function's region, in every line, when it is known.
* A line longer than the listener's 500,000-byte limit is shortened, longest string values first, and marked.
* An undecodable fragment becomes ``{"message": <its text>, "forwarder": {"undecodable": true, ...}}``.

``reshape`` off ships records as decoded, as before these rules were kept: ``@timestamp`` and ``forwarder.region``
added, nothing else changed. When the decoder kept a record's raw single-line bytes and the rules cannot be broken
(decided on those bytes), the line is spliced from them instead of re-serialising the record: ``{"@timestamp":…,``
then the record up to its last member, ``"eventType":`` and that member's value, then ``forwarder``. That is the
hot path; every other record is parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from .decode import Fragment, Item, Record, parse_object
from .indexable import (
    BREAKS,
    POINTER_CHARS,
    SHAPED,
    SPLIT_CHARS,
    Notes,
    Reshaper,
    Unfit,
    compact,
    free_name,
    parts,
    pointer,
    screen,
)

MARKER = "forwarder"
"""Top-level field this tool adds for what it did to a line (no dots: Logz.io indexes dotted names badly)."""
TYPE_FIELD = "eventType"
"""Where a shipped record keeps its own ``type`` (the CloudEvents 0.1 name for it)."""
_ELLIPSIS = "…[truncated]"
_ENTRY_HEAD = re.compile(rb'\{"datetime":(-?[0-9]+),"logContent":\{')


@dataclass(frozen=True)
class Shaping:
    """How every line of an invocation is shaped (from the config keys ``reshape`` and ``unwrap``, and the region)."""

    reshape: bool = True
    unwrap: bool = True
    region: str | None = None
    tail: bytes = field(init=False, repr=False, compare=False)
    """How a spliced line ends: ``}``, or the ``forwarder`` object with the region and ``}``."""

    def __post_init__(self) -> None:
        tail = b"}" if self.region is None else b',"forwarder":{"region":' + orjson.dumps(self.region) + b"}}"
        object.__setattr__(self, "tail", tail)


DEFAULT = Shaping()


@dataclass(slots=True)
class Shaped:
    """One line ready for the body (without its newline) and what shaping had to do to it."""

    line: bytes
    end: int
    undecodable: bool = False
    shortened: bool = False
    time: str | None = None
    """The record's event time (None for fragments and records without one): the batch keeps the oldest, so the
    delivery lag can be measured when the listener acknowledges it."""
    reshaped: bool = False
    """Changed to keep Logz.io's rules (its ``forwarder`` object says how)."""


@dataclass(slots=True)
class Tally:
    """What shaping did, for the summary."""

    records: int = 0
    undecodable: int = 0
    shortened: int = 0
    reshaped: int = 0


def shaped_lines(
    items: Iterable[Item], max_line: int, tally: Tally, shaping: Shaping = DEFAULT
) -> Generator[Shaped, None, None]:
    """Stage 4 over a stream: every item shaped, in order, counted into ``tally`` (even if abandoned early)."""
    records = undecodable = shortened = reshaped = 0
    try:
        for item in items:
            shaped = shape(item, max_line, shaping)
            records += 1
            if shaped.undecodable or shaped.shortened or shaped.reshaped:
                undecodable += shaped.undecodable
                shortened += shaped.shortened
                reshaped += shaped.reshaped
            yield shaped
    finally:
        tally.records += records
        tally.undecodable += undecodable
        tally.shortened += shortened
        tally.reshaped += reshaped


def shape(item: Item, max_line: int, shaping: Shaping = DEFAULT) -> Shaped:
    """Turn a decoded item into its NDJSON line, at most ``max_line`` bytes long."""
    if isinstance(item, Record):
        line, reshaped = _record_line(item, shaping)
        if len(line) <= max_line:
            return Shaped(line, item.end, time=item.time, reshaped=reshaped)
        shortened = shorten(_parsed(line), len(line), max_line)
        return Shaped(shortened, item.end, shortened=True, time=item.time, reshaped=reshaped)
    value = _fragment_record(item, shaping)
    line = _dumps(value)
    if len(line) <= max_line:
        return Shaped(line, item.end, undecodable=True)
    return Shaped(shorten(value, len(line), max_line), item.end, undecodable=True, shortened=True)


def _record_line(record: Record, shaping: Shaping) -> tuple[bytes, bool]:
    """The line and whether the rules made it differ from the record (beyond ``@timestamp``, ``eventType`` and
    ``forwarder.region``/``datetime``)."""
    raw, time = record.raw, record.time
    if time is not None:
        if raw is None:
            raw = _dumps(record.value)  # a multi-line record: its compact bytes are what the line is made of
        if not record.wrapped:
            line = _spliced(raw, time, shaping, shaping.tail, rename=True)
            if line is not None:
                return line, False
        else:
            entry = _ENTRY_HEAD.match(raw)
            if entry is not None and raw.endswith(b"}}"):
                if shaping.unwrap:
                    tail = shaping.tail[:-2] + b"," if shaping.region is not None else b',"forwarder":{'
                    tail += b'"datetime":' + entry.group(1) + b"}}"
                    line = _spliced(raw[entry.end() - 1 : -1], time, shaping, tail, rename=True)
                else:
                    line = _spliced(raw, time, shaping, shaping.tail, rename=False)
                if line is not None:
                    return line, False
    return _parsed_line(record, shaping)


def _spliced(raw: bytes, time: str, shaping: Shaping, tail: bytes, *, rename: bool) -> bytes | None:
    """``raw`` with ``@timestamp`` spliced in front and ``tail`` at the end (and, reshaping, ``type`` renamed); None
    when the bytes cannot decide (the caller parses): a name shaping writes is there already, or (reshaping) a rule
    may be broken or the ``type`` is not where it can be renamed in place."""
    if len(raw) <= 2:  # {}
        return None
    cut = screen(raw)
    if cut == SHAPED or (shaping.reshape and (cut == BREAKS or (rename and cut == 0))):
        return None
    return _stamped(raw, time, cut if shaping.reshape and rename else 0, tail)


def _stamped(raw: bytes, stamp: str, cut: int, tail: bytes) -> bytes:
    """The line spliced from a record's bytes: ``@timestamp`` in front, ``tail`` at the end, and when ``cut`` > 0
    the ``type`` member that starts there (``,"type":"…"}``, found by the screen) renamed ``eventType``."""
    body = memoryview(raw)  # joined without copying the slices first
    head = b'{"@timestamp":' + orjson.dumps(stamp) + b","
    if cut <= 0:
        return b"".join((head, body[1:-1], tail))
    return b"".join((head, body[1:cut], b',"eventType":', body[cut + 8 : -1], tail))


# ----- parsed records ---------------------------------------------------------------------------------------------


def _parsed_line(record: Record, shaping: Shaping) -> tuple[bytes, bool]:
    raw = record.raw
    if not shaping.reshape and record.time is None and raw is not None and len(raw) > 2 and screen(raw) != SHAPED:
        return raw[:-1] + shaping.tail, False  # nothing to stamp: as decoded (and the region)
    value = record.value
    marker: dict[str, Any] = {} if shaping.region is None else {"region": shaping.region}
    root: tuple[str, ...] = ()
    if record.wrapped:
        if shaping.unwrap:
            if "datetime" in value:
                marker["datetime"] = value["datetime"]
            value = value["logContent"]
        else:
            root = ("logContent",)
    if not shaping.reshape:
        return _dumps(_as_before(value, record.time, marker)), False
    line, reshaped = _reshaped(value, record.time, marker, root)
    if not reshaped and record.raw is not None and not (record.wrapped and shaping.unwrap):
        spliced = _unchanged(record.raw, value, line["@timestamp"], shaping)
        if spliced is not None:
            return spliced, False
    return _dumps(line), reshaped


def _as_before(value: dict[str, Any], time: str | None, marker: dict[str, Any]) -> dict[str, Any]:
    """``reshape`` off: the record with ``@timestamp`` = its time, and the marker added to its ``forwarder``
    object (to none that is not an object: that would overwrite it)."""
    line = value if time is None else {"@timestamp": time, **{k: v for k, v in value.items() if k != "@timestamp"}}
    if marker:
        own = line.get(MARKER, {})
        if isinstance(own, dict):
            line = {**line, MARKER: {**marker, **own}}
    return line


def _reshaped(
    value: dict[str, Any], time: str | None, marker: dict[str, Any], root: tuple[str, ...]
) -> tuple[dict[str, Any], bool]:
    """The record as a line that keeps every rule: ``@timestamp`` first, ``type`` → ``eventType``, names the
    forwarder writes freed (the record's own ``forwarder`` becomes ``forwarder_1``…), then :class:`Reshaper`."""
    own = value.get("@timestamp")
    stamp = time if _usable(time) else own if _usable(own) else None
    if stamp is None:
        marker["timestampFrom"] = MARKER
        stamp = _now()
    reshaper = Reshaper(root)
    moves_type = "type" in value and not root
    top: dict[str, Any] = {"@timestamp": stamp}
    for key, child in value.items():
        if key == "@timestamp" and child == stamp:
            continue  # the same value as the line's own @timestamp
        if key == "type" and moves_type:
            name = TYPE_FIELD
        elif key in ("@timestamp", MARKER) or (key == TYPE_FIELD and moves_type):
            name = free_name(key, value, top)
            reshaper.notes.renamed.append({"from": pointer((key,)), "to": pointer((name,))})
        else:
            name = key
        top[name] = child
    try:
        line = reshaper.reshape(top)
    except Unfit:
        reshaper.notes = Notes(as_text=True)
        line = _as_text(value, top)
    marker.update(reshaper.notes.marker())
    if marker:
        line[MARKER] = marker
    return line, bool(reshaper.notes) or "timestampFrom" in marker


def _usable(time: Any) -> bool:
    """Whether a record's time can be its ``@timestamp`` (a string a field may hold)."""
    return isinstance(time, str) and len(time) <= SPLIT_CHARS


def _as_text(value: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """The last resort for a record that cannot keep the rules field by field: its identifying top-level values
    where they were, and the whole record as JSON text in ``message`` (split into parts)."""
    line: dict[str, Any] = {"@timestamp": top["@timestamp"]}
    for key in ("id", "time", TYPE_FIELD):
        kept = top.get(key)
        if isinstance(kept, str | int | float | bool) and len(str(kept)) <= POINTER_CHARS:
            line[key] = kept
    line["message"] = parts(compact(value))
    return line


def _unchanged(raw: bytes, value: dict[str, Any], stamp: str, shaping: Shaping) -> bytes | None:
    """A record the rules left as it was, spliced from its bytes like the hot path does (so the line is the same
    whichever path found it clean); None when its ``type`` is not its plain last member."""
    cut = screen(raw) if len(raw) > 2 else SHAPED
    if cut < 0 or ("type" in value and cut == 0):
        return None
    return _stamped(raw, stamp, cut if "type" in value else 0, shaping.tail)


def _now() -> str:
    """Now, in the audit records' own time format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parsed(line: bytes) -> dict[str, Any]:
    """A line this stage wrote, parsed back (exact: integers beyond 64 bits too)."""
    value, _ = parse_object(line)
    assert value is not None  # written by _dumps or spliced into a validated object
    return value


def _text_field(text: str) -> str | list[str]:
    """A text as one field value: itself, or its parts when it is longer than Logz.io indexes."""
    return text if len(text) <= SPLIT_CHARS else parts(text)


# ----- fragments and long lines -----------------------------------------------------------------------------------


def _fragment_record(fragment: Fragment, shaping: Shaping) -> dict[str, Any]:
    text = fragment.text.decode("utf-8", "replace")
    marker: dict[str, Any] = {} if shaping.region is None else {"region": shaping.region}
    marker.update(undecodable=True, reason=fragment.reason, offset=fragment.offset, line=fragment.line)
    if not shaping.reshape:
        return {"message": text, MARKER: marker}
    return {"@timestamp": _now(), "message": _text_field(text), MARKER: marker}


def _dumps(value: Any) -> bytes:
    """orjson, or the standard library for what orjson refuses (integers beyond 64 bits, very deep nesting)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def shorten(value: dict[str, Any], size: int, max_line: int) -> bytes:
    """Cut the longest string values until the line fits, and say so in the marker field.

    Picks one length cap for all strings (found by bisection over the strings' lengths) rather than trimming one
    value at a time, so a record with many large fields is handled in a few passes (each pass that still comes out
    too long asks for that much more).
    """
    paths: list[str] = []
    strings = sorted((len(s) for s in _strings(value)), reverse=True)
    overshoot = size - max_line + 512  # room for the marker and escapes
    for _ in range(8):
        cap = _cap_for(strings, overshoot)
        paths.clear()
        trimmed = _trim(value, cap, "", paths)
        existing = trimmed.get(MARKER)
        marker = existing if isinstance(existing, dict) else {}
        fields = [p if len(p) <= POINTER_CHARS else p[: POINTER_CHARS - 1] + "…" for p in paths[:50]]
        trimmed[MARKER] = {**marker, "truncated": True, "originalBytes": size, "fields": fields}
        line = _dumps(trimmed)
        if len(line) <= max_line:
            return line
        overshoot += len(line) - max_line + 512  # the marker and the cut marks of many strings took more
    text = _dumps(value)[: max_line // 2].decode("utf-8", "ignore")
    fallback: dict[str, Any] = {"message": _text_field(text), MARKER: {"truncated": True, "originalBytes": size}}
    if "@timestamp" in value:  # a record of countless small fields: keep its text, which shortens reliably
        fallback = {"@timestamp": value["@timestamp"], **fallback}
    fallback[MARKER]["fields"] = ["*"]
    return _dumps(fallback)


def _strings(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _cap_for(lengths: list[int], overshoot: int) -> int:
    """Largest cap such that cutting every string to it removes at least ``overshoot`` characters."""
    low, high = 0, lengths[0] if lengths else 0
    while low < high:
        mid = (low + high + 1) // 2
        if sum(n - mid for n in lengths if n > mid) >= overshoot:
            low = mid
        else:
            high = mid - 1
    return max(low, 64)


def _trim(node: Any, cap: int, path: str, paths: list[str]) -> Any:
    if isinstance(node, str):
        if len(node) > cap:
            paths.append(path or "(value)")
            return node[:cap] + _ELLIPSIS
        return node
    if isinstance(node, dict):
        return {k: _trim(v, cap, f"{path}.{k}" if path else k, paths) for k, v in node.items()}
    if isinstance(node, list):
        return [_trim(v, cap, f"{path}[{i}]", paths) for i, v in enumerate(node)]
    return node
