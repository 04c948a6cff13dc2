"""Indexed as audit records in Logz.io, end to end through the real fdk socket: records that break each of
Logz.io's indexing rules arrive whole and valid, filed under ``logzio-type`` (the listener stand-in files lines as
Logz.io does); objects in the Logging entry layout arrive with their own time and a measured delivery lag; every
line and every metric says the function's region."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logzio_forwarder.pipeline.decode import Record, decode
from standins.demo import SAMPLE, entry_object
from standins.fdkserver import FdkServer
from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import ObjectStorageStandin
from standins.principal import REGION, Principal
from tests.conftest import FunctionEnv
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    Function,
    Seen,
    assert_delivery_lag,
    assert_each_once,
    forwarded,
    gz,
    make_records,
    ndjson,
    recent_records,
    shipped_form,
)

NAME = "audit/ocid1.serviceconnector.oc1.eu-frankfurt-1.idx/20261101T095300Z_20261101T100000Z.0.log.gz"
FRANKFURT = "eu-frankfurt-1"

pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere, every request well formed


def forward(function: Function, objectstorage: ObjectStorageStandin, data: bytes) -> Any:
    return forwarded(function, objectstorage, NAME, data)


def nested(levels: int) -> Any:
    node: Any = {"lifecycleState": "ACTIVE"}
    for level in range(levels):
        node = {"routes": [node]} if level % 2 else {f"stage{level}": node}
    return node


def breaking(tag: str) -> dict[str, dict[str, Any]]:
    """Audit records that each break one rule, and one that breaks them all, by the rule's name."""
    records = make_records(tag, 6)
    dotted, deep, wide, long, named, everything = records
    dotted["data"]["freeformTags"] = {"cost.center": "42", "app.kubernetes.io/name": "web", "cost_center": "x"}
    deep["data"]["stateChange"] = {"current": nested(12), "previous": None}  # an API gateway deployment
    wide["data"]["definedTags"] = {"Operations": {f"Tag{i}": str(i) for i in range(1_100)}}
    long["data"]["stateChange"] = {"current": {"metadata": {"user_data": "I2Nsb3VkLWNvbmZpZwo=" * 4_000}}}
    named["data"]["additionalDetails"] = {"x" * 33_000: "a name longer than a field may be"}
    everything["data"]["freeformTags"] = {f"k8s.io/tag{i}": "v" for i in range(1_100)}
    everything["data"]["stateChange"] = {"current": nested(14), "user_data": "A" * 80_000}
    everything["data"]["additionalDetails"] = {"cost.center": "42"}
    names = ("dotted", "deep", "wide", "long", "named", "everything")
    return dict(zip(names, records, strict=True))


def test_records_that_break_each_rule_arrive_whole_valid_and_filed_under_the_configured_type(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    # the default batch-max-bytes (lines up to 500,000 bytes, nothing shortened), and a type of the user's choosing
    function = start_function(logzio_type="audit-trail")
    records = breaking("rules")
    clean = make_records("rules-clean", 4)
    summary = forward(function, objectstorage, gz(ndjson([*records.values(), *clean])))
    assert (summary["records"], summary["reshaped"], summary["not_delivered"]) == (10, 6, 0)

    assert len(listener.accepted) == 10
    for accepted in listener.accepted:
        assert (accepted.type, accepted.invalid) == ("audit-trail", ()), accepted.record.get("id")
    assert {r.query["type"] for r in listener.requests} == {"audit-trail"}
    by_id = {r["id"]: r for r in listener.records}
    assert_each_once([by_id[r["id"]] for r in clean], clean)
    for name, record in records.items():
        line = by_id[record["id"]]
        assert line["@timestamp"] == record["time"], name
        assert (line["eventType"], line["data"]["eventName"]) == (record["type"], record["data"]["eventName"])
        assert line["data"]["identity"] == record["data"]["identity"]
        assert line["forwarder"]["region"] == REGION
        assert {"renamed", "stringified", "split"} & set(line["forwarder"]), name
    dotted = by_id[records["dotted"]["id"]]["data"]["freeformTags"]
    assert dotted == {"cost_center_1": "42", "app_kubernetes_io/name": "web", "cost_center": "x"}
    user_data = by_id[records["long"]["id"]]["data"]["stateChange"]["current"]["metadata"]["user_data"]
    assert "".join(user_data) == records["long"]["data"]["stateChange"]["current"]["metadata"]["user_data"]
    tags = by_id[records["wide"]["id"]]["data"]["definedTags"]
    assert json.loads(tags) == records["wide"]["data"]["definedTags"]


def millis(time: str) -> int:
    return int(datetime.fromisoformat(time).timestamp() * 1000)


def test_an_object_of_logging_entries_arrives_with_each_records_time_and_its_delivery_lag(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    records = recent_records("entries", 14, age=timedelta(minutes=20))
    before = datetime.now(UTC)
    summary = forward(function, objectstorage, entry_object(records))
    after = datetime.now(UTC)
    assert (summary["records"], summary["reshaped"], summary["undecodable"]) == (14, 0, 0)
    expected = {
        r["id"]: {**shipped_form(r), "forwarder": {"region": REGION, "datetime": millis(r["time"])}} for r in records
    }
    assert {line["id"]: line for line in listener.records} == expected  # the inner record, timed by its own time
    assert all((a.type, a.invalid) == ("oci-audit", ()) for a in listener.accepted)

    [lag] = [p.value for p in monitoring.datapoints("DeliveryLagSeconds")]
    assert_delivery_lag(lag, records[0], before, after)
    assert lag == summary["delivery_lag_s"]


def test_an_entry_without_an_inner_time_is_timed_by_its_datetime(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    when = datetime.now(UTC) - timedelta(minutes=5)
    stamp = int(when.timestamp() * 1000)
    record = make_records("no-inner-time", 1)[0]
    del record["time"]
    forward(function, objectstorage, gz(json.dumps({"datetime": stamp, "logContent": record}).encode() + b"\n"))
    [line] = listener.records
    assert line["@timestamp"] == when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp % 1000:03d}Z"
    [lag] = [p.value for p in monitoring.datapoints("DeliveryLagSeconds")]
    assert 299 <= lag <= 360


@pytest.fixture
def frankfurt(principal: Principal, function_env: FunctionEnv, seen: Seen) -> Iterator[Function]:
    """The function deployed in another region: the same resource principal, its region eu-frankfurt-1."""
    server = FdkServer(function_env(), principal_env={**principal.env(), "OCI_RESOURCE_PRINCIPAL_REGION": FRANKFURT})
    function = Function(server.start(), seen)
    yield function
    server.stop()


def test_every_line_and_every_metric_carry_the_functions_region(
    frankfurt: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    records = make_records("region", 7)
    text = ndjson(records) + b"this line is not JSON\n"
    summary = forward(frankfurt, objectstorage, gz(text))
    assert (summary["records"], summary["undecodable"]) == (8, 1)
    assert len(listener.records) == 8
    assert all(line["forwarder"]["region"] == FRANKFURT for line in listener.records)  # the fragment's too
    assert_each_once([r for r in listener.records if "message" not in r], records, region=FRANKFURT)
    points = monitoring.datapoints()
    assert points
    assert all(p.dimensions["region"] == FRANKFURT for p in points)


def test_reshape_off_ships_records_as_decoded_with_their_region(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(reshape="off")
    records = breaking("off")
    summary = forward(function, objectstorage, gz(ndjson(records.values())))
    assert summary["reshaped"] == 0
    by_id = {r["id"]: r for r in listener.records}
    for record in records.values():
        line = by_id[record["id"]]
        assert line == {"@timestamp": record["time"], **record, "forwarder": {"region": REGION}}
    filed = {a.record["id"]: a.type for a in listener.accepted}
    assert filed[records["dotted"]["id"]] == "logzio-invalid-log"  # what reshaping is for


def test_unwrap_off_ships_logging_entries_whole(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(unwrap="off")
    records = make_records("whole", 12)
    forward(function, objectstorage, entry_object(records))
    lines = sorted(listener.records, key=lambda line: line["logContent"]["id"])
    assert lines == [
        {"@timestamp": r["time"], "datetime": millis(r["time"]), "logContent": r, "forwarder": {"region": REGION}}
        for r in records
    ]
    assert {a.type for a in listener.accepted} == {"oci-audit"}


def test_the_sample_object_is_in_the_logging_entry_layout() -> None:
    items = list(decode([gzip.decompress(SAMPLE.read_bytes())]))
    assert len(items) == 12
    assert all(isinstance(item, Record) and item.wrapped for item in items)
