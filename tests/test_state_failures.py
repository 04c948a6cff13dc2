"""Every way the forwarder's own state can fail, injected into the Object Storage stand-in, end to end.

The progress records, pending markers and catch-up cursor live in the input bucket; each test makes one request
on them fail (an error other than the ones that mean "absent" or "lost a race"), answers with content that is not
a record, loses an answer, or lets another writer in first, and shows what a user sees (the answer, the summary,
the metrics) and that across the invocations that follow every record arrives exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import Before, Corrupt, Fail, LoseAnswer, ObjectStorageStandin, Truncate
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    CURSOR_KEY,
    SMALL_CAP,
    STATE_PREFIX,
    Function,
    assert_each_once,
    connector_name,
    finish_by_request,
    gz,
    in_seconds,
    invoke_event,
    lease_lapsed,
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

FOLDER = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.state/"
NAME = connector_name(FOLDER, 1)
OTHER = connector_name(FOLDER, 2)
KEY = f"{STATE_PREFIX}{NAME}.json"
MARKER = f"{STATE_PREFIX}.pending/{NAME}"
REFUSED = Fail(403, "NotAllowed", "injected: the request is not allowed")
"""A failure the SDK does not retry (a 5xx would be retried first: same path, slower test)."""


def stored(objectstorage: ObjectStorageStandin, key: str) -> bytes:
    return objectstorage.get(objectstorage.namespace, BUCKET, key)


def exists(objectstorage: ObjectStorageStandin, key: str) -> bool:
    return objectstorage.exists(objectstorage.namespace, BUCKET, key)


def with_progress(objectstorage: ObjectStorageStandin, tag: str, count: int, delivered: int) -> list[dict[str, Any]]:
    """NAME with ``count`` records, of which an earlier invocation delivered ``delivered`` (and then stopped)."""
    records = make_records(tag, count)
    put(objectstorage, NAME, gz(ndjson(records)))
    progress_left(objectstorage, NAME, records, delivered, batches=2)
    return records


def other_event(function: Function, objectstorage: ObjectStorageStandin, tag: str) -> tuple[Any, list[Any]]:
    """A later event, for another object: its answer (200 expected) and that object's records."""
    records = make_records(tag, 5)
    put(objectstorage, OTHER, gz(ndjson(records)))
    answer = invoke_event(function, objectstorage, OTHER)
    assert answer.status == 200, answer.text
    return answer.json(), records


# ----- the progress store (bucket.py, state.py) ---------------------------------------------------------------------


def test_a_progress_read_that_fails_fails_the_object_and_catch_up_finishes_it(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    records = make_records("read-fails", 20)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "GetObject", KEY)
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert f"cannot read oci://{BUCKET}@{objectstorage.namespace}/{KEY}: HTTP 403 NotAllowed" in failed.text
    assert "Catch-up finishes them in later invocations" in failed.text
    assert (monitoring.total("ObjectsFailed"), monitoring.total("RecordsForwarded")) == (1, 0)
    assert listener.requests == []
    assert exists(objectstorage, MARKER), "marked, so catch-up keeps the promise (the object predates the cursor)"

    answer, other = other_event(function, objectstorage, "read-fails-later")
    assert [(o["object"], o["status"]) for o in answer["catch_up"]["objects"]] == [(NAME, "forwarded")]
    assert_each_once(listener.records, records + other)


@pytest.mark.parametrize(
    ("served", "says"),
    [
        (b"\x1f\x8b not json", "is not a JSON object"),
        (b'{"version": 1, "etag": "e", "records": "ten", "offset": 0}', "is not a progress record"),
    ],
    ids=["not-json", "wrong-types"],
)
def test_a_progress_record_served_as_garbage_is_not_trusted_and_not_overwritten(
    served: bytes,
    says: str,
    *,
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    records = with_progress(objectstorage, "garbage-once", 30, delivered=10)
    kept = stored(objectstorage, KEY)
    objectstorage.inject(Corrupt(served), "GetObject", KEY)
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert f"progress record oci://{BUCKET}@{objectstorage.namespace}/{KEY} {says}" in failed.text
    assert "delete it to forward the object from its start" in failed.text
    assert listener.requests == [], "how far delivery got is unknown: nothing is sent"
    assert stored(objectstorage, KEY) == kept, "the record is not overwritten"

    finish_by_request(function, NAME, resumed_at=10)  # read as stored this time: delivery resumes where it was
    assert_each_once(listener.records, records[10:])  # had it started over, records 0-9 would arrive twice


def test_a_progress_record_of_another_version_is_left_alone_by_the_event_and_by_catch_up(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("version-2", 12)
    put(objectstorage, NAME, gz(ndjson(records)))
    progress_left(objectstorage, NAME, records, delivered=5)  # every member this forwarder knows, but ...
    newer = json.dumps({**progress_of(objectstorage, NAME), "version": 2}).encode()  # ... what they mean may differ
    objectstorage.put(objectstorage.namespace, BUCKET, KEY, newer)
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert "has version 2 (this forwarder reads 1)" in failed.text

    answer, other = other_event(function, objectstorage, "version-2-other")  # catch-up goes on past it
    catch_up = answer["catch_up"]
    assert (catch_up["gave_up"], catch_up["left"]) == ([NAME], 1)
    (report,) = catch_up["objects"]
    assert "has version 2 (this forwarder reads 1)" in report["error"]
    assert stored(objectstorage, KEY) == newer
    assert_each_once(listener.records, other)

    objectstorage.delete(objectstorage.namespace, BUCKET, KEY)  # what the message tells a person to do
    again = function.invoke({"objects": [NAME]})
    assert again.status == 200, again.text
    assert_each_once(listener.records, records + other)


def test_a_pending_marker_that_cannot_be_deleted_costs_nothing_and_catch_up_removes_it(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP))  # its own: its log is read at the end
    records = make_records("marker-stays", 15)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "DeleteObject", MARKER)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json().get("error")) == ("forwarded", None)
    assert progress_of(objectstorage, NAME)["done"] is True
    assert exists(objectstorage, MARKER)

    later, other = other_event(function, objectstorage, "marker-stays-later")
    assert later["catch_up"] == {"finished": 0, "records": 0, "left": 0}
    assert not exists(objectstorage, MARKER)
    assert_each_once(listener.records, records + other)
    assert f"{NAME} is done but its pending marker stays (cannot delete" in function.final_logs()


def test_a_pending_marker_answered_with_a_404_that_is_not_object_not_found_is_not_taken_as_deleted(
    hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("marker-404", 15)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(Fail(404, "NotAuthorizedOrNotFound"), "DeleteObject", MARKER, times=100)
    answer = invoke_event(hurried, objectstorage, NAME, deadline=in_seconds(6))
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json().get("error")) == ("forwarded", None)
    assert exists(objectstorage, MARKER)
    assert f"{NAME} is done but its pending marker stays (cannot delete" in hurried.final_logs()
    assert_each_once(listener.records, records)


def test_a_marker_that_catch_up_cannot_delete_either_is_left_for_the_next_pass_and_stops_nothing(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("marker-stays-twice", 15)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "DeleteObject", MARKER, times=2)  # the release's delete, then the pass's
    assert invoke_event(function, objectstorage, NAME).status == 200

    later, other = other_event(function, objectstorage, "marker-stays-twice-later")
    assert later["catch_up"] == {"finished": 0, "records": 0, "left": 0}, "no error: the pass went on"
    assert exists(objectstorage, MARKER)
    again, more = other_event(function, objectstorage, "marker-stays-twice-again")
    assert again["catch_up"] == {"finished": 0, "records": 0, "left": 0}
    assert not exists(objectstorage, MARKER)
    assert_each_once(listener.records, records + other + more)


def test_a_marker_write_that_races_another_write_of_the_same_marker_is_success(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """The marker is written unconditionally; Object Storage may still answer 409 ``ConcurrentObjectUpdate`` when
    another write of the same name is in progress. Both wrote the same empty marker: nothing was lost."""
    records = make_records("marker-409", 15)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(Fail(409, "ConcurrentObjectUpdate"), "PutObject", MARKER)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json().get("error")) == ("forwarded", None)
    assert [r.status for r in requests_to(objectstorage, "PutObject", MARKER)] == [409]
    assert_each_once(listener.records, records)


def test_a_pending_marker_of_an_object_that_never_got_a_record_and_is_gone_is_removed_by_catch_up(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """A marker is written before the lease: one whose lease write failed and whose object was then deleted has
    nothing behind it. The pass that finds the object gone says so (its records never arrived: a loss), records
    nothing, and removes the marker, so it is said once."""
    objectstorage.put(objectstorage.namespace, BUCKET, MARKER, b"")  # NAME itself is not in the bucket
    records = make_records("marker-of-nothing", 5)
    put(objectstorage, OTHER, gz(ndjson(records)))
    found = invoke_event(function, objectstorage, OTHER)
    assert found.status == 502, found.text
    assert found.text.startswith(f"catch-up: oci://{BUCKET}@{objectstorage.namespace}/{NAME}: gone: ")
    assert "a listing of its name finds nothing; nothing was read or sent, and nothing will try it again" in found.text
    assert not exists(objectstorage, KEY), "nothing is recorded for it"
    assert not exists(objectstorage, MARKER)
    assert_each_once(listener.records, records)

    again = function.invoke({"objects": [OTHER]})  # a later invocation's pass
    assert again.status == 200, again.text
    assert again.json()["catch_up"] == {"finished": 0, "records": 0, "left": 0}


def test_a_lease_write_that_fails_sends_nothing_and_catch_up_finishes_the_object(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP))
    records = make_records("lease-refused", 15)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "PutObject", KEY, conditional=True)
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert f"cannot write oci://{BUCKET}@{objectstorage.namespace}/{KEY}: HTTP 403" in failed.text
    assert listener.requests == []
    assert not exists(objectstorage, KEY)

    later, other = other_event(function, objectstorage, "lease-refused-later")
    assert [(o["object"], o["status"]) for o in later["catch_up"]["objects"]] == [(NAME, "forwarded")]
    assert_each_once(listener.records, records + other)
    function.stop()
    first = summaries(function)[0]
    assert (first["object"], first["status"], first["requests"], first["records"]) == (NAME, "failed", 0, 0)
    assert f"cannot write oci://{BUCKET}@{objectstorage.namespace}/{KEY}" in first["error"]


def test_a_listing_that_fails_stops_catch_up_or_a_replay_with_a_clear_error(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("listing-fails", 8)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "ListObjects", "audit")  # catch-up's look for missed objects
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    report = answer.json()
    assert report["status"] == "forwarded", "the event's own work is not affected"
    assert f"cannot list oci://{BUCKET}@{objectstorage.namespace}/audit*: HTTP 403" in report["catch_up"]["error"]

    objectstorage.inject(REFUSED, "ListObjects", "audit/")
    replay = function.invoke({"replay": {"prefix": "audit/"}})
    assert replay.status == 502, replay.text
    assert f"cannot list oci://{BUCKET}@{objectstorage.namespace}/audit/*: HTTP 403" in replay.text
    assert_each_once(listener.records, records)


def test_a_replay_that_cannot_read_a_progress_record_while_listing_still_forwards_the_object(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """The replay's look at each record is a first sorting; forwarding reads the record again, so a read that
    failed once costs nothing (and one that fails again fails that object with the reason, as an event would)."""
    function = start_function(batch_max_bytes=str(SMALL_CAP))  # its own: reading its complete log stops it
    records = with_progress(objectstorage, "replay-record", 20, delivered=8)
    objectstorage.inject(REFUSED, "GetObject", KEY)  # the replay's listing pass
    answer = function.invoke({"replay": {"prefix": FOLDER}})
    assert answer.status == 200, answer.text
    [report] = answer.json()["objects"]
    assert (report["object"], report["status"], report["resumed_at_record"]) == (NAME, "forwarded", 8)
    assert_each_once(listener.records, records[8:])
    assert f"replay: cannot read oci://{BUCKET}@{objectstorage.namespace}/{KEY}: HTTP 403" in function.final_logs()


def test_a_namespace_lookup_that_fails_fails_the_request_before_anything_is_read(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("namespace", 6)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "GetNamespace")
    failed = function.invoke({"objects": [NAME]})  # names no namespace, and the config has none
    assert failed.status == 502, failed.text
    assert "cannot look up the Object Storage namespace: HTTP 403 NotAllowed" in failed.text
    assert [r.operation for r in objectstorage.requests] == ["GetNamespace"]
    answer = function.invoke({"objects": [NAME]})
    assert answer.status == 200, answer.text
    assert_each_once(listener.records, records)


def test_a_download_that_breaks_more_often_than_it_may_be_resumed_fails_and_is_finished_later(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("breaks", 120)
    data = gz(ndjson(records))
    put(objectstorage, NAME, data)
    objectstorage.inject(Truncate(len(data) // 6), "GetObject", NAME, times=4)  # the first read and 3 resumes
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert "could not be resumed" in failed.text
    saved = progress_of(objectstorage, NAME)
    assert (saved["done"], saved["settled"], saved["failures"]) == (False, "", 1)
    assert_each_once(listener.records, records[: saved["records"]])

    finish_by_request(function, NAME, resumed_at=saved["records"])
    assert_each_once(listener.records, records)


def test_a_download_that_breaks_near_the_deadline_is_not_resumed_and_is_finished_later(
    hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """With less than five seconds left, a ranged GET could not finish: the object stops where it broke."""
    records = make_records("breaks-late", 120)
    data = gz(ndjson(records))
    put(objectstorage, NAME, data)
    objectstorage.inject(Truncate(len(data) // 2), "GetObject", NAME)
    failed = invoke_event(hurried, objectstorage, NAME, deadline=in_seconds(4))
    assert failed.status == 502, failed.text
    assert "could not be resumed" in failed.text
    assert [r.status for r in requests_to(objectstorage, "GetObject", NAME)] == [200]
    saved = progress_of(objectstorage, NAME)
    assert_each_once(listener.records, records[: saved["records"]])

    finish_by_request(hurried, NAME, resumed_at=saved["records"])
    assert_each_once(listener.records, records)


# ----- the catch-up cursor (catchup.py) -------------------------------------------------------------------------


def test_a_cursor_that_cannot_be_read_leaves_the_invocations_work_alone_and_says_why(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("cursor-refused", 8)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "GetObject", CURSOR_KEY, times=2)  # at the start and again for the pass
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert answer.json()["status"] == "forwarded"
    assert answer.json()["catch_up"]["error"].startswith(f"cannot read oci://{BUCKET}@{objectstorage.namespace}/")
    assert not exists(objectstorage, CURSOR_KEY), "not created blindly over one that could not be read"
    assert_each_once(listener.records, records)


@pytest.mark.parametrize(
    ("content", "why", "rewrite"),
    [
        (b"\x00\x01", "is not a JSON object", "written at once"),
        (
            b'{"version": 2, "first_seen": "2026-11-01T00:00:00+00:00", "marks": {}}',
            "version 2, not a cursor",
            "written at once",
        ),
        (b"\x00\x01", "is not a JSON object", "refused, then written by the pass"),
    ],
    ids=["not-json", "another-version", "rewrite-refused"],
)
def test_a_cursor_that_cannot_be_read_starts_again_from_now_and_says_so(
    content: bytes,
    why: str,
    rewrite: str,
    *,
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
) -> None:
    objectstorage.put(objectstorage.namespace, BUCKET, CURSOR_KEY, content)
    if rewrite.startswith("refused"):
        objectstorage.inject(REFUSED, "PutObject", CURSOR_KEY)  # the restart's own write; the pass's save follows
    records = make_records("cursor-garbage", 8)
    put(objectstorage, NAME, gz(ndjson(records)))
    before = datetime.now(UTC)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    error = answer.json()["catch_up"]["error"]
    assert f"the catch-up cursor oci://{BUCKET}@{objectstorage.namespace}/{CURSOR_KEY} could not be read (" in error
    assert why in error
    assert "it starts again from now" in error
    assert "replay them" in error
    cursor = json.loads(stored(objectstorage, CURSOR_KEY))
    assert before <= datetime.fromisoformat(cursor["first_seen"]) <= datetime.now(UTC)
    writes = [r.status for r in requests_to(objectstorage, "PutObject", CURSOR_KEY)]
    assert writes == [403 if rewrite.startswith("refused") else 200, 200], "the pass saves its marks after"
    assert_each_once(listener.records, records)


def test_a_cursor_created_by_another_invocation_at_the_same_moment_keeps_its_starting_line(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP), catch_up_after_seconds="1")
    theirs = {"version": 1, "first_seen": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "marks": {}}

    def another_first_invocation() -> None:
        objectstorage.put(objectstorage.namespace, BUCKET, CURSOR_KEY, json.dumps(theirs).encode())

    objectstorage.inject(Before(another_first_invocation), "PutObject", CURSOR_KEY, conditional=True)
    missed = make_records("raced-missed", 9)  # landed half an hour ago; its event never came
    put(objectstorage, connector_name(FOLDER, 0), gz(ndjson(missed)), created=datetime.now(UTC) - timedelta(minutes=30))
    records = make_records("raced", 4)
    put(objectstorage, NAME, gz(ndjson(records)))
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert json.loads(stored(objectstorage, CURSOR_KEY))["first_seen"] == theirs["first_seen"]
    caught = answer.json()["catch_up"]["objects"]
    assert [(o["object"], o["status"]) for o in caught] == [(connector_name(FOLDER, 0), "forwarded")]
    assert_each_once(listener.records, missed + records)
    assert "catch-up cursor not read" not in function.final_logs(), "the winner's cursor read at once"


def test_marks_that_cannot_be_saved_cost_a_longer_walk_next_time_and_nothing_else(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP), catch_up_after_seconds="1")
    function.warm_up()  # draws the starting line
    started_ago(objectstorage, timedelta(hours=1))
    records = make_records("marks", 5)
    put(objectstorage, NAME, gz(ndjson(records)), created=datetime.now(UTC) - timedelta(minutes=30))
    objectstorage.inject(REFUSED, "PutObject", CURSOR_KEY)  # the pass's save of its marks
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert answer.json()["catch_up"] == {"finished": 0, "records": 0, "left": 0}, "not the user's concern"
    assert [r.status for r in objectstorage.requests if r.object_name == CURSOR_KEY][-1] == 403
    assert json.loads(stored(objectstorage, CURSOR_KEY))["marks"] == {}, "the mark past NAME was not saved"

    missed = make_records("marks-missed", 7)  # lands later, its event never comes
    late = connector_name(FOLDER, 3)
    put(objectstorage, late, gz(ndjson(missed)), created=datetime.now(UTC) - timedelta(minutes=20))
    later, other = other_event(function, objectstorage, "marks-later")
    assert [(o["object"], o["status"]) for o in later["catch_up"]["objects"]] == [(late, "forwarded")]
    assert json.loads(stored(objectstorage, CURSOR_KEY))["marks"] == {FOLDER: OTHER}, "walked again, then saved"
    assert_each_once(listener.records, records + other + missed)
    assert "catch-up marks not saved" in function.final_logs()


# ----- forwarding under a lease (forward.py, lease.py) -------------------------------------------------------------


def test_a_progress_write_that_fails_mid_object_stops_sending_and_the_next_invocation_resumes(
    function: Function,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    monitoring: MonitoringStandin,
) -> None:
    records = make_records("write-fails", 400)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "PutObject", KEY, skip=1, conditional=True)  # the first write after the lease
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert f"cannot write oci://{BUCKET}@{objectstorage.namespace}/{KEY}: HTTP 403" in failed.text
    saved = progress_of(objectstorage, NAME)  # the release recorded what was acknowledged
    assert saved["records"] < len(records) / 2, "sending stopped with the batches in flight"
    assert f"(delivered through record {saved['records']})" in failed.text
    assert (saved["done"], "lease" in saved, saved["failures"]) == (False, False, 1)
    assert monitoring.total("RecordsNotDelivered") == len(records) - saved["records"]
    assert_each_once(listener.records, records[: saved["records"]])

    finish_by_request(function, NAME, resumed_at=saved["records"])
    assert_each_once(listener.records, records)


def test_a_release_that_fails_is_reported_and_the_lapsed_lease_is_finished_without_resending(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("release-fails", 25)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(REFUSED, "PutObject", KEY, body_contains=b'"done":true')
    failed = invoke_event(function, objectstorage, NAME)
    assert failed.status == 502, failed.text
    assert "0 records not delivered (delivered through record 25)" in failed.text
    assert f"cannot write oci://{BUCKET}@{objectstorage.namespace}/{KEY}" in failed.text
    assert_each_once(listener.records, records)
    saved = progress_of(objectstorage, NAME)
    assert (saved["records"], saved["done"], bool(saved["lease"])) == (25, False, True), "every batch recorded"

    lease_lapsed(objectstorage, NAME)  # its holder's deadline and grace have gone by
    later, other = other_event(function, objectstorage, "release-fails-later")
    (finished,) = later["catch_up"]["objects"]
    assert (finished["object"], finished["status"], finished["batches"]) == (NAME, "forwarded", 0)
    assert progress_of(objectstorage, NAME)["done"] is True
    assert_each_once(listener.records, records + other)


def test_a_lease_race_lost_on_resume_leaves_the_object_to_the_winner(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = with_progress(objectstorage, "race-lost", 30, delivered=10)
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    winner = {**progress_of(objectstorage, NAME), "lease": {"holder": "fn/winner", "until": until}}

    def another_invocation_takes_it() -> None:
        objectstorage.put(objectstorage.namespace, BUCKET, KEY, json.dumps(winner).encode())

    objectstorage.inject(Before(another_invocation_takes_it), "PutObject", KEY, conditional=True)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json()["requests"]) == ("in-progress", 0)
    assert listener.requests == []
    assert progress_of(objectstorage, NAME)["lease"]["holder"] == "fn/winner"

    lease_lapsed(objectstorage, NAME)  # the winner was killed
    finish_by_request(function, NAME, resumed_at=10)
    assert_each_once(listener.records, records[10:])


@pytest.mark.parametrize("which", [0, 1], ids=["the-lease-write", "a-progress-write"])
def test_the_sdk_retrying_the_forwarders_own_conditional_write_is_not_a_lost_lease(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, which: int
) -> None:
    """The write is applied but its answer is lost; the SDK retries it and meets its own write (412). Reading the
    record back shows this holder's write, so forwarding goes on."""
    records = make_records(f"own-write-{which}", 30)
    put(objectstorage, NAME, gz(ndjson(records)))
    objectstorage.inject(LoseAnswer(), "PutObject", KEY, skip=which, conditional=True)
    answer = invoke_event(function, objectstorage, NAME)
    assert answer.status == 200, answer.text
    assert (answer.json()["status"], answer.json().get("error")) == ("forwarded", None)
    writes = [(r.fault, r.status) for r in requests_to(objectstorage, "PutObject", KEY)]
    assert writes[which : which + 2] == [("LoseAnswer", 200), ("", 412)], "the retry met the write it repeated"
    marked = [r.status for r in requests_to(objectstorage, "PutObject", MARKER)]
    assert marked == [200], "the object was claimed once: the 412 was read as this holder's own write"
    assert progress_of(objectstorage, NAME)["done"] is True
    assert_each_once(listener.records, records)
