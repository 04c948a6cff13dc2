"""The forwarder's numbers in OCI Monitoring, end to end: the function under the real fdk posts with the real oci
SDK, signed by its resource principal, to the Monitoring stand-in, and the posted values are held to what the
listener stand-in received. A Monitoring that fails or cannot be reached costs nothing: every record still arrives
and the answer is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logzio_forwarder.config import load_settings
from logzio_forwarder.deadline import Deadline
from logzio_forwarder.forward import ObjectReport
from logzio_forwarder.metrics import (
    METRIC_NAMES,
    ONLY_WHEN_NONZERO,
    STATUS_COUNTED_AS,
    UNITS,
    default_endpoint,
    invocation_values,
    post_invocation_metrics,
)
from standins.demo import connector_object
from standins.fdkserver import FUNCTION_OCID
from standins.listener import Answer, LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import ObjectStorageStandin
from standins.principal import Principal
from tests.conftest import TEST_TOKEN
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    Function,
    assert_delivery_lag,
    assert_each_once,
    event_for,
    gz,
    make_records,
    ndjson,
    put,
    recent_records,
)
from tests.support import closed_port

NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.metrics/20261101T095300Z_20261101T100000Z.0.log.gz"
PACKAGE = Path(__file__).resolve().parents[1] / "logzio_forwarder"

pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere (metrics posts included), every post signed


def totals(monitoring: MonitoringStandin) -> dict[str, float]:
    """Each posted metric's sum, by name."""
    return {name: monitoring.total(name) for name in {p.name for p in monitoring.datapoints()}}


def invoke_ok(function: Function, objectstorage: ObjectStorageStandin, name: str, data: bytes) -> Any:
    etag = put(objectstorage, name, data)
    answer = function.invoke(event_for(objectstorage, name, etag))
    assert answer.status == 200, answer.text
    return answer.json()


def metrics_lines(function: Function) -> list[str]:
    """The function's log lines about Monitoring; stops it to complete the logs (never the shared function)."""
    return [line for line in function.final_logs().splitlines() if "Monitoring" in line]


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections, for the whole test."""
    with closed_port() as port:
        yield port


# ----- through the fdk socket -------------------------------------------------------------------------------------


def test_an_object_of_n_records_posts_signed_metrics_that_match_what_the_listener_received(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
    principal: Principal,
) -> None:
    records = recent_records("metrics", 37, age=timedelta(hours=1))
    before = datetime.now(UTC)
    summary = invoke_ok(function, objectstorage, NAME, connector_object(records))
    after = datetime.now(UTC)
    assert_each_once(listener.records, records)

    [post] = monitoring.posts
    assert (post.status, post.auth_error, post.failed) == (200, None, ())
    assert f'keyId="{principal.key_id}"' in post.headers["authorization"]
    points = monitoring.datapoints()
    assert sorted(p.name for p in points) == sorted(METRIC_NAMES), "one datapoint of each metric"
    for point in points:
        assert point.namespace == "logzio_forwarder"
        assert point.compartment_id == principal.compartment_id
        assert point.dimensions == {"bucket": BUCKET, "resourceId": FUNCTION_OCID, "region": principal.region}
        assert point.metadata == {"unit": UNITS[point.name]}
        assert before - timedelta(seconds=1) <= point.timestamp <= after

    sums = totals(monitoring)
    assert sums["RecordsForwarded"] == 37 == len(listener.records) == summary["acknowledged"]
    assert sums["BytesShipped"] == sum(r.compressed_size for r in listener.requests) == summary["bytes_acknowledged"]
    assert summary["batches"] > 1
    assert (sums["ObjectsForwarded"], sums["ObjectsFailed"], sums["RecordsNotDelivered"]) == (1, 0, 0)
    assert (sums["UndecodableFragments"], sums["RecordsShortened"], sums["ListenerRetries"]) == (0, 0, 0)
    assert_delivery_lag(sums["DeliveryLagSeconds"], records[0], before, after)
    assert sums["DeliveryLagSeconds"] == summary["delivery_lag_s"]


def test_one_post_per_invocation_sums_every_object(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    first, second = make_records("several-a", 9), make_records("several-b", 14)
    put(objectstorage, "audit/a.log.gz", connector_object(first))
    put(objectstorage, "audit/b.log.gz", gz(ndjson(second)))
    answer = function.invoke({"objects": ["audit/a.log.gz", "audit/b.log.gz", "audit/missing.log.gz"]})
    assert answer.status == 502, answer.text  # the missing object fails the invocation; the others arrived
    assert_each_once(listener.records, first + second)
    assert len(monitoring.posts) == 1
    sums = totals(monitoring)
    assert (sums["RecordsForwarded"], sums["ObjectsForwarded"], sums["ObjectsFailed"]) == (23, 2, 1)


FAILURES = {"answers-500": "HTTP 500", "stalls": "ReadTimeout", "unreachable": "ConnectionError"}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_monitoring_costs_no_record_and_changes_no_answer(
    failure: str,
    *,
    start_function: StartFunction,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
    refused_port: int,
) -> None:
    """One post, no retry, a short timeout: a failure is a gap in a chart and one log line, never a later or
    different answer. (A stalled Monitoring is held until the read timeout; nothing is posted late.)"""
    overrides = {"monitoring-endpoint": f"http://127.0.0.1:{refused_port}"} if failure == "unreachable" else {}
    function = start_function(overrides)
    if failure == "answers-500":
        monitoring.fail_next(500)
    elif failure == "stalls":
        monitoring.stall_next()
    records = make_records("monitoring-down", 25)
    summary = invoke_ok(function, objectstorage, NAME, gz(ndjson(records)))
    assert_each_once(listener.records, records)
    assert (summary["status"], summary["acknowledged"], summary["not_delivered"]) == ("forwarded", 25, 0)
    assert monitoring.datapoints() == []
    [line] = metrics_lines(function)
    assert "metrics not posted to Monitoring" in line
    assert FAILURES[failure] in line


def test_metrics_monitoring_refuses_are_one_line_and_the_rest_are_stored(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, monitoring: MonitoringStandin
) -> None:
    function = start_function()  # its own: reading the complete log stops it
    monitoring.refuse_metrics("DeliveryLagSeconds", "BytesShipped")
    summary = invoke_ok(function, objectstorage, NAME, gz(ndjson(make_records("partly", 4))))
    assert summary["acknowledged"] == 4
    assert totals(monitoring)["RecordsForwarded"] == 4
    assert {"DeliveryLagSeconds", "BytesShipped"}.isdisjoint(totals(monitoring))
    [line] = metrics_lines(function)
    assert "Monitoring refused 2 of 10 metrics: injected" in line


def test_records_not_delivered_are_posted_when_the_invocation_fails(
    start_function: StartFunction,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    function = start_function(logzio_token="tok-WRONG-0b0b0b")
    etag = put(objectstorage, NAME, gz(ndjson(make_records("undelivered", 12))))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert "12 records not delivered" in answer.text
    assert listener.accepted == []
    sums = totals(monitoring)
    assert (sums["RecordsNotDelivered"], sums["ObjectsFailed"], sums["ObjectsForwarded"]) == (12, 1, 0)
    for absent in ("RecordsForwarded", "BytesShipped", "DeliveryLagSeconds"):
        assert absent not in sums, f"{absent} posted although nothing was delivered"


def test_records_the_listener_refuses_are_posted_as_not_delivered(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    counts = {"malformedLines": 2, "successfulLines": 1, "oversizedLines": 0, "emptyLogLines": 0}
    listener.script(Answer(400, body=json.dumps(counts).encode()))
    etag = put(objectstorage, NAME, gz(ndjson(make_records("refused", 3))))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502
    assert "2 records not delivered" in answer.text
    sums = totals(monitoring)
    assert (sums["RecordsForwarded"], sums["RecordsNotDelivered"]) == (1, 2)


def test_an_object_already_forwarded_posts_no_records_forwarded(
    function: Function, objectstorage: ObjectStorageStandin, monitoring: MonitoringStandin
) -> None:
    """A duplicate event must not look like forwarding to the silence alarm (``absent()`` of RecordsForwarded)."""
    data = gz(ndjson(make_records("twice", 5)))
    invoke_ok(function, objectstorage, NAME, data)
    monitoring.reset()
    again = function.invoke(
        event_for(objectstorage, NAME, objectstorage.stat(objectstorage.namespace, BUCKET, NAME).etag)
    )
    assert again.json()["status"] == "already-forwarded"
    sums = totals(monitoring)
    assert sums == {
        "RecordsNotDelivered": 0,
        "UndecodableFragments": 0,
        "RecordsShortened": 0,
        "RecordsReshaped": 0,
        "ObjectsForwarded": 0,
        "ObjectsFailed": 0,
        "ListenerRetries": 0,
    }


def test_fragments_shortened_records_and_retries_are_counted_as_the_answer_counts_them(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    records = make_records("counted", 6)
    records[3]["data"]["response"]["payload"] = {"blob": "x" * 20_000}  # over the shared function's line cap
    records[4]["data"]["freeformTags"] = {"cost.center": "42"}  # a name Logz.io cannot index: reshaped
    listener.script(503)
    text = ndjson(records[:2]) + b"GARBAGE {not json\n" + ndjson(records[2:])
    summary = invoke_ok(function, objectstorage, NAME, gz(text))
    sums = totals(monitoring)
    assert (sums["UndecodableFragments"], sums["RecordsShortened"], sums["ListenerRetries"]) == (1, 1, 1)
    assert (summary["undecodable"], summary["shortened"], summary["retries"]) == (1, 1, 1)
    assert sums["RecordsReshaped"] == summary["reshaped"] == 1
    assert sums["RecordsForwarded"] == 7 == len(listener.records)


def test_metrics_off_posts_nothing(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, monitoring: MonitoringStandin
) -> None:
    function = start_function(metrics="off")
    invoke_ok(function, objectstorage, NAME, gz(ndjson(make_records("quiet", 4))))
    assert monitoring.posts == []


def test_metrics_go_to_the_configured_namespace_and_compartment(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, monitoring: MonitoringStandin
) -> None:
    elsewhere = "ocid1.compartment.oc1..aaaaaaaaoperations"
    function = start_function(metrics_namespace="audit_shipping", metrics_compartment_id=elsewhere)
    invoke_ok(function, objectstorage, NAME, gz(ndjson(make_records("elsewhere", 4))))
    points = monitoring.datapoints()
    assert points
    assert {(p.namespace, p.compartment_id) for p in points} == {("audit_shipping", elsewhere)}


# ----- the numbers, without the network ---------------------------------------------------------------------------


def _report(status: str = "forwarded", **fields: Any) -> ObjectReport:
    return ObjectReport("audit/x.log.gz", status=status, **fields)


def test_values_are_sums_over_the_reports_and_the_largest_lag() -> None:
    reports = [
        _report(acknowledged=10, bytes_acknowledged=500, retries=1, delivery_lag_s=12.5, undecodable=1),
        _report("failed", acknowledged=3, bytes_acknowledged=90, not_delivered=4, delivery_lag_s=40.0, shortened=2),
        _report("already-forwarded"),
        _report("stopped", acknowledged=2, bytes_acknowledged=60, reshaped=3),
    ]
    assert invocation_values(reports) == {
        "RecordsForwarded": 15,
        "RecordsNotDelivered": 4,
        "UndecodableFragments": 1,
        "RecordsShortened": 2,
        "RecordsReshaped": 3,
        "BytesShipped": 650,
        "ObjectsForwarded": 1,
        "ObjectsFailed": 1,
        "ListenerRetries": 1,
        "DeliveryLagSeconds": 40.0,
    }


def test_nothing_delivered_leaves_out_records_forwarded_bytes_and_lag_but_posts_the_failure_counters() -> None:
    values = invocation_values([_report("failed", not_delivered=7)])
    assert set(values) == set(METRIC_NAMES) - ONLY_WHEN_NONZERO - {"DeliveryLagSeconds"}
    assert values["RecordsNotDelivered"] == 7
    assert invocation_values([]) == dict.fromkeys(values, 0)


def test_every_status_the_code_sets_is_counted_one_way_or_the_other() -> None:
    """Adding a status to the forwarder without deciding how the metrics count it fails here."""
    assigned: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assigned |= set(re.findall(r'status(?:\s*=|,\s*report\.error\s*=)\s*"([a-z-]+)"', text))
        assigned |= set(re.findall(r'status\s*(?:==|!=)\s*"([a-z-]+)"', text))
        assigned |= set(re.findall(r'status: str = "([a-z-]+)"', text))
    assert assigned
    assert assigned <= set(STATUS_COUNTED_AS), (
        f"statuses missing from STATUS_COUNTED_AS: {assigned - set(STATUS_COUNTED_AS)}"
    )
    assert set(STATUS_COUNTED_AS.values()) - {None} <= set(METRIC_NAMES)


def test_the_default_endpoint_is_the_regions_ingestion_endpoint() -> None:
    assert default_endpoint("eu-amsterdam-1") == "https://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com"
    assert default_endpoint("phx") == "https://telemetry-ingestion.us-phoenix-1.oraclecloud.com"


def test_too_near_the_deadline_nothing_is_posted(
    monitoring: MonitoringStandin, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {
            "input-bucket": BUCKET,
            "logzio-region": "eu",
            "logzio-token": TEST_TOKEN,
            "monitoring-endpoint": monitoring.url,
        }
    )
    with caplog.at_level("WARNING", logger="logzio_forwarder.metrics"):
        post_invocation_metrics([_report(acknowledged=1)], settings, Deadline.after(1.2))
    assert monitoring.posts == []
    assert [r.getMessage() for r in caplog.records] == [
        "metrics not posted to Monitoring: the invocation deadline is too near"
    ]
