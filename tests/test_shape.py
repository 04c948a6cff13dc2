"""Stage 4 — shape: ``@timestamp`` from the event time, ``type`` → ``eventType``, both connector layouts, every line
within Logz.io's indexing rules with nothing lost, the region, long lines shortened, fragments wrapped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from logzio_forwarder.pipeline.decode import Fragment, Record, decode
from logzio_forwarder.pipeline.indexable import breaks
from logzio_forwarder.pipeline.shape import MARKER, Shaped, Shaping, Tally, shape, shaped_lines

BIG = 10**9
"""A line limit nothing in these tests reaches."""
TIME = "2026-11-01T09:53:12.345Z"
TYPE = "com.oraclecloud.ComputeApi.UpdateInstance"
OFF = Shaping(reshape=False)
FRANKFURT = Shaping(region="eu-frankfurt-1")


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
        "type": TYPE,
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
    value = json.loads(shaped.line)
    assert isinstance(value, dict)
    return value


def without(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in keys}


def shipped(record: dict[str, Any], time: str = TIME) -> dict[str, Any]:
    """What a record that breaks no rule becomes: ``@timestamp`` first, ``type`` renamed where it stood."""
    return {"@timestamp": time, **{("eventType" if k == "type" else k): v for k, v in record.items()}}


def valid(shaped: Shaped) -> dict[str, Any]:
    """The line, checked to keep every rule."""
    value = parsed(shaped)
    assert breaks(value) == [], breaks(value)
    return value


# --- @timestamp and the type ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_timestamp_first_and_the_type_renamed_where_it_stood(make: Any) -> None:
    record = audit()
    item = make(record)
    shaped = shape(item, BIG)
    value = valid(shaped)
    assert value == shipped(record)
    assert list(value) == list(shipped(record))  # field order kept too
    assert (shaped.end, shaped.time) == (item.end, TIME)
    assert (shaped.undecodable, shaped.shortened, shaped.reshaped) == (False, False, False)


def test_a_record_that_breaks_no_rule_is_its_own_bytes_but_for_timestamp_and_type() -> None:
    item = single_line(audit())
    assert item.raw is not None
    expected = b'{"@timestamp":"' + TIME.encode() + b'",' + item.raw[1:].replace(b'"type":', b'"eventType":')
    assert shape(item, BIG).line == expected


def test_the_region_is_in_every_line() -> None:
    item = single_line(audit())
    assert parsed(shape(item, BIG, FRANKFURT)) == {**shipped(audit()), MARKER: {"region": "eu-frankfurt-1"}}
    assert parsed(shape(item, BIG, Shaping(reshape=False, region="eu-frankfurt-1")))[MARKER] == {
        "region": "eu-frankfurt-1"
    }
    fragment = Fragment(b"not json", 0, 1, "not a JSON object", 8)
    assert parsed(shape(fragment, BIG, FRANKFURT))[MARKER]["region"] == "eu-frankfurt-1"
    assert MARKER not in parsed(shape(item, BIG))  # no region known (convert on a laptop): no forwarder object


@pytest.mark.parametrize("time", ["2026-11-01T09:53:12Z", "2026-11-01T11:53:12.123456+02:00", "not even a date"])
def test_time_value_is_copied_verbatim(time: str) -> None:
    assert parsed(shape(single_line(audit(time=time)), BIG))["@timestamp"] == time


@pytest.mark.parametrize("make", [single_line, multi_line])
@pytest.mark.parametrize("time", [None, 1730000000, {"nested": "x"}, "absent"])
def test_a_record_without_a_time_of_its_own_is_stamped_when_shaped(make: Any, time: Any) -> None:
    record = without(audit(), "time") if time == "absent" else audit(time=time)
    before = datetime.now(UTC) - timedelta(seconds=1)
    shaped = shape(make(record), BIG)
    value = valid(shaped)
    assert before <= datetime.fromisoformat(value.pop("@timestamp")) <= datetime.now(UTC)
    assert value.pop(MARKER) == {"timestampFrom": "forwarder"}
    assert value == without(shipped(record), "@timestamp")
    assert shaped.reshaped
    assert shaped.time is None  # no delivery lag is measured for it


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_the_records_own_timestamp_event_type_and_forwarder_are_kept_under_free_names(make: Any) -> None:
    record = {"@timestamp": "1999-01-01T00:00:00Z", **audit(eventType="mine", forwarder={"by": "someone"})}
    shaped = shape(make(record), BIG)
    value = valid(shaped)
    assert list(value)[:2] == ["@timestamp", "@timestamp_1"]
    assert (value["@timestamp"], value["@timestamp_1"]) == (TIME, "1999-01-01T00:00:00Z")
    assert (value["eventType"], value["eventType_1"], value["forwarder_1"]) == (TYPE, "mine", {"by": "someone"})
    assert value[MARKER]["renamed"] == [
        {"from": "/@timestamp", "to": "/@timestamp_1"},
        {"from": "/eventType", "to": "/eventType_1"},
        {"from": "/forwarder", "to": "/forwarder_1"},
    ]
    assert shaped.reshaped


def test_an_equal_existing_timestamp_is_not_repeated() -> None:
    value = valid(shape(single_line({**audit(), "@timestamp": TIME}), BIG))
    assert value == shipped(audit())


@pytest.mark.parametrize(
    "line",
    [
        b'{"time":"2026-11-01T00:00:00Z","type":"t"}',
        b'{ "a" : [1, {"b": "}{"}] , "time" : "2026-11-01T00:00:00Z", "type": "x" }',
        b'{"time":"t\\"quoted\\" \\u00e9","x":"\\n","type":"a\\"b"}',
        '{"ü":"日本","type":"t","time":"2026-11-01T00:00:00+09:00"}'.encode(),
        b'{"a.b":1,"time":"2026-11-01T00:00:00Z","type":"t"}',
    ],
)
def test_fast_path_splice_equals_the_slow_path(line: bytes) -> None:
    (fast,) = decode([line])
    assert isinstance(fast, Record)
    assert fast.raw is not None
    slow = Record(fast.value, None, fast.end)
    fast_value, slow_value = parsed(shape(fast, BIG, FRANKFURT)), parsed(shape(slow, BIG, FRANKFURT))
    assert fast_value == slow_value
    assert list(fast_value) == list(slow_value)
    assert fast_value["@timestamp"] == fast.value["time"]


def test_values_orjson_cannot_write_are_kept_exact() -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"d": deep}
    record = {"time": TIME, "big": 123456789012345678901234567890, "deep": deep}
    assert json.loads(shape(Record(record, None, 10), BIG, OFF).line) == {"@timestamp": TIME, **record}
    value = valid(shape(Record(record, None, 10), BIG))
    assert value["big"] == record["big"]
    level_ten: Any = value["deep"]
    for _ in range(8):
        level_ten = level_ten["d"]
    assert json.loads(level_ten["d"]) == deep_at(record["deep"], 9)
    assert value[MARKER]["stringified"] == ["/deep" + "/d" * 9]


def deep_at(node: Any, steps: int) -> Any:
    for _ in range(steps):
        node = node["d"]
    return node


def test_lone_surrogate_in_a_record_is_shipped_not_crashed_on() -> None:
    """json.loads accepts an escaped lone surrogate; the shaped line must still be valid UTF-8 JSON."""
    (item,) = decode([b'{"ua":"bad \\ud800 agent","time":"2026-11-01T00:00:00Z"}\n'])
    assert isinstance(item, Record)
    shaped = shape(item, BIG)
    shaped.line.decode("utf-8")  # strict: what goes on the wire is valid UTF-8
    assert json.loads(shaped.line) == {"@timestamp": "2026-11-01T00:00:00Z", **item.value}


# --- reshape off ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_reshape_off_ships_records_as_decoded(make: Any) -> None:
    record = audit(tags={"cost.center": "x"})
    value = parsed(shape(make(record), BIG, OFF))
    assert value == {"@timestamp": TIME, **record}
    assert next(iter(value)) == "@timestamp"


def test_reshape_off_ships_a_single_line_record_without_time_byte_for_byte() -> None:
    line = b'{ "id" : "x",  "n": 1.50, "u": "\\u00fc" }'
    (item,) = decode([line])
    assert isinstance(item, Record)
    assert shape(item, BIG, OFF).line == line


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_reshape_off_replaces_a_different_existing_timestamp_by_time(make: Any) -> None:
    record = {"@timestamp": "1999-01-01T00:00:00Z", **audit()}
    value = parsed(shape(make(record), BIG, OFF))
    assert next(iter(value)) == "@timestamp"
    assert value["@timestamp"] == TIME
    assert without(value, "@timestamp") == without(record, "@timestamp")


# --- the Logging entry layout --------------------------------------------------------------------------------------

MILLIS = 1_793_000_123_456
FROM_MILLIS = "2026-10-26T07:35:23.456Z"


def entry(record: dict[str, Any], millis: int = MILLIS) -> dict[str, Any]:
    return {"datetime": millis, "logContent": record}


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_a_logging_entry_is_shipped_as_its_inner_record(make: Any) -> None:
    item = make(entry(audit()))
    assert item.wrapped
    shaped = shape(item, BIG)
    value = valid(shaped)
    assert value == {**shipped(audit()), MARKER: {"datetime": MILLIS}}
    assert list(value) == [*shipped(audit()), MARKER]
    assert shaped.time == TIME
    assert not shaped.reshaped
    assert parsed(shape(item, BIG, FRANKFURT))[MARKER] == {"region": "eu-frankfurt-1", "datetime": MILLIS}


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_an_entry_without_an_inner_time_is_timed_by_its_datetime(make: Any) -> None:
    shaped = shape(make(entry(without(audit(), "time"))), BIG)
    value = valid(shaped)
    assert (value["@timestamp"], shaped.time) == (FROM_MILLIS, FROM_MILLIS)
    assert "time" not in value


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_unwrap_off_ships_the_entry_whole(make: Any) -> None:
    shaped = shape(make(entry(audit())), BIG, Shaping(unwrap=False))
    value = valid(shaped)
    assert value == {"@timestamp": TIME, **entry(audit())}  # the inner type is not the line's: it stays
    assert shaped.time == TIME


def test_an_object_with_more_than_an_entrys_members_is_a_record() -> None:
    item = single_line({**entry(audit()), "other": 1})
    assert not item.wrapped
    assert item.time is None


# --- the rules -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [single_line, multi_line])
def test_dots_in_names_become_underscores_without_overwriting_anything(make: Any) -> None:
    tags = {"cost.center": "a", "cost_center": "b", "app.kubernetes.io/name": "web"}
    record = audit()
    record["data"]["freeformTags"] = tags
    shaped = shape(make(record), BIG)
    value = valid(shaped)
    assert value["data"]["freeformTags"] == {"cost_center_1": "a", "cost_center": "b", "app_kubernetes_io/name": "web"}
    assert value[MARKER]["renamed"] == [
        {"from": "/data/freeformTags/cost.center", "to": "/data/freeformTags/cost_center_1"},
        {"from": "/data/freeformTags/app.kubernetes.io~1name", "to": "/data/freeformTags/app_kubernetes_io~1name"},
    ]
    assert shaped.reshaped
    assert without(value, MARKER, "data") == without(shipped(record), "data")


def nested(levels: int, leaf: Any = "bottom") -> Any:
    node = leaf
    for level in range(levels):
        node = {f"l{levels - level}": node}
    return node


def test_what_nests_too_deep_becomes_the_json_text_of_that_subtree() -> None:
    record = audit()
    record["data"]["stateChange"] = nested(12)  # data is level 2: stateChange 3, l1 … l12 at 4 … 15
    shaped = shape(single_line(record), BIG)
    value = valid(shaped)
    level_ten = value["data"]["stateChange"]["l1"]["l2"]["l3"]["l4"]["l5"]["l6"]["l7"]
    assert json.loads(level_ten["l8"]) == nested(12)["l1"]["l2"]["l3"]["l4"]["l5"]["l6"]["l7"]["l8"]
    assert value[MARKER]["stringified"] == ["/data/stateChange/l1/l2/l3/l4/l5/l6/l7/l8"]
    assert shaped.reshaped


def test_arrays_count_as_levels() -> None:
    record = audit(matrix=[[[[[[[[[["deep"]]]]]]]]]])  # the top object and ten arrays: eleven levels
    value = valid(shape(single_line(record), BIG))
    assert json.loads(value["matrix"][0][0][0][0][0][0][0][0][0]) == ["deep"]


def test_a_long_subtree_too_deep_is_stringified_one_level_up_and_split() -> None:
    record = audit(state=nested(10, "x" * 40_000))  # the string's container would be level 11
    value = valid(shape(single_line(record), BIG))
    at_ten = value["state"]["l1"]["l2"]["l3"]["l4"]["l5"]["l6"]["l7"]["l8"]
    assert isinstance(at_ten, list)
    assert json.loads("".join(at_ten)) == nested(10, "x" * 40_000)["l1"]["l2"]["l3"]["l4"]["l5"]["l6"]["l7"]["l8"]
    assert value[MARKER]["stringified"] == value[MARKER]["split"] == ["/state/l1/l2/l3/l4/l5/l6/l7/l8"]


def test_too_many_fields_turn_the_largest_subtree_that_identifies_nothing_into_text() -> None:
    record = audit()
    record["data"]["identity"].update({f"claim{i}": i for i in range(300)})  # large, but identifies the record
    record["data"]["stateChange"] = {"current": {f"tag{i}": i for i in range(600)}, "previous": {"a": 1}}
    record["data"]["additionalDetails"] = {f"detail{i}": i for i in range(200)}
    shaped = shape(single_line(record), BIG)
    value = valid(shaped)
    assert json.loads(value["data"]["stateChange"]) == record["data"]["stateChange"]
    assert value["data"]["additionalDetails"] == record["data"]["additionalDetails"]  # enough: left as it was
    assert value["data"]["identity"] == record["data"]["identity"]
    assert value[MARKER]["stringified"] == ["/data/stateChange"]


def test_a_value_longer_than_a_field_may_be_is_split_into_parts_that_join_back() -> None:
    user_data = "I2Nsb3VkLWNvbmZpZwo" * 4_000  # 76,000 characters of cloud-init
    record = audit()
    record["data"]["stateChange"] = {"current": {"metadata": {"user_data": user_data}}}
    shaped = shape(single_line(record), BIG)
    value = valid(shaped)
    parts = value["data"]["stateChange"]["current"]["metadata"]["user_data"]
    assert [len(p) for p in parts] == [32_700, 32_700, 10_600]
    assert "".join(parts) == user_data
    assert value[MARKER]["split"] == ["/data/stateChange/current/metadata/user_data"]
    assert shaped.reshaped


def test_a_name_longer_than_a_field_may_be_makes_its_object_text() -> None:
    record = audit(extra={"k" * 40_000: 1, "small": 2})
    value = valid(shape(single_line(record), BIG))
    assert json.loads("".join(value["extra"])) == record["extra"]
    assert value[MARKER]["stringified"] == ["/extra"]


def test_a_record_that_cannot_fit_field_by_field_is_shipped_as_text() -> None:
    record = audit(**{f"top{i}": i for i in range(1_200)})
    value = valid(shape(single_line(record), BIG))
    assert (value["id"], value["time"], value["eventType"]) == (record["id"], TIME, TYPE)
    assert json.loads("".join(value["message"])) == record
    assert value[MARKER] == {"asText": True}


def test_the_forwarder_object_lists_twenty_paths_of_each_kind_and_counts_the_rest() -> None:
    record = audit(tags={f"tag.{i:02d}": i for i in range(50)})
    value = valid(shape(single_line(record), BIG))
    assert len(value[MARKER]["renamed"]) == 20
    assert value[MARKER]["omitted"] == 30
    assert value["tags"] == {f"tag_{i:02d}": i for i in range(50)}


def test_a_record_that_breaks_every_rule_keeps_them_all() -> None:
    record = audit()
    record["data"]["freeformTags"] = {f"k8s.io/tag{i}": "v" for i in range(1_100)}
    record["data"]["stateChange"] = nested(14)
    record["data"]["additionalDetails"] = {"user_data": "x" * 70_000}
    record["@timestamp"] = "1999-01-01T00:00:00Z"
    shaped = shape(multi_line(record), BIG, FRANKFURT)
    value = valid(shaped)
    assert (value["@timestamp"], value["eventType"], value["id"]) == (TIME, TYPE, record["id"])
    assert value["data"]["identity"] == record["data"]["identity"]
    assert value[MARKER]["region"] == "eu-frankfurt-1"
    assert shaped.reshaped


def test_the_tally_counts_reshaped_records() -> None:
    dotted = audit(tags={"a.b": 1})
    items = decode([orjson.dumps(r) + b"\n" for r in (audit(), dotted, audit(), dotted)])
    tally = Tally()
    lines = list(shaped_lines(items, BIG, tally))
    assert (tally.records, tally.reshaped, tally.shortened, tally.undecodable) == (4, 2, 0, 0)
    assert [s.reshaped for s in lines] == [False, True, False, True]


# --- lines over the limit ----------------------------------------------------------------------------------------


def test_long_record_is_shortened_longest_strings_first_and_marked() -> None:
    record = audit()
    record["data"]["response"]["payload"] = {"big": "x" * 300_000, "medium": "m" * 150_000}
    record["data"]["small"] = "s" * 1000
    item = single_line(record)
    original = len(shape(item, BIG, OFF).line)
    assert original > 450_000

    shaped = shape(item, 400_000, OFF)
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


def test_a_reshaped_record_too_long_for_a_line_is_shortened_and_keeps_the_rules() -> None:
    record = audit()
    record["data"]["response"]["payload"] = {"big": "x" * 300_000, "medium": "m" * 150_000}
    shaped = shape(single_line(record), 400_000, FRANKFURT)
    assert (shaped.shortened, shaped.reshaped) == (True, True)
    assert len(shaped.line) <= 400_000
    value = valid(shaped)
    assert value[MARKER]["truncated"] is True
    assert value[MARKER]["split"] == ["/data/response/payload/big", "/data/response/payload/medium"]
    assert value[MARKER]["region"] == "eu-frankfurt-1"


@pytest.mark.parametrize("max_line", [500_000, 20_000, 2_000])
@pytest.mark.parametrize("shaping", [OFF, FRANKFURT], ids=["off", "on"])
def test_shortened_line_never_exceeds_the_limit(max_line: int, shaping: Shaping) -> None:
    record = audit()
    record["data"]["request"]["headers"]["Cookie"] = ['"quoted" \\ ü 日本 ' * 2_000 for _ in range(30)]
    record["data"]["stateChange"] = {"previous": {"k": "é" * 300_000}, "current": {"k": "\n" * 100_000}}
    shaped = shape(multi_line(record), max_line, shaping)
    assert shaped.shortened
    assert len(shaped.line) <= max_line
    assert parsed(shaped)[MARKER]["truncated"] is True


@pytest.mark.parametrize("max_line", [500_000, 20_000])
def test_shortened_record_names_the_cut_fields(max_line: int) -> None:
    record = audit()
    record["data"]["request"]["headers"]["Cookie"] = ['"quoted" \\ ü 日本 ' * 2_000 for _ in range(30)]
    record["data"]["stateChange"] = {"previous": {"k": "é" * 300_000}, "current": {"k": "\n" * 100_000}}
    shaped = shape(multi_line(record), max_line, OFF)
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
    shaped = shape(single_line(record), 10_000, OFF)
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
    value = valid(shaped)
    assert datetime.fromisoformat(value.pop("@timestamp")) > datetime.now(UTC) - timedelta(minutes=1)
    assert value == {
        "message": '{"b":"cut off',
        MARKER: {"undecodable": True, "reason": "unterminated string", "offset": 1234, "line": 17},
    }
    assert parsed(shape(fragment, BIG, OFF)) == value  # as before: no @timestamp


def test_fragment_with_invalid_utf8_becomes_valid_json() -> None:
    fragment = Fragment(b"caf\xe9 \xff\xfe ok", 0, 1, "not a JSON object", 10)
    shaped = shape(fragment, BIG)
    shaped.line.decode("utf-8")
    assert parsed(shaped)["message"] == "caf\ufffd \ufffd\ufffd ok"


def test_a_fragment_longer_than_a_field_may_be_is_split() -> None:
    text = b"garbage " * 10_000
    value = valid(shape(Fragment(text, 5, 2, "not a JSON object", 80_005), BIG))
    assert "".join(value["message"]) == text.decode()


def test_oversize_fragment_is_shortened_and_keeps_its_position() -> None:
    fragment = Fragment(b"garbage " * 10_000, 99, 3, "not a JSON object", 80_099)
    shaped = shape(fragment, 20_000, OFF)
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


@pytest.mark.parametrize("make", [single_line, multi_line])
@pytest.mark.parametrize("stamp", ["2026-11-01T09:53:12.345Z", 1.5, {"ms": 1}, True])
def test_an_entry_whose_datetime_is_not_epoch_milliseconds_is_a_record(make: Any, stamp: Any) -> None:
    item = make({"datetime": stamp, "logContent": audit()})
    assert not item.wrapped
    value = valid(shape(item, BIG))
    assert (value["datetime"], value["logContent"]) == (stamp, audit())
