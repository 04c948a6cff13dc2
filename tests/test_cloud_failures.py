"""Real-cloud failure semantics, end to end: the function under fdk against stand-ins that answer as Object Storage
and the resource principal platform really do when things go wrong.

A 404 that is not ``ObjectNotFound`` never settles an object; ``ObjectNotFound`` settles it only once a listing
agrees; a racing write is a lost race (409 as well as 412, see ``test_selfheal``); session tokens expire and are
rotated in the files; catch-up covers everything from the first invocation on the bucket, even one that failed;
a failure reports every attempt it made.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import Before, Fail, ObjectStorageStandin, Truncate
from standins.principal import make_principal
from tests.conftest import FdkFactory
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    CURSOR_KEY,
    SMALL_CAP,
    STATE_PREFIX,
    Function,
    Seen,
    assert_each_once,
    connector_name,
    finish_by_request,
    gz,
    in_seconds,
    invoke_event,
    make_records,
    ndjson,
    progress_left,
    progress_of,
    put,
    requests_to,
    started_ago,
    summaries,
)

pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere, every request well formed

FOLDER = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.cloud/"
NAME = f"{FOLDER}20261101T100000Z_20261101T100059Z.0.log.gz"
KEY = f"{STATE_PREFIX}{NAME}.json"


def name(n: int) -> str:
    return connector_name(FOLDER, n)


def listings_of(objectstorage: ObjectStorageStandin, prefix: str) -> int:
    return sum(1 for r in objectstorage.requests if r.operation == "ListObjects" and f"prefix={_q(prefix)}" in r.path)


def _q(text: str) -> str:
    return quote(text, safe="")


# ----- a 404 is not "gone" unless it says so, and a listing agrees -------------------------------------------------


def test_a_transient_404_in_the_middle_of_an_object_costs_nothing(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("transient-404", 60)
    data = gz(ndjson(records))
    put(objectstorage, NAME, data)
    objectstorage.inject(Truncate(len(data) // 2), "GetObject", NAME)  # the download breaks half way ...
    objectstorage.inject(Fail(404, "NotAuthorizedOrNotFound"), "GetObject", NAME, skip=1)  # ... its resume: 404
    objectstorage.inject(Fail(404, "BucketNotFound"), "PutObject", KEY, skip=1)  # and a progress write after the lease

    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    report = answer.json()
    assert (report["status"], report["records"], report["not_delivered"]) == ("forwarded", 60, 0)
    assert_each_once(listener.records, records)
    saved = progress_of(objectstorage, NAME)
    assert (saved["done"], saved["settled"], saved["records"]) == (True, "", 60)
    refused = sorted((r.operation, r.status) for r in objectstorage.requests if r.fault == "Fail")
    assert refused == [("GetObject", 404), ("PutObject", 404)], "both 404s were answered, and retried"
    gets = requests_to(objectstorage, "GetObject", NAME)
    assert [g.headers.get("range", "") != "" for g in gets] == [False, True, True], "resumed where it broke"


@pytest.mark.parametrize(
    ("code", "listing", "why"),
    [
        ("BucketNotFound", "", "policy or propagation: retried with backoff, then a passing failure"),
        ("NotAuthorizedOrNotFound", "", "policy or propagation: retried with backoff, then a passing failure"),
        ("ObjectNotFound", "shows it", "the object itself, but a listing of its name still shows it"),
        ("ObjectNotFound", "fails", "the object itself, but its name cannot be listed to confirm it"),
    ],
    ids=["BucketNotFound", "NotAuthorizedOrNotFound", "ObjectNotFound-listed", "ObjectNotFound-unlisted"],
)
def test_a_404_that_does_not_prove_the_object_gone_never_settles_a_started_object(
    code: str,
    listing: str,
    why: str,
    *,
    hurried: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    records = make_records(f"not-gone-{code}-{listing}", 30)
    put(objectstorage, NAME, gz(ndjson(records)))
    progress_left(objectstorage, NAME, records, delivered=10)
    objectstorage.inject(Fail(404, code), "GetObject", NAME, times=100)
    if listing == "fails":
        objectstorage.inject(Fail(403, "NotAllowed", "injected"), "ListObjects", NAME)

    failed = hurried.invoke({"objects": [NAME]}, deadline=in_seconds(8))  # a short deadline bounds the retries
    assert failed.status == 502, failed.text
    assert f"HTTP 404 {code}" in failed.text, why
    assert "Catch-up finishes them in later invocations" in failed.text
    assert "not tried again" not in failed.text
    saved = progress_of(objectstorage, NAME)
    assert (saved["settled"], saved["loss"], saved["done"], saved["records"], saved["failures"]) == (
        "",
        {},
        False,
        10,
        1,
    )
    assert listener.requests == []
    assert listings_of(objectstorage, NAME) == (1 if code == "ObjectNotFound" else 0)

    objectstorage.heal()  # the policy propagated; the next invocation (here a request for it) finishes it
    finish_by_request(hurried, NAME, resumed_at=10)
    assert_each_once(listener.records, records[10:])
    if listing == "fails":
        said = f"{NAME} answered HTTP 404 ObjectNotFound: injected failure and could not be listed to confirm it"
        assert said in hurried.final_logs()


@pytest.mark.parametrize("code", ["BucketNotFound", "NotAuthorizedOrNotFound"])
def test_a_progress_record_answered_with_a_404_that_is_not_object_not_found_is_not_taken_as_absent(
    code: str, hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """Read as "no record", the object would be forwarded from its start again and its record overwritten."""
    records = make_records(f"record-404-{code}", 30)
    put(objectstorage, NAME, gz(ndjson(records)))
    progress_left(objectstorage, NAME, records, delivered=10)
    kept = objectstorage.get(objectstorage.namespace, BUCKET, KEY)
    objectstorage.inject(Fail(404, code), "GetObject", KEY, times=100)

    failed = hurried.invoke({"objects": [NAME]}, deadline=in_seconds(6))
    assert failed.status == 502, failed.text
    assert f"HTTP 404 {code}" in failed.text
    assert listener.requests == []
    assert objectstorage.get(objectstorage.namespace, BUCKET, KEY) == kept, "the record is left as it was"
    assert requests_to(objectstorage, "PutObject", KEY) == []

    objectstorage.heal()
    finish_by_request(hurried, NAME, resumed_at=10)
    assert_each_once(listener.records, records[10:])


def test_a_cursor_answered_with_a_404_that_is_not_object_not_found_is_not_created_again(
    hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """Read as "no cursor", the pass would draw a new starting line and forget the objects before it."""
    first_seen = json.loads(objectstorage.get(objectstorage.namespace, BUCKET, CURSOR_KEY))["first_seen"]
    records = make_records("cursor-404", 5)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(Fail(404, "NotAuthorizedOrNotFound"), "GetObject", CURSOR_KEY, times=100)
    start = len(objectstorage.requests)

    answer = invoke_event(hurried, objectstorage, NAME, deadline=in_seconds(8))
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json()["records"]) == ("forwarded", 5), "the event's own work is done"
    assert "HTTP 404 NotAuthorizedOrNotFound" in answer.json()["catch_up"]["error"]
    writes = requests_to(objectstorage, "PutObject", CURSOR_KEY, since=start)
    assert writes == [], "no cursor created over one that could not be read"
    assert json.loads(objectstorage.get(objectstorage.namespace, BUCKET, CURSOR_KEY))["first_seen"] == first_seen
    assert_each_once(listener.records, records)


def test_an_object_not_found_is_believed_at_once(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """``ObjectNotFound`` is the one 404 that means absence: not retried (the others are), for the record and the
    object alike."""
    answer = function.invoke({"objects": [NAME]})
    assert answer.status == 502, answer.text
    gets = [(r.object_name, r.status) for r in objectstorage.requests if r.object_name in (KEY, NAME)]
    assert gets == [(KEY, 404), (NAME, 404)]


def test_an_object_deleted_after_its_forwarding_started_is_settled_gone_once_a_listing_agrees(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("deleted", 30)
    put(objectstorage, NAME, gz(ndjson(records)))
    progress_left(objectstorage, NAME, records, delivered=10)
    objectstorage.delete(objectstorage.namespace, BUCKET, NAME)  # the lifecycle rule took it

    answer = function.invoke({"objects": [NAME]})
    assert answer.status == 502, answer.text
    assert "gone" in answer.text
    assert "ObjectNotFound" in answer.text
    assert "a listing of its name finds nothing" in answer.text
    assert "the object is not tried again" in answer.text
    saved = progress_of(objectstorage, NAME)
    assert (saved["settled"], saved["done"], saved["loss"]["delivered_records"]) == ("gone", True, 10)
    assert listings_of(objectstorage, NAME) == 1
    assert listener.requests == []


def test_an_objects_request_for_a_missing_object_says_it_does_not_exist_and_promises_nothing(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    answer = function.invoke({"objects": [NAME]})
    assert answer.status == 502, answer.text
    assert f"{NAME} does not exist" in answer.text
    assert "nothing was read or sent, and nothing will try it again" in answer.text
    assert "Catch-up" not in answer.text
    assert '{"objects": [' not in answer.text, "no payload that would 'finish' it"
    assert objectstorage.names(objectstorage.namespace, BUCKET, STATE_PREFIX) == [CURSOR_KEY], "nothing recorded"
    assert listener.requests == []


# ----- catch-up from the first invocation -------------------------------------------------------------------------


def test_the_first_invocation_fails_in_a_listener_outage_and_still_draws_the_starting_line(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """The first invocation on a fresh bucket fails at its deadline during a listener outage (the listener takes
    the batch and never answers, so no time is left for a catch-up pass); an object then lands with no event; the
    next event, for another object, finishes both."""
    function = start_function(batch_max_bytes=str(SMALL_CAP), deadline_margin_seconds="1", catch_up_after_seconds="1")
    a, b, c = make_records("outage-a", 20), make_records("outage-b", 12), make_records("outage-c", 7)
    put(objectstorage, name(1), gz(ndjson(a)))
    listener.fail_always(503)
    listener.hold_after(0)
    before = datetime.now(UTC)
    failed = invoke_event(function, objectstorage, name(1), deadline=in_seconds(4))  # no warm-up: the very first
    assert failed.status == 502, failed.text
    assert "Catch-up finishes them in later invocations" in failed.text
    assert [r for r in objectstorage.requests if r.operation == "ListObjects"] == [], "no catch-up pass ran"
    assert objectstorage.exists(objectstorage.namespace, BUCKET, CURSOR_KEY), "the failed invocation drew the line"
    cursor = json.loads(objectstorage.get(objectstorage.namespace, BUCKET, CURSOR_KEY))
    assert before <= datetime.fromisoformat(cursor["first_seen"]) <= datetime.now(UTC), "drawn by the failed one"

    held = listener.arrived
    listener.release()  # the held batch is answered 503, to nobody
    listener.wait_for(recorded=held)
    listener.heal()
    started_ago(objectstorage, timedelta(hours=1))  # as if the outage was an hour ago
    put(objectstorage, name(2), gz(ndjson(b)), created=datetime.now(UTC) - timedelta(minutes=30))  # no event comes
    put(objectstorage, name(3), gz(ndjson(c)))
    answer = invoke_event(function, objectstorage, name(3))
    assert answer.status == 200, answer.text
    result = answer.json()
    assert (result["object"], result["status"]) == (name(3), "forwarded")
    catch_up = result["catch_up"]
    assert sorted((o["object"], o["status"]) for o in catch_up["objects"]) == [
        (name(1), "forwarded"),
        (name(2), "forwarded"),
    ]
    assert (catch_up["finished"], catch_up["records"], catch_up["left"]) == (2, 20 + 12, 0)
    assert_each_once(listener.records, a + b + c)


# ----- what a failed invocation reports ---------------------------------------------------------------------------


def test_a_batch_that_fails_for_good_reports_every_attempt_it_made(
    start_function: StartFunction,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    function = start_function()
    records = make_records("attempts", 5)  # one batch
    put(objectstorage, NAME, gz(ndjson(records)))
    listener.script(503, 503)  # two transient failures, then the token is refused
    listener.fail_always(401)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 502, answer.text
    assert "rejected the shipping token (HTTP 401" in answer.text
    assert [r.status for r in listener.requests] == [503, 503, 401]
    function.stop()
    (summary,) = summaries(function)
    assert (summary["requests"], summary["retries"], summary["batches"]) == (3, 2, 1)
    assert summary["bytes_out"] == sum(r.compressed_size for r in listener.requests)
    assert (summary["acknowledged"], summary["not_delivered"]) == (0, 5)
    assert (monitoring.total("ListenerRetries"), monitoring.total("RecordsNotDelivered")) == (2, 5)


# ----- session tokens expire; the platform rotates them in the files --------------------------------------------


def test_an_invocation_that_outlives_two_token_lifetimes_signs_every_request_with_a_valid_token(
    *,
    tmp_path: Path,
    fdk_function: FdkFactory,
    seen: Seen,
    objectstorage: ObjectStorageStandin,
    monitoring: MonitoringStandin,
    listener: LogzioListenerStandin,
) -> None:
    """The function's resource principal issues 20-second tokens. Twice during the invocation a token lifetime
    passes for the services at once (no waiting) and the platform writes a new token and key into the files: as the
    lease is taken, and as the object's last progress is written. The services refuse an expired token, so no
    request may be signed with the one held before a rotation.

    What the SDK reads is the token's ``exp``: every token here is within the SDK's 60-second margin of it by the
    function's own clock (the services' clock runs ahead by the lifetimes passed; a token issued after two of
    them ends 40 s from the function's now), so the function must read the files again before it signs."""
    life = 20
    own = make_principal(tmp_path / "rp", lifetime_s=life)
    objectstorage.trust(own)
    monitoring.trust(own)
    issued = [own.key_id]
    started = own.now()

    def a_lifetime_passes() -> None:
        own.advance(life)  # the token the function signs with runs out ...
        own.rotate(lifetime_s=life)  # ... and the platform has put the next one in the files
        issued.append(own.key_id)

    records = make_records("rotated", 40)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(Before(a_lifetime_passes), "PutObject", KEY, conditional=True)  # the lease is taken
    objectstorage.inject(Before(a_lifetime_passes), "PutObject", KEY, body_contains=b'"done":true')  # released
    function = Function(fdk_function(batch_max_bytes=str(SMALL_CAP), principal_env=False, extra_env=own.env()), seen)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json()["records"]) == ("forwarded", 40)
    assert_each_once(listener.records, records)

    assert own.now() - started >= 2 * life, "two lifetimes passed for the services"
    assert len(issued) == 3
    requests = [(r.auth_error, r.status, _key_id(r.headers)) for r in objectstorage.requests]
    requests += [(p.auth_error, p.status, _key_id(p.headers)) for p in monitoring.posts]
    assert [(error, status) for error, status, _ in requests if error or status == 401] == [], "no expired token"
    used = list(Counter(key for _, _, key in requests))
    assert used == issued, "each token in turn, from the first request after its rotation"
    assert monitoring.posts, "the metrics were posted too, with the last token"


def _key_id(headers: Any) -> str:
    found = re.search(r'keyId="([^"]+)"', str(headers.get("authorization", "")))
    return found.group(1) if found else ""
