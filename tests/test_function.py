"""The forwarder end to end: Object-Create events and requests through the real fdk socket, the real oci SDK
against the Object Storage stand-in, and the real shipper against the Logz.io listener stand-in.

Every test compares what the listener accepted with the source records, record by record (the same content plus
``@timestamp`` = ``time``, each exactly once), and after every test the shipping token must appear nowhere: not in
fdk's logs, not in an answer, not in the bucket (see ``integration_support.check_after_test``).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from standins.demo import connector_object
from standins.listener import Answer, LogzioListenerStandin
from standins.objectstorage import Fail, ObjectStorageStandin
from standins.principal import REGION
from standins.secrets import SecretsStandIn
from tests.conftest import TEST_TOKEN, FdkFactory, load_event
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    SMALL_CAP,
    Function,
    Seen,
    assert_each_once,
    compact,
    event_for,
    get_objects,
    gz,
    in_seconds,
    is_fragment,
    make_records,
    ndjson,
    put,
    requests_to,
    shipped_form,
)
from tests.support import closed_port

NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.test/20261101T095300Z_20261101T100000Z.0.log.gz"
BOM = b"\xef\xbb\xbf"


pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere, every request well formed


def forward(function: Function, objectstorage: ObjectStorageStandin, name: str, data: bytes) -> Any:
    """Store ``data`` as ``name``, invoke with its Object-Create event, expect 200 and return the JSON answer."""
    etag = put(objectstorage, name, data)
    answer = function.invoke(event_for(objectstorage, name, etag))
    assert answer.status == 200, answer.text
    return answer.json()


# ----- several objects --------------------------------------------------------------------------------------------


def test_several_objects_one_event_each(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, seen: Seen
) -> None:
    sources = {f"audit/obj-{i}.log.gz": make_records(f"several{i}", 10 + 5 * i) for i in range(3)}
    for name, records in sources.items():
        before = len(listener.accepted)
        summary = forward(function, objectstorage, name, connector_object(records))
        assert summary["object"] == name
        assert summary["status"] == "forwarded"
        assert (summary["records"], summary["undecodable"], summary["not_delivered"]) == (len(records), 0, 0)
        assert summary["batches"] > 1, "a small batch-max-bytes gives several batches"
        assert_each_once(listener.records[before:], records)
    assert_each_once(listener.records, [r for records in sources.values() for r in records])
    for accepted in listener.accepted:
        assert (accepted.type, accepted.invalid) == ("oci-audit", ())
    requests = listener.requests
    assert len(requests) == sum(answer.json()["requests"] for answer in seen.answers)
    for request in requests:
        assert request.status == 200
        assert request.token == TEST_TOKEN
        assert request.query.get("type") == "oci-audit"
        assert request.content_encoding == "gzip"
        assert request.user_agent is not None
        assert request.user_agent.startswith("oci-logzio-forwarder/")
        assert request.uncompressed_size is not None
        assert request.uncompressed_size <= SMALL_CAP
        assert request.compressed_size < request.uncompressed_size


def test_objects_request_forwards_each_named_object(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    first, second = make_records("replay-a", 9), make_records("replay-b", 14)
    put(objectstorage, "audit/a.log.gz", connector_object(first))
    put(objectstorage, "audit/b.log.gz", gz(ndjson(second)))
    answer = function.invoke({"objects": ["audit/a.log.gz", "audit/b.log.gz"]})
    assert answer.status == 200, answer.text
    result = answer.json()
    assert [(o["object"], o["status"], o["records"]) for o in result["objects"]] == [
        ("audit/a.log.gz", "forwarded", 9),
        ("audit/b.log.gz", "forwarded", 14),
    ]
    assert result["left"] == []
    assert result["totals"]["records"] == 23
    assert result["totals"]["not_delivered"] == 0
    assert_each_once(listener.records, first + second)
    # the objects are forwarded one after the other
    ids = [r["id"] for r in listener.records]
    assert max(ids.index(r["id"]) for r in first) < min(ids.index(r["id"]) for r in second)


def test_objects_not_started_before_the_deadline_are_named_with_the_request_that_finishes_them(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """Called with less time than the deadline margin, the function starts nothing, and says so: the objects are
    marked for catch-up (a marker that cannot be written changes nothing in the answer) and the message offers
    the request that forwards them now."""
    function = start_function(deadline_margin_seconds="60")
    first, second = make_records("late-a", 5), make_records("late-b", 6)
    put(objectstorage, "audit/a.log.gz", gz(ndjson(first)))
    put(objectstorage, "audit/b.log.gz", gz(ndjson(second)))
    objectstorage.inject(Fail(403, "NotAllowed", "injected"), "PutObject", "forwarder-state/.pending/audit/b.log.gz")
    request = {"objects": ["audit/a.log.gz", "audit/b.log.gz"]}
    answer = function.invoke(request, deadline=in_seconds(30))
    assert answer.status == 502, answer.text
    assert "not every object was forwarded; 2 objects were not started before the deadline. " in answer.text
    assert f"to finish now, invoke the function with {json.dumps(request)} (progress is kept" in answer.text
    assert listener.requests == []
    pending = objectstorage.names(objectstorage.namespace, BUCKET, "forwarder-state/.pending/")
    assert pending == ["forwarder-state/.pending/audit/a.log.gz"]

    again = function.invoke(request)  # with the agent's usual two minutes
    assert again.status == 200, again.text
    assert_each_once(listener.records, first + second)


# ----- tricky layouts ---------------------------------------------------------------------------------------------


def tricky_records(tag: str) -> list[dict[str, Any]]:
    """Twelve records, the first six with values that trip naive decoders."""
    records = make_records(tag, 12)
    records[0]["data"]["message"] = 'a "quoted" }{ brace pair, }{"id":"fake"} and a backslash \\ at the end\\'
    records[1]["data"]["identity"]["principalName"] = "Zoë Ångström — 東京 🚀 \u2028 \u00e9"
    records[2]["data"]["request"]["path"] = '/n/x/b/y/o/a"}{"b\\"}{'
    records[3]["data"]["response"]["payload"] = {
        "text": "line1\nline2\r\n\ttab {not a brace} [nor a list]",
        "nested": {"deep": [1, 2.5, -0.125, None, True, {"x": "}"}, []], "empty": {}},
        "empty": "",
    }
    records[4]["data"]["additionalDetails"] = {"u64max": 2**64 - 1, "i64min": -(2**63), "small": 1e-300}
    records[5]["data"]["stateChange"] = {"previous": {"k": "{}"}, "current": {"k": '"}'}}
    return records


def _joined(records: list[dict[str, Any]]) -> bytes:
    return ("".join(compact(r) for r in records) + "\n").encode()


def _pretty(records: list[dict[str, Any]], newline: str = "\n") -> str:
    return newline.join(json.dumps(r, indent=2).replace("\n", newline) for r in records)


def _members(data: bytes, parts: int = 3) -> bytes:
    """Several gzip members, cut at arbitrary byte positions (mid-record)."""
    cuts = [len(data) * i // parts for i in range(parts + 1)]
    return b"".join(gz(data[a:b]) for a, b in itertools.pairwise(cuts))


def _mixed(records: list[dict[str, Any]]) -> bytes:
    """One per line, a `}{`-joined run, a pretty-printed record: the connector's mix, uncompressed."""
    text = ndjson(records[:4]) + _joined(records[4:7]) + (_pretty(records[7:8]) + "\n").encode()
    return text + ndjson(records[8:])


LAYOUTS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "one-per-line": lambda rs: gz(ndjson(rs)),
    "all-joined-on-one-line": lambda rs: gz(_joined(rs)),
    "pretty-printed": lambda rs: gz((_pretty(rs) + "\n").encode()),
    "crlf": lambda rs: gz(("".join(compact(r) + "\r\n" for r in rs[:6]) + _pretty(rs[6:], "\r\n") + "\r\n").encode()),
    "bom": lambda rs: gz(BOM + ndjson(rs)),
    "bom-crlf-pretty-no-final-newline": lambda rs: gz(BOM + _pretty(rs, "\r\n").encode()),
    "raw-utf8": lambda rs: gz("".join(compact(r, ascii_only=False) + "\n" for r in rs).encode()),
    "no-trailing-newline": lambda rs: gz("\n".join(compact(r) for r in rs).encode()),
    "joined-no-trailing-newline": lambda rs: gz(_joined(rs).rstrip(b"\n")),
    "blank-lines-and-indentation": lambda rs: gz(
        ("\n\n" + "\n \t\n".join("  " + compact(r) + " " for r in rs) + "\n\n\n").encode()
    ),
    "several-gzip-members": lambda rs: _members(_mixed(rs)),
    "one-gzip-member-per-record": lambda rs: b"".join(gz(ndjson([r])) for r in rs),
    "plain-uncompressed": _mixed,
    "plain-uncompressed-raw-utf8-joined": lambda rs: "".join(compact(r, ascii_only=False) for r in rs).encode(),
    "connector-mix": connector_object,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_tricky_layouts_arrive_record_by_record(
    layout: str, function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = tricky_records(layout)
    summary = forward(function, objectstorage, f"audit/{layout}.log.gz", LAYOUTS[layout](records))
    assert (summary["records"], summary["undecodable"], summary["shortened"]) == (12, 0, 0), summary
    assert_each_once(listener.records, records)


@pytest.mark.parametrize(
    "numbers",
    [
        pytest.param({"huge": 2**70, "negative": -(2**65), "u64max_plus_1": 2**64}, id="twenty-digits-or-more"),
        pytest.param({"i64min_minus_1": -(2**63) - 1}, id="nineteen-digit-negative"),
    ],
)
def test_integers_beyond_64_bits_arrive_exact_in_a_multi_line_record(
    numbers: dict[str, int], function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    # small records: a digit run of 20 anywhere in the span (the demo records' ids have some) hides the bug
    records = [{"id": f"bigint-{i}", "time": f"2026-11-01T10:00:0{i}.000Z", "numbers": numbers} for i in range(3)]
    forward(function, objectstorage, NAME, gz((_pretty(records) + "\n").encode()))
    assert_each_once(listener.records, records)


# ----- undecodable and oversized records --------------------------------------------------------------------------


def test_garbage_is_shipped_as_its_own_record_and_counted(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP))
    records = make_records("garbage", 8)
    garbage = 'GARBAGE <not json> {"half": [1, 2 ünïcode'
    cut = '{"id":"cut-off","data":{"eventName":"Trunc'
    head = ndjson(records[:2])
    middle = ndjson(records[2:5])
    text = head + garbage.encode() + b"\n" + middle + cut.encode() + b"\n" + ndjson(records[5:])
    summary = forward(function, objectstorage, NAME, gz(text))
    assert (summary["records"], summary["undecodable"], summary["not_delivered"]) == (10, 2, 0)

    fragments = [r for r in listener.records if is_fragment(r)]
    assert_each_once([r for r in listener.records if not is_fragment(r)], records)
    for fragment in fragments:  # stamped with the time they were shipped, so Logz.io indexes them too
        assert datetime.fromisoformat(fragment.pop("@timestamp")) > datetime.now(UTC) - timedelta(minutes=5)
    assert sorted(fragments, key=lambda r: r["forwarder"]["line"]) == [
        {
            "message": garbage,
            "forwarder": {
                "region": REGION,
                "undecodable": True,
                "reason": "not a JSON object",
                "offset": len(head),
                "line": 3,
            },
        },
        {
            "message": cut,
            "forwarder": {
                "region": REGION,
                "undecodable": True,
                "reason": "unterminated string",
                "offset": len(head) + len(garbage.encode()) + 1 + len(middle),
                "line": 7,
            },
        },
    ]
    assert all(a.invalid == () for a in listener.accepted)
    function.stop()  # complete the logs
    logged = [line[line.index('{"summary"') :] for line in function.logs().splitlines() if '{"summary"' in line]
    summaries = [json.loads(line) for line in logged]
    assert [(s["summary"]["records"], s["summary"]["undecodable"]) for s in summaries] == [(10, 2)]


def test_a_record_over_500000_bytes_arrives_shortened_and_marked(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes="1000000")
    records = make_records("big", 5)
    records[2]["data"]["response"]["payload"] = {"blob": "x" * 600_000, "small": "kept"}
    summary = forward(function, objectstorage, NAME, gz(ndjson(records)))
    assert (summary["records"], summary["shortened"], summary["not_delivered"]) == (5, 1, 0)

    by_id = {r["id"]: r for r in listener.records}
    assert len(listener.records) == 5
    assert_each_once([r for r in listener.records if r["id"] != "big-00002"], records[:2] + records[3:])
    assert all(a.invalid == () for a in listener.accepted)
    big = by_id["big-00002"]
    raw = next(line for line in listener.lines if b'"big-00002"' in line)
    assert len(raw) <= 500_000
    marker = big.pop("forwarder")
    assert marker["truncated"] is True
    assert marker["originalBytes"] > 600_000
    assert marker["split"] == ["/data/response/payload/blob"]  # too long for one field: parts, then cut to fit
    assert all(field.startswith("data.response.payload.blob[") for field in marker["fields"])
    assert summary["reshaped"] == 1
    blob = big["data"]["response"]["payload"].pop("blob")
    assert all(part.startswith("x" * 1000) and len(part) <= 32_700 for part in blob)
    cut = [f"data.response.payload.blob[{i}]" for i, part in enumerate(blob) if part.endswith("…[truncated]")]
    assert cut == marker["fields"]
    assert 450_000 < sum(map(len, blob)) < 500_000
    expected = shipped_form(records[2])
    del expected["data"]["response"]["payload"]["blob"]
    del expected["forwarder"]
    assert big == expected


# ----- the listener misbehaves ------------------------------------------------------------------------------------


def test_transport_failures_are_retried_and_each_record_arrives_once(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("flaky", 20)
    listener.script(503, "drop", Answer(429, retry_after=1))
    summary = forward(function, objectstorage, NAME, gz(ndjson(records)))
    assert_each_once(listener.records, records)
    assert summary["retries"] == 3
    assert summary["requests"] == summary["batches"] + 3
    assert Counter(r.answer for r in listener.requests) == {
        "scripted:503": 1,
        "drop": 1,
        "scripted:429": 1,
        "normal": summary["batches"],
    }
    assert [r.status for r in listener.requests if r.answer == "drop"] == [None]


def test_a_listener_answer_slower_than_the_time_left_fails_the_invocation_in_time(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """The read timeout is bounded by the deadline: a hung listener cannot keep the function past it. (A timeout
    followed by a successful retry would need a read timeout below the time left, i.e. an invocation over 60 s.)"""
    function = start_function(deadline_margin_seconds="0.5")
    function.warm_up()
    records = make_records("slow", 3)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    listener.script("slow:60")
    answer = function.invoke(event_for(objectstorage, NAME, etag), deadline=in_seconds(3))
    assert answer.status == 502, answer.text
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{NAME}: 3 records not delivered" in answer.text
    assert "ReadTimeout" in answer.text
    assert listener.accepted == []


def test_413_is_split_until_the_listener_takes_it(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("split413", 12)
    listener.script(413)
    summary = forward(function, objectstorage, NAME, gz(ndjson(records)))
    assert_each_once(listener.records, records)
    assert summary["requests"] == summary["batches"] + 2
    assert [r.status for r in listener.requests].count(413) == 1


def test_a_listener_with_a_small_body_limit_gets_every_record_once(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, seen: Seen
) -> None:
    records = make_records("small-limit", 15)
    with LogzioListenerStandin(TEST_TOKEN, max_body=3500) as small:
        function = start_function(logzio_url=small.url, batch_max_bytes=str(SMALL_CAP))
        summary = forward(function, objectstorage, NAME, gz(ndjson(records)))
        assert_each_once(small.records, records)
        statuses = Counter(r.status for r in small.requests)
        assert statuses[413] >= 1
        assert statuses[200] > summary["batches"]
        assert set(statuses) == {200, 413}
        for request in small.requests:
            assert request.uncompressed_size is not None
            assert (request.status == 200) == (request.uncompressed_size <= 3500)
        assert summary["requests"] == len(small.requests)


def test_a_rejected_token_fails_with_a_clear_message_and_nothing_accepted(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    wrong = "tok-WRONG-77aa01"
    function = start_function(logzio_token=wrong)
    etag = put(objectstorage, NAME, gz(ndjson(make_records("wrongtoken", 12))))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert "rejected the shipping token" in answer.text
    assert "HTTP 401" in answer.text
    assert NAME in answer.text
    assert listener.accepted == []
    assert listener.requests
    assert {r.status for r in listener.requests} == {401}
    for text in (answer.text, function.final_logs()):
        assert wrong not in text


def _unreachable(start_function: StartFunction, objectstorage: ObjectStorageStandin, cap: int) -> str:
    """Forward 20 records to a closed loopback port with a 3 s deadline; the 502's text."""
    with closed_port() as port:
        function = start_function(
            logzio_url=f"http://127.0.0.1:{port}", deadline_margin_seconds="0.5", batch_max_bytes=str(cap)
        )
        function.warm_up()
        etag = put(objectstorage, NAME, gz(ndjson(make_records("unreachable", 20))))
        answer = function.invoke(event_for(objectstorage, NAME, etag), deadline=in_seconds(3))
    assert answer.status == 502, answer.text
    return answer.text


def test_an_unreachable_listener_fails_naming_the_object_and_the_records_not_delivered(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, seen: Seen
) -> None:
    text = _unreachable(start_function, objectstorage, 1_000_000)  # one batch
    seen.texts.append(text)
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{NAME}: 20 records not delivered" in text
    assert "(delivered through record 0)" in text
    assert "the invocation deadline is too near for another attempt" in text
    assert "ConnectionError" in text
    assert "token=[REDACTED]" in text  # requests' error text carries the URL; the token is scrubbed from it
    assert '{"objects": ["' + NAME + '"]}' in text


def test_an_unreachable_listener_counts_every_record_not_delivered_over_several_batches(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, seen: Seen
) -> None:
    text = _unreachable(start_function, objectstorage, SMALL_CAP)  # about five batches
    seen.texts.append(text)
    assert "(delivered through record 0)" in text
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{NAME}: 20 records not delivered" in text


# ----- requests that are not for us -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"this is not JSON {", "the request body is not JSON"),
        (b"", "the request body is empty"),
        (json.dumps([load_event()]).encode(), "the request body is JSON list, not an object"),
        (b'{"hello": "world"}', "the request has none of eventType, objects, replay"),
    ],
    ids=["not-json", "empty", "json-array", "unknown-shape"],
)
def test_a_malformed_request_fails_saying_what_was_expected(
    body: bytes,
    says: str,
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    put(objectstorage, load_event()["data"]["resourceName"], gz(ndjson(make_records("untouched", 2))))
    answer = function.invoke(body)
    assert answer.status == 502
    assert says in answer.text
    assert 'expected an OCI Events "com.oraclecloud.objectstorage.createobject" event' in answer.text
    assert '{"objects": ["<object name>", ...]}' in answer.text
    assert '{"replay": {"prefix": "<prefix>"}}' in answer.text
    assert objectstorage.requests == []
    assert listener.requests == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (load_event("createobject-other-bucket"), "is in bucket 'other_bucket', not input-bucket"),
        (load_event("deleteobject"), "event type 'com.oraclecloud.objectstorage.deleteobject' is not"),
        (load_event("createobject-outside-prefix"), "is outside input-prefix 'audit'"),
        (load_event(name="forwarder-state/audit/a.log.gz.json"), "one of the forwarder's own progress objects"),
    ],
    ids=["other-bucket", "delete-event", "outside-prefix", "state-object"],
)
def test_an_event_not_for_us_is_ignored_with_a_reason(
    event: dict[str, Any],
    reason: str,
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    name = event["data"]["resourceName"]
    objectstorage.create_bucket("other_bucket")
    objectstorage.put(objectstorage.namespace, event["data"]["additionalDetails"]["bucketName"], name, b'{"a": 1}\n')
    answer = function.invoke(event)
    assert answer.status == 200, answer.text
    result = answer.json()
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert get_objects(objectstorage) == []
    assert objectstorage.requests == []
    assert listener.requests == []


def test_a_missing_object_fails_naming_it(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    missing = "audit/gone.log.gz"
    answer = function.invoke(event_for(objectstorage, missing, "etag-of-a-deleted-object"))
    assert answer.status == 502
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{missing}" in answer.text
    assert "ObjectNotFound" in answer.text
    assert listener.requests == []


# ----- damaged and interrupted objects ----------------------------------------------------------------------------


def test_a_truncated_gzip_delivers_the_records_before_the_damage_then_fails(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("truncated", 40)
    whole = gz(ndjson(records))
    damaged = whole[: len(whole) * 2 // 3]
    etag = put(objectstorage, NAME, damaged)
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{NAME}" in answer.text
    assert "truncated" in answer.text

    good = [r for r in listener.records if not is_fragment(r)]
    fragments = [r for r in listener.records if is_fragment(r)]
    assert 0 < len(good) < len(records)
    assert_each_once(good, records[: len(good)])  # exactly the records before the damage
    assert len(fragments) <= 1  # the record the damage cut in two, kept as text
    for fragment in fragments:
        assert compact(records[len(good)]).startswith(fragment["message"])
        assert fragment["forwarder"]["undecodable"] is True


def test_a_download_dropped_mid_stream_is_resumed_and_each_record_arrives_once(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes="1000000")
    records = make_records("resumed", 900)
    for record in records:  # incompressible values, so the object is over one 1 MiB read
        record["data"]["response"]["payload"] = {"noise": _noise(1536)}
    data = gz(ndjson(records))
    assert len(data) > 1_400_000
    objectstorage.truncate_next_get(1_200_000, name_contains="resumed")
    summary = forward(function, objectstorage, "audit/resumed.log.gz", data)
    assert (summary["records"], summary["not_delivered"]) == (900, 0)
    assert_each_once(listener.records, records)
    gets = requests_to(objectstorage, "GetObject", "audit/resumed.log.gz")
    assert len(gets) == 2
    etag = objectstorage.stat(objectstorage.namespace, BUCKET, "audit/resumed.log.gz").etag
    assert gets[1].headers.get("if-match") == etag
    assert gets[1].headers.get("range", "").startswith("bytes=")
    assert gets[1].headers["range"] != "bytes=0-"


def _noise(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


# ----- configuration errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ({"input-bucket": None}, "input-bucket", "is required and not set"),
        ({"logzio-url": "ftp://listener.logz.io:8071"}, "logzio-url", "is not an http(s) URL"),
        ({"logzio-url": "http://listener-eu.logz.io:8070"}, "logzio-url", "plain http"),
        ({"logzio-url": "listener.logz.io:port"}, "logzio-url", "invalid port"),
    ],
    ids=["missing-input-bucket", "ftp-url", "plain-http-url", "bad-port"],
)
def test_a_config_error_fails_naming_the_key(
    case: tuple[dict[str, str | None], str, str],
    start_function: StartFunction,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    overrides, key, says = case
    function = start_function(overrides)
    etag = put(objectstorage, NAME, gz(ndjson(make_records("config", 2))))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert f"config key {key!r}" in answer.text
    assert says in answer.text
    assert objectstorage.requests == []
    assert listener.requests == []


def test_without_a_resource_principal_the_answer_says_what_is_missing(
    fdk_function: FdkFactory, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, seen: Seen
) -> None:
    """Run outside OCI Functions (or with the principal's variables lost), the function names what it lacks."""
    function = Function(fdk_function(principal_env=False), seen)
    etag = put(objectstorage, NAME, gz(ndjson(make_records("no-principal", 2))))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert "no resource principal available (" in answer.text
    assert "is this running as an OCI Function with a dynamic group and policy that let it read the bucket?" in (
        answer.text
    )
    assert objectstorage.requests == []
    assert listener.requests == []


# ----- damage costs only the damaged record -----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["torn-line", "stray-brace"])
def test_damage_costs_exactly_the_damaged_record(
    damage: str, function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records(f"damage-{damage}", 8)
    for record in records:  # like user agents and request parameters, every record has "}{" inside a string
        record["data"]["request"]["parameters"] = {"filter": ['{"a":1}{"b":2}']}
    texts = [compact(r) for r in records]
    if damage == "torn-line":
        middle = len(texts[3]) // 2
        broken = texts[3][:middle] + "\nGARBAGE\n" + texts[3][middle:]
    else:
        broken = texts[3].replace('"data":{', '"data":{{', 1)
    text = "\n".join(texts[:3]) + "\n" + broken + texts[4] + "\n" + "\n".join(texts[5:]) + "\n"
    summary = forward(function, objectstorage, f"audit/{damage}.log.gz", gz(text.encode()))
    assert (summary["records"], summary["undecodable"], summary["not_delivered"]) == (8, 1, 0), summary
    assert_each_once([r for r in listener.records if not is_fragment(r)], records[:3] + records[4:])
    (fragment,) = [r for r in listener.records if is_fragment(r)]
    assert fragment["message"] == broken  # the damaged record, as its raw text
    assert fragment["forwarder"]["offset"] == text.index(broken)


# ----- the token from OCI Vault -----------------------------------------------------------------------------------


def test_a_token_kept_in_a_vault_secret_is_read_through_the_resource_principal_and_shipped_with(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    secret_id = "ocid1.vaultsecret.oc1.eu-amsterdam-1.amaaaaaafunctionsecret"
    with SecretsStandIn({secret_id: TEST_TOKEN}) as secrets:
        function = start_function(
            {"logzio-token": None, "logzio-token-secret-id": secret_id, "secrets-endpoint": secrets.endpoint}
        )
        records = make_records("vault", 12)
        summary = forward(function, objectstorage, NAME, connector_object(records))
    assert (summary["status"], summary["records"], summary["not_delivered"]) == ("forwarded", 12, 0)
    assert secrets.requests == [f"/20190301/secretbundles/{secret_id}"]
    assert {request.token for request in listener.requests} == {TEST_TOKEN}
    assert_each_once(listener.records, records)
