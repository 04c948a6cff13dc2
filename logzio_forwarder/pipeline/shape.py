"""Stage 4 — shape: one decoded item into one NDJSON line as Logz.io wants it.

* ``@timestamp`` is set to the record's ``time`` (the audit event time, unchanged), so Logz.io files the event
  when it happened rather than when it was shipped. Nothing else in the record changes.
* A line longer than the listener's 500,000-byte limit is shortened, longest string values first, and marked, so
  the record is indexed rather than rejected.
* An undecodable fragment becomes ``{"message": <its text>, "forwarder": {"undecodable": true, ...}}``.

When the decoder kept a record's raw single-line bytes, the timestamp is spliced in front of them instead of
re-serialising the whole record: the single biggest saving on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from .decode import Fragment, Item, Record

MARKER = "forwarder"
"""Top-level field this tool adds for what it had to do to a record (no dots: Logz.io indexes dotted names badly)."""
_ELLIPSIS = "…[truncated]"


@dataclass(slots=True)
class Shaped:
    """One line ready for the body (without its newline) and what shaping had to do to it."""

    line: bytes
    end: int
    undecodable: bool = False
    shortened: bool = False
    time: str | None = None
    """The record's own ``time`` (None for fragments and records without one): the batch keeps the oldest, so
    the delivery lag can be measured when the listener acknowledges it."""


@dataclass(slots=True)
class Tally:
    """What shaping did, for the summary."""

    records: int = 0
    undecodable: int = 0
    shortened: int = 0


def shaped_lines(items: Iterable[Item], max_line: int, tally: Tally) -> Generator[Shaped, None, None]:
    """Stage 4 over a stream: every item shaped, in order, counted into ``tally`` (even if abandoned early)."""
    records = undecodable = shortened = 0
    try:
        for item in items:
            shaped = shape(item, max_line)
            records += 1
            if shaped.undecodable or shaped.shortened:
                undecodable += shaped.undecodable
                shortened += shaped.shortened
            yield shaped
    finally:
        tally.records += records
        tally.undecodable += undecodable
        tally.shortened += shortened


def shape(item: Item, max_line: int) -> Shaped:
    """Turn a decoded item into its NDJSON line, at most ``max_line`` bytes long."""
    if isinstance(item, Record):
        line = _record_line(item)
        if len(line) <= max_line:
            return Shaped(line, item.end, time=item.time)
        shortened = shorten(_with_timestamp(item.value), len(line), max_line)
        return Shaped(shortened, item.end, shortened=True, time=item.time)
    value = _fragment_record(item)
    line = _dumps(value)
    if len(line) <= max_line:
        return Shaped(line, item.end, undecodable=True)
    return Shaped(shorten(value, len(line), max_line), item.end, undecodable=True, shortened=True)


def _with_timestamp(value: dict[str, Any]) -> dict[str, Any]:
    time = value.get("time")
    if not isinstance(time, str) or value.get("@timestamp") == time:
        return value
    return {"@timestamp": time, **{k: v for k, v in value.items() if k != "@timestamp"}}


def _record_line(record: Record) -> bytes:
    raw, time = record.raw, record.time
    if raw is not None:
        if time is not None and not record.stamped:  # the hot path: splice {"@timestamp":"…",<the rest>
            return b'{"@timestamp":' + orjson.dumps(time) + b"," + raw[1:]
        if time is None or record.value.get("@timestamp") == time:
            return raw
    return _dumps(_with_timestamp(record.value))


def _fragment_record(fragment: Fragment) -> dict[str, Any]:
    return {
        "message": fragment.text.decode("utf-8", "replace"),
        MARKER: {
            "undecodable": True,
            "reason": fragment.reason,
            "offset": fragment.offset,
            "line": fragment.line,
        },
    }


def _dumps(value: Any) -> bytes:
    """orjson, or the standard library for what orjson refuses (integers beyond 64 bits, very deep nesting)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def shorten(value: dict[str, Any], size: int, max_line: int) -> bytes:
    """Cut the longest string values until the line fits, and say so in the marker field.

    Picks one length cap for all strings (found by bisection over the strings' lengths) rather than trimming one
    value at a time, so a record with many large fields is handled in a few passes.
    """
    paths: list[str] = []
    strings = sorted((len(s) for s in _strings(value)), reverse=True)
    overshoot = size - max_line + 512  # room for the marker and escapes
    cap = _cap_for(strings, overshoot)
    for _ in range(8):
        paths.clear()
        trimmed = _trim(value, cap, "", paths)
        existing = trimmed.get(MARKER)
        marker = existing if isinstance(existing, dict) else {}
        trimmed[MARKER] = {**marker, "truncated": True, "originalBytes": size, "fields": paths[:50]}
        line = _dumps(trimmed)
        if len(line) <= max_line:
            return line
        cap //= 2
    return _dumps(  # a record of countless small fields: keep its text, which shortens reliably
        {
            "message": _dumps(value)[: max_line // 2].decode("utf-8", "ignore"),
            MARKER: {"truncated": True, "originalBytes": size, "fields": ["*"]},
        }
    )


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
