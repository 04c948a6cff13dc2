"""The stand-ins behave like the documented services, so tests that pass against them mean something.

Object Storage is driven with the real oci SDK and the resource-principal signer; the listener with plain
``requests``; the fdk wrapper with a tiny echo function. No sleeps, no timing assertions.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
import sysconfig
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import oci
import pytest
import requests
import urllib3

from standins.demo import audit_records, connector_object
from standins.fdkserver import REPO_ROOT, FdkServer, FdkStartError, fn_deadline
from standins.listener import MAX_BODY_BYTES, MAX_LINE_BYTES, Answer, LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import (
    DEFAULT_BUCKET,
    Before,
    Collide,
    Corrupt,
    Fail,
    LoseAnswer,
    ObjectStorageStandin,
)
from standins.principal import Principal, make_principal

from .conftest import EVENTS, FIXTURES, TEST_TOKEN, FdkFactory, load_event

BUCKET = DEFAULT_BUCKET
NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.x/20261101T095300Z_20261101T100000Z.0.log.gz"
LISTENER_FIXTURES = FIXTURES / "listener"


# ----- resource principal -----------------------------------------------------------------------------------------


def test_principal_env_makes_the_sdk_resource_principal_signer(
    principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in principal.env().items():
        monkeypatch.setenv(key, value)
    signer = oci.auth.signers.get_resource_principals_signer()
    assert principal.env()["OCI_RESOURCE_PRINCIPAL_VERSION"] == "2.2"
    assert principal.env()["OCI_RESOURCE_PRINCIPAL_REGION"] == "eu-amsterdam-1"
    assert signer.tenancy_id == principal.tenancy_id
    assert signer.compartment_id == principal.compartment_id
    assert signer.get_claim("res_type") == "fnfunc"
    assert signer.api_key == principal.key_id


# ----- Object Storage through the real SDK ------------------------------------------------------------------------


@pytest.fixture
def client(principal: Principal, objectstorage: ObjectStorageStandin) -> Any:
    return oci.object_storage.ObjectStorageClient(
        config={},
        signer=principal.signer(),
        service_endpoint=objectstorage.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
    )


def test_get_namespace(client: Any, objectstorage: ObjectStorageStandin) -> None:
    assert client.get_namespace().data == objectstorage.namespace
    assert objectstorage.requests[-1].path == "/n"


def test_put_then_streamed_get_with_headers(client: Any, objectstorage: ObjectStorageStandin) -> None:
    ns = objectstorage.namespace
    data = random.Random(7).randbytes(50_000)
    put = client.put_object(ns, BUCKET, NAME, data)
    response = client.get_object(ns, BUCKET, NAME)
    chunks = list(iter(lambda: response.data.raw.read(4096), b""))
    assert b"".join(chunks) == data
    assert len(chunks) > 1
    assert response.headers["etag"] == put.headers["etag"] == objectstorage.stat(ns, BUCKET, NAME).etag
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["last-modified"].endswith("GMT")
    assert response.headers["opc-request-id"]
    assert objectstorage.get(ns, BUCKET, NAME) == data
    assert "%2F" in objectstorage.requests[-1].path  # the SDK percent-encodes the slashes of the name
    assert objectstorage.requests[-1].object_name == NAME


def test_range_requests_answer_206(client: Any, objectstorage: ObjectStorageStandin) -> None:
    objectstorage.put(objectstorage.namespace, BUCKET, NAME, b"0123456789")
    middle = client.get_object(objectstorage.namespace, BUCKET, NAME, range="bytes=2-5")
    tail = client.get_object(objectstorage.namespace, BUCKET, NAME, range="bytes=7-")
    assert (middle.status, middle.data.content, middle.headers["content-range"]) == (206, b"2345", "bytes 2-5/10")
    assert (tail.status, tail.data.content, tail.headers["content-range"]) == (206, b"789", "bytes 7-9/10")


def test_if_match_on_get_answers_412(client: Any, objectstorage: ObjectStorageStandin) -> None:
    etag = objectstorage.put(objectstorage.namespace, BUCKET, NAME, b"x")
    assert client.get_object(objectstorage.namespace, BUCKET, NAME, if_match=etag).data.content == b"x"
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        client.get_object(objectstorage.namespace, BUCKET, NAME, if_match="stale-etag")
    assert failure.value.status == 412


def test_list_objects_pages_with_next_start_with(client: Any, objectstorage: ObjectStorageStandin) -> None:
    ns = objectstorage.namespace
    names = [f"audit/c/{i:02d}.log.gz" for i in range(5)]
    for name in [*names, "forwarder-state/x"]:
        objectstorage.put(ns, BUCKET, name, name.encode())
    seen: list[str] = []
    start = None
    pages = 0
    while True:
        page = client.list_objects(
            ns, BUCKET, prefix="audit/", start=start, limit=2, fields="name,size,etag,timeCreated"
        ).data
        seen += [o.name for o in page.objects]
        assert all(o.size == len(o.name) and o.etag and o.time_created for o in page.objects)
        pages += 1
        start = page.next_start_with
        if start is None:
            break
    assert (seen, pages) == (names, 3)
    assert objectstorage.names(ns, BUCKET, "audit/") == names


def test_head_and_delete(client: Any, objectstorage: ObjectStorageStandin) -> None:
    ns = objectstorage.namespace
    objectstorage.put(ns, BUCKET, NAME, b"abc")
    head = client.head_object(ns, BUCKET, NAME)
    assert (head.status, head.headers["content-length"], head.data) == (200, "3", None)
    assert client.delete_object(ns, BUCKET, NAME).status == 204
    assert not objectstorage.exists(ns, BUCKET, NAME)
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        client.head_object(ns, BUCKET, NAME)
    assert failure.value.status == 404


def test_missing_object_is_404_object_not_found(client: Any, objectstorage: ObjectStorageStandin) -> None:
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        client.get_object(objectstorage.namespace, BUCKET, "audit/nope")
    assert (failure.value.status, failure.value.code) == (404, "ObjectNotFound")
    assert "audit/nope" in failure.value.message


def test_missing_bucket_is_404_bucket_not_found(client: Any, objectstorage: ObjectStorageStandin) -> None:
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        client.get_object(objectstorage.namespace, "no_such_bucket", NAME)
    assert (failure.value.status, failure.value.code) == (404, "BucketNotFound")


def test_conditional_puts_are_compare_and_swap(client: Any, objectstorage: ObjectStorageStandin) -> None:
    ns = objectstorage.namespace
    first = client.put_object(ns, BUCKET, "forwarder-state/a", b"1", if_none_match="*").headers["etag"]
    with pytest.raises(oci.exceptions.ServiceError) as exists:
        client.put_object(ns, BUCKET, "forwarder-state/a", b"2", if_none_match="*")
    second = client.put_object(ns, BUCKET, "forwarder-state/a", b"2", if_match=first).headers["etag"]
    with pytest.raises(oci.exceptions.ServiceError) as stale:
        client.put_object(ns, BUCKET, "forwarder-state/a", b"3", if_match=first)
    assert (exists.value.status, stale.value.status) == (412, 412)
    assert second != first
    assert objectstorage.get(ns, BUCKET, "forwarder-state/a") == b"2"


def test_racing_create_only_puts_have_one_winner(client: Any, objectstorage: ObjectStorageStandin) -> None:
    def attempt(i: int) -> int:
        try:
            client.put_object(objectstorage.namespace, BUCKET, "forwarder-state/lock", b"%d" % i, if_none_match="*")
        except oci.exceptions.ServiceError as err:
            return int(err.status)
        return 200

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [200, 412, 412, 412, 412, 412]


def test_unsigned_request_gets_401_with_an_oci_error_body(objectstorage: ObjectStorageStandin) -> None:
    answer = requests.get(f"{objectstorage.url}/n/{objectstorage.namespace}/b/{BUCKET}/o/x", timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "NotAuthenticated"
    assert answer.headers["opc-request-id"]
    assert objectstorage.requests[-1].auth_error == "no Authorization header"


def test_signed_plain_request_passes(principal: Principal, objectstorage: ObjectStorageStandin) -> None:
    answer = requests.get(f"{objectstorage.url}/n", auth=principal.signer(), timeout=10)
    assert (answer.status_code, answer.json()) == (200, objectstorage.namespace)


def test_signature_by_another_key_gets_401(
    principal: Principal, objectstorage: ObjectStorageStandin, tmp_path: Path
) -> None:
    impostor = make_principal(tmp_path)
    forged = oci.auth.signers.EphemeralResourcePrincipalSigner(
        session_token=str(principal.rpst_path), private_key=str(impostor.private_pem_path), region="eu-amsterdam-1"
    )
    assert requests.get(f"{objectstorage.url}/n", auth=forged, timeout=10).status_code == 401
    assert requests.get(f"{objectstorage.url}/n", auth=impostor.signer(), timeout=10).status_code == 401
    reasons = [r.auth_error for r in objectstorage.requests]
    assert reasons == [
        "signature does not verify against the principal's public key",
        "keyId is not a session token of the resource principal, nor a registered API key",
    ]


def test_signature_over_another_path_gets_401(principal: Principal, objectstorage: ObjectStorageStandin) -> None:
    prepared = requests.Request("GET", f"{objectstorage.url}/n").prepare()
    principal.signer()(prepared)
    answer = requests.get(f"{objectstorage.url}/n?compartmentId=x", headers=dict(prepared.headers), timeout=10)
    assert answer.status_code == 401


def test_fail_next_injects_one_error(client: Any, objectstorage: ObjectStorageStandin) -> None:
    objectstorage.put(objectstorage.namespace, BUCKET, NAME, b"x")
    objectstorage.fail_next("GET", "/o/audit", 503)
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        client.get_object(objectstorage.namespace, BUCKET, NAME)
    assert (failure.value.status, failure.value.code) == (503, "ServiceUnavailable")
    assert client.get_object(objectstorage.namespace, BUCKET, NAME).data.content == b"x"


def test_truncated_download_breaks_the_stream(client: Any, objectstorage: ObjectStorageStandin) -> None:
    data = bytes(range(256)) * 100
    objectstorage.put(objectstorage.namespace, BUCKET, NAME, data)
    objectstorage.truncate_next_get(1000)
    response = client.get_object(objectstorage.namespace, BUCKET, NAME)
    assert response.headers["content-length"] == str(len(data))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        response.data.raw.read()
    assert client.get_object(objectstorage.namespace, BUCKET, NAME).data.content == data


# ----- faults on demand, as the real service answers ------------------------------------------------------------


def _raises(call: Any) -> tuple[int, str]:
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        call()
    return int(failure.value.status), str(failure.value.code)


@pytest.mark.parametrize("code", ["BucketNotFound", "NotAuthorizedOrNotFound"])
def test_a_404_that_is_not_object_not_found_on_demand_for_get_head_put_and_list(
    client: Any, objectstorage: ObjectStorageStandin, code: str
) -> None:
    ns = objectstorage.namespace
    objectstorage.put(ns, BUCKET, NAME, b"stored")
    objectstorage.put(ns, BUCKET, "other/kept", b"other")
    calls = {
        "GetObject": lambda: client.get_object(ns, BUCKET, NAME),
        "HeadObject": lambda: client.head_object(ns, BUCKET, NAME),
        "PutObject": lambda: client.put_object(ns, BUCKET, NAME, b"new", if_match="*"),
        "ListObjects": lambda: client.list_objects(ns, BUCKET, prefix="audit/"),
    }
    for operation in calls:
        objectstorage.inject(Fail(404, code), operation, "audit/")
    assert client.get_object(ns, BUCKET, "other/kept").data.content == b"other", "another key prefix is served"
    assert client.list_objects(ns, BUCKET, prefix="other/").data.objects[0].name == "other/kept"
    answers = {operation: _raises(call) for operation, call in calls.items()}
    # a HEAD answer has no body, so no code reaches the client: a 404 to a HEAD cannot tell absence from the rest
    assert answers == {**dict.fromkeys(calls, (404, code)), "HeadObject": (404, "None")}
    assert objectstorage.get(ns, BUCKET, NAME) == b"stored", "the refused PutObject was not applied"
    assert client.get_object(ns, BUCKET, NAME).data.content == b"stored", "one use each"
    assert [r.fault for r in objectstorage.requests if r.status == 404] == ["Fail"] * 4


def test_injections_let_some_requests_pass_and_match_conditional_writes_only(
    client: Any, objectstorage: ObjectStorageStandin
) -> None:
    ns = objectstorage.namespace
    objectstorage.inject(Fail(503), "PutObject", "forwarder-state/", skip=1, conditional=True)
    client.put_object(ns, BUCKET, "forwarder-state/m", b"")  # unconditional: not matched
    first = client.put_object(ns, BUCKET, "forwarder-state/a", b"1", if_none_match="*").headers["etag"]  # skipped
    assert _raises(lambda: client.put_object(ns, BUCKET, "forwarder-state/a", b"2", if_match=first)) == (
        503,
        "ServiceUnavailable",
    )
    assert objectstorage.get(ns, BUCKET, "forwarder-state/a") == b"1"


@pytest.mark.parametrize(("status", "code"), [(409, "ConcurrentObjectUpdate"), (412, "IfNoneMatchFailed")])
def test_two_conditional_writes_at_once_have_one_winner_and_the_other_answered_as_a_race(
    client: Any, objectstorage: ObjectStorageStandin, status: int, code: str
) -> None:
    objectstorage.inject(Collide(status), "PutObject", "forwarder-state/lock", conditional=True)

    def attempt(i: int) -> tuple[int, str]:
        try:
            client.put_object(objectstorage.namespace, BUCKET, "forwarder-state/lock", b"%d" % i, if_none_match="*")
        except oci.exceptions.ServiceError as err:
            return int(err.status), str(err.code)
        return 200, ""

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(pool.map(attempt, range(2)))
    assert answers == [(200, ""), (status, code)]
    assert [r.fault for r in objectstorage.requests] == ["Collide", "Collide"]


def test_a_corrupt_object_is_served_once_and_the_stored_one_is_left_alone(
    client: Any, objectstorage: ObjectStorageStandin
) -> None:
    ns = objectstorage.namespace
    objectstorage.put(ns, BUCKET, "forwarder-state/p.json", b'{"version": 1}')
    objectstorage.inject(Corrupt(b"\x00not json"), "GetObject", "forwarder-state/")
    assert _raises(lambda: client.get_object(ns, BUCKET, "forwarder-state/absent.json")) == (404, "ObjectNotFound")
    assert client.get_object(ns, BUCKET, "forwarder-state/p.json").data.content == b"\x00not json"
    assert client.get_object(ns, BUCKET, "forwarder-state/p.json").data.content == b'{"version": 1}'
    assert [r.fault for r in objectstorage.requests] == ["", "Corrupt", ""], "a 404 does not use it up"


def test_a_lost_answer_applies_the_write_and_drops_the_connection(
    principal: Principal, objectstorage: ObjectStorageStandin
) -> None:
    objectstorage.inject(LoseAnswer(), "PutObject", "forwarder-state/")
    url = f"{objectstorage.url}/n/{objectstorage.namespace}/b/{BUCKET}/o/forwarder-state%2Fx"
    with pytest.raises(requests.ConnectionError):
        requests.put(url, data=b"written", headers={"if-none-match": "*"}, auth=principal.signer(), timeout=10)
    assert objectstorage.get(objectstorage.namespace, BUCKET, "forwarder-state/x") == b"written"
    again = requests.put(url, data=b"again", headers={"if-none-match": "*"}, auth=principal.signer(), timeout=10)
    assert (again.status_code, again.json()["code"]) == (412, "IfNoneMatchFailed"), "a retry meets its own write"


def test_before_runs_another_writers_change_first(client: Any, objectstorage: ObjectStorageStandin) -> None:
    ns = objectstorage.namespace
    objectstorage.inject(Before(lambda: objectstorage.put(ns, BUCKET, "forwarder-state/b", b"theirs")), "PutObject")
    assert _raises(lambda: client.put_object(ns, BUCKET, "forwarder-state/b", b"ours", if_none_match="*"))[0] == 412
    assert objectstorage.get(ns, BUCKET, "forwarder-state/b") == b"theirs"


# ----- session tokens that expire and rotate -------------------------------------------------------------------


def test_an_expired_session_token_gets_401_and_a_rotated_one_from_the_files_is_honoured(
    tmp_path: Path, objectstorage: ObjectStorageStandin
) -> None:
    short = make_principal(tmp_path / "rp", lifetime_s=30)
    objectstorage.trust(short)
    namespace_url = f"{objectstorage.url}/n"
    first = short.signer()  # reads the files, as the SDK does at start
    used = first.api_key
    assert requests.get(namespace_url, auth=first, timeout=10).status_code == 200

    short.advance(20)
    short.rotate(lifetime_s=30)  # the platform writes a new token and key into the same files
    assert requests.get(namespace_url, auth=first, timeout=10).status_code == 200, "the old one is valid until exp"
    short.advance(11)  # 31 s after the first was issued, 11 s after the second
    expired = requests.get(namespace_url, auth=first, timeout=10)
    assert (expired.status_code, expired.json()["code"]) == (401, "NotAuthenticated")
    assert objectstorage.requests[-1].auth_error is not None
    assert "expired" in objectstorage.requests[-1].auth_error
    first.refresh_security_token()  # what the SDK does after a 401: read the files again
    assert used != first.api_key == short.key_id
    assert requests.get(namespace_url, auth=first, timeout=10).status_code == 200
    objectstorage.reset()
    assert requests.get(namespace_url, auth=first, timeout=10).status_code == 401, "trusted until reset"


# ----- Monitoring through the real SDK ----------------------------------------------------------------------------


@pytest.fixture
def metrics_client(principal: Principal, monitoring: MonitoringStandin) -> Any:
    return oci.monitoring.MonitoringClient(
        config={},
        signer=principal.signer(),
        service_endpoint=monitoring.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
    )


def _metric(name: str = "RecordsForwarded", *, value: float = 3.0, **fields: Any) -> Any:
    details: dict[str, Any] = {
        "namespace": "logzio_forwarder",
        "compartment_id": "ocid1.compartment.oc1..standincompartment",
        "name": name,
        "dimensions": {"bucket": BUCKET, "resourceId": "ocid1.fnfunc.oc1..x"},
        "datapoints": [oci.monitoring.models.Datapoint(timestamp=datetime.now(UTC), value=value)],
    }
    details.update(fields)
    return oci.monitoring.models.MetricDataDetails(**details)


def _post_metrics(client: Any, *metrics: Any, atomicity: str | None = None) -> Any:
    details = oci.monitoring.models.PostMetricDataDetails(metric_data=list(metrics), batch_atomicity=atomicity)
    return client.post_metric_data(details).data


def test_monitoring_stores_a_signed_post_and_answers_no_failures(
    metrics_client: Any, monitoring: MonitoringStandin, principal: Principal
) -> None:
    answer = _post_metrics(
        metrics_client, _metric(value=3), _metric("BytesShipped", value=512, metadata={"unit": "bytes"})
    )
    assert (answer.failed_metrics_count, answer.failed_metrics) == (0, [])
    assert (monitoring.total("RecordsForwarded"), monitoring.total("BytesShipped")) == (3, 512)
    [post] = monitoring.posts
    assert (post.method, post.path, post.status, post.auth_error) == ("POST", "/20180401/metrics", 200, None)
    assert monitoring.datapoints("BytesShipped")[0].metadata == {"unit": "bytes"}


def test_monitoring_lists_invalid_metrics_and_stores_the_rest(
    metrics_client: Any, monitoring: MonitoringStandin
) -> None:
    old = [oci.monitoring.models.Datapoint(timestamp=datetime.now(UTC) - timedelta(hours=3), value=1.0)]
    ahead = [oci.monitoring.models.Datapoint(timestamp=datetime.now(UTC) + timedelta(minutes=15), value=1.0)]
    invalid = [
        _metric(namespace="oci_forwarder"),
        _metric(namespace="9lives"),
        _metric("has space"),
        _metric(dimensions={}),
        _metric(dimensions={f"d{i}": "v" for i in range(21)}),
        _metric(dimensions={"bucket": ""}),
        _metric(datapoints=old),
        _metric(datapoints=ahead),
        _metric(compartment_id="not-an-ocid"),
    ]
    answer = _post_metrics(metrics_client, _metric("Good"), *invalid)
    assert answer.failed_metrics_count == len(invalid) == len(answer.failed_metrics)
    messages = " | ".join(f.message for f in answer.failed_metrics)
    for says in ("reserved prefix", "must start with a letter", "1 to 20 dimensions", "1-512", "last 2 hours"):
        assert says in messages
    assert [p.name for p in monitoring.datapoints()] == ["Good"]


def test_monitoring_refuses_a_call_when_nothing_passes_or_it_is_atomic(
    metrics_client: Any, monitoring: MonitoringStandin
) -> None:
    for metrics, atomicity in (([_metric(namespace="oracle_x")], None), ([_metric(), _metric("bad name")], "ATOMIC")):
        with pytest.raises(oci.exceptions.ServiceError) as refused:
            _post_metrics(metrics_client, *metrics, atomicity=atomicity)
        assert (refused.value.status, refused.value.code) == (400, "InvalidParameter")
    assert monitoring.datapoints() == []


def test_monitoring_allows_50_metric_streams_per_call_and_not_51(
    metrics_client: Any, monitoring: MonitoringStandin
) -> None:
    streams = [_metric(f"Metric{i}") for i in range(51)]
    assert _post_metrics(metrics_client, *streams[:50]).failed_metrics_count == 0
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        _post_metrics(metrics_client, *streams)
    assert refused.value.status == 400
    assert "51 metric streams" in refused.value.message


def test_monitoring_refuses_unsigned_posts_and_injects_failures(
    metrics_client: Any, monitoring: MonitoringStandin
) -> None:
    answer = requests.post(f"{monitoring.url}/20180401/metrics", json={"metricData": []}, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (401, "NotAuthenticated")
    monitoring.fail_next(503)
    with pytest.raises(oci.exceptions.ServiceError) as failure:
        _post_metrics(metrics_client, _metric())
    assert (failure.value.status, failure.value.code) == (503, "ServiceUnavailable")
    assert _post_metrics(metrics_client, _metric()).failed_metrics_count == 0
    assert [p.status for p in monitoring.posts] == [401, 503, 200]
    assert monitoring.posts[0].auth_error == "no Authorization header"


# ----- Logz.io listener with plain requests ---------------------------------------------------------------------


def _post(
    listener: LogzioListenerStandin, body: bytes, query: str = f"?token={TEST_TOKEN}&type=oci-audit", **headers: str
) -> requests.Response:
    return requests.post(listener.url + "/" + query, data=body, headers=headers, timeout=10)


def test_listener_accepts_ndjson_with_200_and_an_empty_body(listener: LogzioListenerStandin) -> None:
    answer = _post(listener, b'{"@timestamp": "t", "a": 1}\n{"@timestamp": "t", "b": 2}\n')
    assert (answer.status_code, answer.content) == (200, b"")
    assert listener.records == [{"@timestamp": "t", "a": 1}, {"@timestamp": "t", "b": 2}]
    assert [(a.type, a.invalid) for a in listener.accepted] == [("oci-audit", ()), ("oci-audit", ())]
    assert listener.lines == [b'{"@timestamp": "t", "a": 1}', b'{"@timestamp": "t", "b": 2}']


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    ("line", "filed", "broken"),
    [
        pytest.param({"@timestamp": "t", "type": "com.oraclecloud.X.Y"}, "com.oraclecloud.X.Y", (), id="own-type"),
        pytest.param({"@timestamp": "t", "eventType": "com.oraclecloud.X.Y"}, "oci-audit", (), id="no-type"),
        pytest.param({"a": 1}, "logzio-invalid-log", ("FIELDS_MISSING",), id="no-timestamp"),
        pytest.param(
            {"@timestamp": "t", "tags": {"cost.center": "x"}},
            "logzio-invalid-log",
            ("ARRAY_INDEX_OUT_OF_BOUNDS_EXCEPTION",),
            id="dotted-name",
        ),
        pytest.param(
            {"@timestamp": "t", "v": "x" * 32_701}, "logzio-invalid-log", ("INVALID_FIELD_VALUE_LENGTH",), id="value"
        ),
        pytest.param({"@timestamp": "t", "v": "x" * 32_700}, "oci-audit", (), id="longest-value"),
        pytest.param({"@timestamp": "t", "k" * 32_701: 1}, "logzio-invalid-log", ("MAX_FIELD_KEY_SIZE",), id="key"),
        pytest.param({"@timestamp": "t", **_nested(10)}, "oci-audit", (), id="ten-levels"),
        pytest.param({"@timestamp": "t", **_nested(11)}, "logzio-invalid-log", ("MAX_JSON_DEPTH",), id="eleven"),
        pytest.param({"@timestamp": "t", "a": [[[[[[[[[1]]]]]]]]]}, "oci-audit", (), id="arrays-ten-levels"),
        pytest.param(
            {"@timestamp": "t", "a": [[[[[[[[[[1]]]]]]]]]]}, "logzio-invalid-log", ("MAX_JSON_DEPTH",), id="arrays-11"
        ),
        pytest.param({"@timestamp": "t", **{f"f{i}": i for i in range(999)}}, "oci-audit", (), id="1000-fields"),
        pytest.param(
            {"@timestamp": "t", **{f"f{i}": i for i in range(1000)}},
            "logzio-invalid-log",
            ("MAX_FIELDS_NUMBER",),
            id="1001-fields",
        ),
        pytest.param(
            {"@timestamp": "t", "list": [{"same": 1}, {"same": 2}]}, "oci-audit", (), id="arrays-are-transparent"
        ),
    ],
)
def test_listener_files_lines_as_logzio_does(
    listener: LogzioListenerStandin, line: dict[str, Any], filed: str, broken: tuple[str, ...]
) -> None:
    """A line with its own top-level ``type`` is filed under it; a line that breaks an indexing rule is still
    answered 200 but filed as ``logzio-invalid-log``, with the rules it broke."""
    answer = _post(listener, json.dumps(line).encode() + b"\n")
    assert answer.status_code == 200
    [accepted] = listener.accepted
    assert (accepted.type, accepted.invalid) == (filed, broken)


def test_listener_reads_chunked_bodies(listener: LogzioListenerStandin) -> None:
    body = (b'{"n": %d}\n' % i for i in range(3))
    answer = requests.post(f"{listener.url}/?token={TEST_TOKEN}", data=body, timeout=10)
    assert answer.status_code == 200
    assert listener.requests[-1].headers["transfer-encoding"] == "chunked"
    assert listener.records == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_listener_gunzips_and_records_sizes(listener: LogzioListenerStandin) -> None:
    plain = b'{"a": 1}\n' * 1000
    body = gzip.compress(plain)
    assert _post(listener, body, **{"Content-Encoding": "gzip", "User-Agent": "probe/1"}).status_code == 200
    seen = listener.requests[-1]
    assert (seen.compressed_size, seen.uncompressed_size) == (len(body), len(plain))
    assert (seen.content_encoding, seen.user_agent, seen.token) == ("gzip", "probe/1", TEST_TOKEN)
    assert listener.accepted_count == 1000


def test_listener_answers_400_with_counts_and_keeps_good_lines(listener: LogzioListenerStandin) -> None:
    oversized = b'{"x": "' + b"y" * MAX_LINE_BYTES + b'"}'
    body = b"\n".join([b'{"a": 1}', b"not json", b"", oversized, b'{"b": 2}', b'{"c": 3}'])
    answer = _post(listener, body)
    documented = json.loads((LISTENER_FIXTURES / "400-bad-lines.json").read_text())
    assert answer.status_code == 400
    assert answer.json() == documented
    assert list(answer.json()) == list(documented)  # same key order as the documented body
    assert listener.records == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_listener_counts_json_that_is_not_an_object_as_malformed(listener: LogzioListenerStandin) -> None:
    answer = _post(listener, b'[1, 2]\n"text"\n{"ok": true}')
    assert answer.status_code == 400
    assert (answer.json()["malformedLines"], answer.json()["successfulLines"]) == (2, 1)


def test_listener_rejects_missing_and_wrong_tokens_with_401(listener: LogzioListenerStandin) -> None:
    missing = _post(listener, b"{}", query="?type=x")
    wrong = _post(listener, b"{}", query="?token=nope")
    assert (missing.status_code, missing.text) == (401, (LISTENER_FIXTURES / "401-token-missing.txt").read_text())
    assert (wrong.status_code, wrong.text) == (401, (LISTENER_FIXTURES / "401-token-invalid.txt").read_text())
    assert listener.records == []


def test_listener_rejects_bodies_over_the_limit_with_413(listener: LogzioListenerStandin) -> None:
    line = b'{"k": "' + b"v" * 99_990 + b'"}\n'
    body = line * (MAX_BODY_BYTES // len(line) + 1)
    assert len(body) > MAX_BODY_BYTES
    assert _post(listener, body).status_code == 413
    assert _post(listener, gzip.compress(body), **{"Content-Encoding": "gzip"}).status_code == 413
    assert _post(listener, line * (MAX_BODY_BYTES // len(line))).status_code == 200


def test_listener_script_is_consulted_first_in_order(listener: LogzioListenerStandin) -> None:
    listener.script(Answer(503, retry_after=7, body=b"busy"), 429, "drop")
    first = _post(listener, b"{}")
    second = _post(listener, b"{}")
    with pytest.raises(requests.ConnectionError):
        _post(listener, b"{}")
    third = _post(listener, b'{"after": true}')
    assert (first.status_code, first.headers["Retry-After"], first.content) == (503, "7", b"busy")
    assert second.status_code == 429
    assert third.status_code == 200
    assert [r.status for r in listener.requests] == [503, 429, None, 200]
    assert [r.answer for r in listener.requests] == ["scripted:503", "scripted:429", "drop", "normal"]
    assert listener.records == [{"after": True}]


def test_listener_slow_answer_outlasts_a_client_timeout(listener: LogzioListenerStandin) -> None:
    listener.script("slow:60")
    with pytest.raises(requests.Timeout):
        requests.post(f"{listener.url}/?token={TEST_TOKEN}", data=b"{}", timeout=0.5)
    listener.reset()  # interrupts the slow answer; it is dropped, not recorded
    assert listener.requests == []


def test_listener_fail_always_until_healed(listener: LogzioListenerStandin) -> None:
    listener.fail_always(500)
    assert [_post(listener, b"{}").status_code for _ in range(3)] == [500, 500, 500]
    listener.heal()
    assert _post(listener, b"{}").status_code == 200


def test_listener_fail_after_n_requests(listener: LogzioListenerStandin) -> None:
    listener.fail_after(2, 502)
    assert [_post(listener, b"{}").status_code for _ in range(4)] == [200, 200, 502, 502]
    assert listener.accepted_count == 2


def test_listener_rejects_bad_script_items(listener: LogzioListenerStandin) -> None:
    with pytest.raises(ValueError, match="script item"):
        listener.script("later")


# ----- events fixtures -------------------------------------------------------------------------------------------


def test_event_fixtures_have_the_cloudevents_01_envelope() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        assert event["cloudEventsVersion"] == "0.1", path.name
        assert event["eventType"].startswith("com.oraclecloud.objectstorage."), path.name
        data = event["data"]
        details = data["additionalDetails"]
        assert data["resourceId"] == f"/n/{details['namespace']}/b/{details['bucketName']}/o/{data['resourceName']}"
    event = load_event(name="audit/x.log.gz", etag="e1")
    assert event["data"]["resourceId"].endswith("/o/audit/x.log.gz")
    assert event["data"]["additionalDetails"]["eTag"] == "e1"


# ----- the real fdk server ---------------------------------------------------------------------------------------

_ECHO = """
import json, logging, os

def handler(ctx, data=None):
    body = data.getvalue()
    logging.getLogger("echo").info("echo %d bytes", len(body))
    print("on stdout")
    if body == b"boom":
        raise ValueError("boom happened")
    return json.dumps({"body": body.decode(), "deadline": ctx.Deadline(), "headers": dict(ctx.Headers()),
                       "config": ctx.Config().get("input-bucket"), "rp": os.environ.get("OCI_RESOURCE_PRINCIPAL_RPST")})
"""


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, principal: Principal) -> Iterator[FdkServer]:
    func = tmp_path_factory.mktemp("echo") / "func.py"
    func.write_text(_ECHO)
    with FdkServer({"input-bucket": "b"}, principal_env=principal.env(), func_path=func) as server:
        yield server


def test_fdk_invocation_looks_like_the_fn_agent(echo: FdkServer, principal: Principal) -> None:
    deadline = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    answer = echo.invoke({"hello": "world"}, deadline=deadline)
    seen = answer.json()
    assert answer.status == 200
    assert json.loads(seen["body"]) == {"hello": "world"}
    assert seen["deadline"] == "2030-01-02T03:04:05Z"
    assert seen["headers"]["transfer-encoding"] == "chunked"
    assert "content-length" not in seen["headers"]
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["fn-call-id"] == answer.call_id
    assert {"date", "oci-subject-id", "opc-request-id"} <= set(seen["headers"])
    assert (seen["config"], seen["rp"]) == ("b", str(principal.rpst_path))
    logged = f"echo {len(json.dumps({'hello': 'world'}))} bytes"
    echo.stop()  # joins the output readers: everything the child wrote is in the logs now
    logs, stderr_lines = echo.logs(), list(echo.stderr_lines)
    echo.start()  # the fixture is shared with the next tests
    assert logged in logs
    assert "on stdout" in logs
    assert any(logged in line for line in stderr_lines)
    assert not any("on stdout" in line for line in stderr_lines)


def test_fdk_default_deadline_and_header_overrides(echo: FdkServer) -> None:
    answer = echo.invoke(b"{}", headers={"Fn-Deadline": "", "X-Extra": "1"})
    headers = answer.json()["headers"]
    assert "fn-deadline" not in headers
    assert headers["x-extra"] == "1"
    assert fn_deadline(datetime(2021, 3, 13, 3, 43, 48, 123456)) == "2021-03-13T03:43:48Z"
    assert fn_deadline(datetime.now(UTC) + timedelta(seconds=1)).endswith("Z")


def test_fdk_handler_exception_is_a_502_with_its_text(echo: FdkServer) -> None:
    answer = echo.invoke(b"boom")
    assert answer.status == 502
    assert "boom happened" in answer.text


def test_fdk_start_failure_reports_the_child_output(tmp_path: Path) -> None:
    with pytest.raises(FdkStartError, match="doesn't exist"):
        FdkServer({}, func_path=tmp_path / "missing.py").start()


_PROBE = """
import json, sys
import csimdjson, fdk, oci.object_storage, logzio_forwarder.edge

def handler(ctx, data=None):
    return json.dumps({"path": sys.path, "no_site": sys.flags.no_site, "site": "site" in sys.modules,
                       "files": {m.__name__: m.__file__ for m in (csimdjson, fdk, oci, logzio_forwarder.edge)}})
"""


def test_the_fdk_child_imports_only_from_its_image(tmp_path: Path, principal: Principal) -> None:
    """Under ``FDK_IMAGE`` (``make image-test``), the child sees the image's two directories and the standard
    library, nothing else; otherwise it runs from the project's virtualenv."""
    func = tmp_path / "func.py"
    func.write_text(_PROBE)
    with FdkServer({}, principal_env=principal.env(), func_path=func) as server:
        answer = server.invoke(b"{}")
    assert answer.status == 200, answer.text
    seen = answer.json()
    files = {name: Path(file) for name, file in seen["files"].items()}
    image = os.environ.get("FDK_IMAGE")
    if image is None:
        assert files["logzio_forwarder.edge"] == REPO_ROOT / "logzio_forwarder" / "edge.py"
        assert files["fdk"].is_relative_to(sys.prefix)
        return
    root = Path(image).resolve()
    stdlib = {Path(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    allowed = [root / "function", root / "python", *stdlib]
    assert (seen["no_site"], seen["site"]) == (1, False)
    outside = [p for p in seen["path"] if not any(Path(p).is_relative_to(a) for a in allowed)]
    assert all(p.endswith(".zip") and Path(p).parent in {s.parent for s in stdlib} for p in outside), outside
    assert files["logzio_forwarder.edge"] == root / "function" / "logzio_forwarder" / "edge.py"
    assert all(files[m].is_relative_to(root / "python") for m in ("csimdjson", "fdk", "oci"))


# ----- the fixtures wired together -------------------------------------------------------------------------------


def test_fixtures_run_the_function_end_to_end(
    fdk_function: FdkFactory, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = audit_records()
    etag = objectstorage.put(objectstorage.namespace, BUCKET, NAME, connector_object(records))
    function = fdk_function()
    answer = function.invoke(load_event(name=NAME, etag=etag))
    assert answer.status == 200, answer.text
    assert answer.json()["records"] == len(records)
    assert sorted(r["id"] for r in listener.records) == sorted(r["id"] for r in records)
    assert listener.requests[-1].token == TEST_TOKEN
    assert TEST_TOKEN not in function.logs()
    assert not any(TEST_TOKEN in line for line in function.stderr_lines)
