"""Stage 4 — shape: @timestamp from ``time``, nothing else changed, long lines shortened, fragments wrapped."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from logzio_forwarder.pipeline.decode import Fragment, Record, decode
from logzio_forwarder.pipeline.shape import MARKER, Shaped, shape

BIG = 10**9
"""A line limit nothing in these tests reaches."""
TIME = "2026-11-01T09:53:12.345Z"


def audit(**extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "data": {
            "eventName": "UpdateInstance",
            "identity": {"principalName": "jdoe@example.com", "ipAddress": "192.0.2.7"},
            "request": {"action": "PUT", "headers": {"User-Agent": ['Oracle-JavaSDK/3 "quoted" ü']}},
            "response": {"status": "200", "payload": {"resourceName": "vm-ü-日本"}},
        },
        "dataschema": "2.0",
        "id": "5b1a4f0e-0000-4000-8000-000000000001",
        "oracle": {"compartmentid": "ocid1.compartment.oc1..x", "loggroupid": "_Audit"},
        "source": "vm-1",
        "specversion": "1.0",
        "time": TIME,
        "type": "com.oraclecloud.ComputeApi.UpdateInstance",
    }
    record.update(extra)
    return record


def single_line(record: dict[str, Any]) -> Record:
    """A record as the decoder's fast path gives it: with its raw line."""
    line = orjson.dumps(record)
    (item,) = decode([line + b"\n"])
    assert isinstance(item, Record)
    assert item.raw == line
    return item


def multi_line(record: dict[str, Any]) -> Record:
    """A record as the scanner gives it from a pretty-printed source: no raw bytes."""
    (item,) = decode([json.dumps(record, indent=2, ensure_ascii=False).encode()])
    assert isinstance(item, Record)
    assert item.raw is None
    return item


def parsed(shaped: Shaped) -> dict[str, Any]:
    assert b"\n" not in shaped.line
    value = orjson.loads(shaped.line)
    assert isinstance(value, dict)
    return value


def without(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in keys}


# --- @timestamp --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_timestamp_is_time_unchanged_and_first(make: Any) -> None:
    record = audit()
    item = make(record)
    shaped = shape(item, BIG)
    value = parsed(shaped)
    assert next(iter(value)) == "@timestamp"
    assert value["@timestamp"] == TIME
    assert without(value, "@timestamp") == record
    assert list(without(value, "@timestamp")) == list(record)  # field order kept too
    assert shaped.end == item.end
    assert not shaped.undecodable
    assert not shaped.shortened


@pytest.mark.parametrize("time", ["2026-11-01T09:53:12Z", "2026-11-01T11:53:12.123456+02:00", "not even a date"])
def test_time_value_is_copied_verbatim(time: str) -> None:
    assert parsed(shape(single_line(audit(time=time)), BIG))["@timestamp"] == time


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_records_without_time_are_unchanged(make: Any) -> None:
    record = without(audit(), "time")
    value = parsed(shape(make(record), BIG))
    assert value == record
    assert "@timestamp" not in value


def test_single_line_record_without_time_is_shipped_byte_for_byte() -> None:
    line = b'{ "id" : "x",  "n": 1.50, "u": "\\u00fc" }'
    (item,) = decode([line])
    assert isinstance(item, Record)
    assert shape(item, BIG).line == line


@pytest.mark.parametrize("time", [None, 1730000000, {"nested": "x"}])
def test_non_string_time_adds_no_timestamp(time: Any) -> None:
    record = audit(time=time)
    value = parsed(shape(single_line(record), BIG))
    assert value == record


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_a_different_existing_timestamp_is_replaced_by_time(make: Any) -> None:
    record = {"@timestamp": "1999-01-01T00:00:00Z", **audit()}
    value = parsed(shape(make(record), BIG))
    assert next(iter(value)) == "@timestamp"
    assert value["@timestamp"] == TIME
    assert without(value, "@timestamp") == without(record, "@timestamp")


def test_an_equal_existing_timestamp_leaves_the_line_untouched() -> None:
    record = {**audit(), "@timestamp": TIME}
    item = single_line(record)
    assert shape(item, BIG).line == item.raw


@pytest.mark.parametrize(
    "line",
    [
        b'{"time":"2026-11-01T00:00:00Z"}',
        b'{ "a" : [1, {"b": "}{"}] , "time" : "2026-11-01T00:00:00Z" }',
        b'{"time":"t\\"quoted\\" \\u00e9","x":"\\n"}',
        '{"ü":"日本","time":"2026-11-01T00:00:00+09:00"}'.encode(),
    ],
)
def test_fast_path_splice_equals_the_slow_path(line: bytes) -> None:
    (fast,) = decode([line])
    assert isinstance(fast, Record)
    assert fast.raw is not None
    slow = Record(fast.value, None, fast.end)
    fast_value, slow_value = parsed(shape(fast, BIG)), parsed(shape(slow, BIG))
    assert fast_value == slow_value
    assert list(fast_value) == list(slow_value)
    assert fast_value["@timestamp"] == fast.value["time"]


def test_values_orjson_cannot_write_are_kept_exact() -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"d": deep}
    record = {"time": TIME, "big": 123456789012345678901234567890, "deep": deep}
    value = json.loads(shape(Record(record, None, 10), BIG).line)
    assert value == {"@timestamp": TIME, **record}


def test_lone_surrogate_in_a_record_is_shipped_not_crashed_on() -> None:
    """json.loads accepts an escaped lone surrogate; the shaped line must still be valid UTF-8 JSON."""
    (item,) = decode([b'{"ua":"bad \\ud800 agent","time":"2026-11-01T00:00:00Z"}\n'])
    assert isinstance(item, Record)
    shaped = shape(item, BIG)
    shaped.line.decode("utf-8")  # strict: what goes on the wire is valid UTF-8
    assert json.loads(shaped.line) == {"@timestamp": "2026-11-01T00:00:00Z", **item.value}


# --- lines over the limit ----------------------------------------------------------------------------------------


def test_long_record_is_shortened_longest_strings_first_and_marked() -> None:
    record = audit()
    record["data"]["response"]["payload"] = {"big": "x" * 300_000, "medium": "m" * 150_000}
    record["data"]["small"] = "s" * 1000
    item = single_line(record)
    original = len(shape(item, BIG).line)
    assert original > 450_000

    shaped = shape(item, 400_000)
    assert shaped.shortened
    assert len(shaped.line) <= 400_000
    value = parsed(shaped)
    assert value["@timestamp"] == TIME
    assert value[MARKER] == {"truncated": True, "originalBytes": original, "fields": ["data.response.payload.big"]}
    big = value["data"]["response"]["payload"]["big"]
    assert big.startswith("x" * 1000)
    assert "truncated" in big
    assert len(big) < 300_000
    assert value["data"]["response"]["payload"]["medium"] == "m" * 150_000
    assert value["data"]["small"] == "s" * 1000
    assert without(value, "@timestamp", MARKER, "data") == without(record, "data")


@pytest.mark.parametrize("max_line", [500_000, 20_000, 2_000])
def test_shortened_line_never_exceeds_the_limit(max_line: int) -> None:
    record = audit()
    record["data"]["request"]["headers"]["Cookie"] = ['"quoted" \\ ü 日本 ' * 2_000 for _ in range(30)]
    record["data"]["stateChange"] = {"previous": {"k": "é" * 300_000}, "current": {"k": "\n" * 100_000}}
    shaped = shape(multi_line(record), max_line)
    assert shaped.shortened
    assert len(shaped.line) <= max_line
    assert parsed(shaped)[MARKER]["truncated"] is True


@pytest.mark.parametrize("max_line", [500_000, 20_000])
def test_shortened_record_names_the_cut_fields(max_line: int) -> None:
    record = audit()
    record["data"]["request"]["headers"]["Cookie"] = ['"quoted" \\ ü 日本 ' * 2_000 for _ in range(30)]
    record["data"]["stateChange"] = {"previous": {"k": "é" * 300_000}, "current": {"k": "\n" * 100_000}}
    shaped = shape(multi_line(record), max_line)
    assert shaped.shortened
    assert len(shaped.line) <= max_line
    value = parsed(shaped)
    assert value[MARKER]["truncated"] is True
    assert "data.stateChange.previous.k" in value[MARKER]["fields"]
    assert "data.request.headers.Cookie[0]" in value[MARKER]["fields"]
    assert value["id"] == record["id"]
    assert value["@timestamp"] == TIME


def test_lines_at_the_limit_are_not_touched() -> None:
    record = {"time": TIME, "pad": ""}
    size = len(shape(single_line(record), BIG).line)
    record["pad"] = "p" * (5_000 - size)
    item = single_line(record)
    shaped = shape(item, 5_000)
    assert len(shaped.line) == 5_000
    assert not shaped.shortened
    assert MARKER not in parsed(shaped)


def test_record_of_countless_small_fields_is_kept_as_text() -> None:
    record = {"time": TIME, **{f"field{i:05d}": f"v{i}" for i in range(3_000)}}
    shaped = shape(single_line(record), 10_000)
    assert shaped.shortened
    assert len(shaped.line) <= 10_000
    value = parsed(shaped)
    assert value[MARKER]["truncated"] is True
    assert value["message"].startswith('{"@timestamp":"' + TIME + '","time"')


# --- fragments ---------------------------------------------------------------------------------------------------


def test_fragment_becomes_a_message_record_that_says_where_it_was() -> None:
    fragment = Fragment(b'{"b":"cut off', 1234, 17, "unterminated string", 1247)
    shaped = shape(fragment, BIG)
    assert shaped.undecodable
    assert not shaped.shortened
    assert shaped.end == 1247
    assert parsed(shaped) == {
        "message": '{"b":"cut off',
        MARKER: {"undecodable": True, "reason": "unterminated string", "offset": 1234, "line": 17},
    }


def test_fragment_with_invalid_utf8_becomes_valid_json() -> None:
    fragment = Fragment(b"caf\xe9 \xff\xfe ok", 0, 1, "not a JSON object", 10)
    shaped = shape(fragment, BIG)
    shaped.line.decode("utf-8")
    assert parsed(shaped)["message"] == "caf\ufffd \ufffd\ufffd ok"


def test_oversize_fragment_is_shortened_and_keeps_its_position() -> None:
    fragment = Fragment(b"garbage " * 10_000, 99, 3, "not a JSON object", 80_099)
    shaped = shape(fragment, 20_000)
    assert shaped.undecodable
    assert shaped.shortened
    assert len(shaped.line) <= 20_000
    value = parsed(shaped)
    assert value["message"].startswith("garbage garbage")
    assert value[MARKER]["undecodable"] is True
    assert (value[MARKER]["reason"], value[MARKER]["offset"], value[MARKER]["line"]) == ("not a JSON object", 99, 3)
    assert value[MARKER]["truncated"] is True
    assert value[MARKER]["fields"] == ["message"]
    assert value[MARKER]["originalBytes"] > 80_000
