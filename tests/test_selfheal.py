"""Self-healing delivery: leases keep two invocations from sending one object, and catch-up finishes failed,
killed and missed objects without an operator. Every test runs the real function under fdk against the stand-ins
and checks, record by record, what reached the listener.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from standins import commandline
from standins.fdkserver import Invocation
from standins.listener import LogzioListenerStandin
from standins.objectstorage import Collide, ObjectStorageStandin
from tests.conftest import TEST_TOKEN
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    SMALL_CAP,
    STATE_PREFIX,
    Function,
    Seen,
    assert_each_once,
    connector_name,
    gz,
    in_seconds,
    invoke_event,
    lease_lapsed,
    make_records,
    ndjson,
    progress_of,
    put,
    run_cli,
    started_ago,
)

pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere, every request well formed

CONNECTOR = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.heal/"


def name(n: int) -> str:
    return connector_name(CONNECTOR, n)


def requests_during(objectstorage: ObjectStorageStandin, action: Callable[[], Invocation]) -> tuple[Invocation, int]:
    """Run ``action``; return its answer and how many Object Storage requests it made."""
    before = len(objectstorage.requests)
    answer = action()
    return answer, len(objectstorage.requests) - before


# ----- catch-up finishes failed and missed objects -------------------------------------------------------------------


def test_a_failed_object_and_a_missed_one_are_finished_by_the_next_event_without_a_replay(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP), deadline_margin_seconds="1", catch_up_after_seconds="1")
    function.warm_up()  # the first invocation on the bucket: catch-up starts here
    started_ago(objectstorage, timedelta(hours=1))
    a, b, c = make_records("heal-a", 20), make_records("heal-b", 9), make_records("heal-c", 14)

    listener.fail_always(503)  # the listener is down while A is forwarded
    put(objectstorage, name(1), gz(ndjson(a)))
    failed = invoke_event(function, objectstorage, name(1), deadline=in_seconds(4))
    assert failed.status == 502, failed.text
    assert "records not delivered" in failed.text
    assert "Catch-up finishes them" in failed.text

    listener.heal()  # the listener is back; C lands, but its event never reaches the function
    put(objectstorage, name(2), gz(ndjson(c)), created=datetime.now(UTC) - timedelta(minutes=30))
    put(objectstorage, name(3), gz(ndjson(b)))
    answer = invoke_event(function, objectstorage, name(3))
    assert answer.status == 200, answer.text
    result = answer.json()
    assert (result["object"], result["status"], result["records"]) == (name(3), "forwarded", 9)
    catch_up = result["catch_up"]
    assert (catch_up["finished"], catch_up["records"], catch_up["left"]) == (2, 20 + 14, 0)
    # oldest first: C was created half an hour ago, before A was forwarded
    assert [o["object"] for o in catch_up["objects"]] == [name(2), name(1)]
    assert_each_once(listener.records, a + b + c)
    assert all(progress_of(objectstorage, key)["done"] for key in (name(1), name(2), name(3)))
    assert objectstorage.names(objectstorage.namespace, BUCKET, "forwarder-state/.pending/") == []
    assert '"catch_up":{"finished":2,"records":34,"left":0' in function.final_logs(), "the summary line says it too"


def test_a_failing_object_is_retried_at_growing_intervals_not_by_every_invocation(
    hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    first, second = make_records("retry-1", 10), make_records("retry-2", 6)
    put(objectstorage, name(1), gz(ndjson(first)))
    listener.fail_always(503)
    assert invoke_event(hurried, objectstorage, name(1), deadline=in_seconds(3)).status == 502
    assert progress_of(objectstorage, name(1))["failures"] == 1

    # still down: the next invocation (its own object does not exist) retries #1 in its catch-up, which fails again
    again = hurried.invoke({"objects": ["audit/none/absent.log.gz"]}, deadline=in_seconds(4))
    assert again.status == 502
    assert name(1) not in again.text, "a catch-up object failing again does not fail the invocation"
    saved = progress_of(objectstorage, name(1))
    assert saved["failures"] == 2
    assert datetime.fromisoformat(saved["retry_at"]) > datetime.now(UTC) + timedelta(seconds=50)

    listener.heal()
    put(objectstorage, name(2), gz(ndjson(second)))
    answer = invoke_event(hurried, objectstorage, name(2))
    assert answer.status == 200, answer.text
    assert answer.json()["catch_up"] == {"finished": 0, "records": 0, "left": 1}, "#1 waits for its retry time"
    assert_each_once(listener.records, second)


def test_a_damaged_object_fails_once_then_is_reported_as_damaged_and_never_retried(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("damaged", 30)
    data = gz(ndjson(records))
    put(objectstorage, name(1), data[: len(data) * 2 // 3])
    first = invoke_event(function, objectstorage, name(1))
    assert first.status == 502, first.text
    assert "damaged" in first.text
    assert "truncated" in first.text
    assert "the rest is lost and the object is not tried again" in first.text
    shipped = len(listener.records)
    assert 0 < shipped < len(records)
    saved = progress_of(objectstorage, name(1))
    assert (saved["done"], saved["settled"]) == (True, "damaged")
    assert "truncated" in saved["loss"]["why"]

    replay = function.invoke({"replay": {"prefix": "audit/"}})
    assert replay.status == 200, replay.text
    (report,) = replay.json()["objects"]
    assert (report["object"], report["status"], report["loss"]) == (name(1), "damaged", saved["loss"])
    assert len(listener.records) == shipped, "nothing is sent again"
    again = function.invoke({"objects": [name(1)]})
    assert again.status == 200, again.text
    assert again.json()["status"] == "damaged"


def test_one_poison_object_does_not_starve_the_others_and_is_named(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP), catch_up_after_seconds="1")
    function.warm_up()
    started_ago(objectstorage, timedelta(hours=1))
    poison, missed, other = make_records("poison", 40), make_records("missed", 8), make_records("other", 5)
    put(objectstorage, name(1), gz(ndjson(poison)))
    objectstorage.fail_next("GET", f"/o/{name(1)}", 403, times=2)  # reading this one object is refused, twice
    assert invoke_event(function, objectstorage, name(1)).status == 502
    put(objectstorage, name(2), gz(ndjson(missed)), created=datetime.now(UTC) - timedelta(minutes=30))
    put(objectstorage, name(3), gz(ndjson(other)))

    answer = invoke_event(function, objectstorage, name(3))
    assert answer.status == 200, answer.text
    catch_up = answer.json()["catch_up"]
    assert catch_up["gave_up"] == [name(1)]
    assert sorted((o["object"], o["status"]) for o in catch_up["objects"]) == [
        (name(1), "failed"),
        (name(2), "forwarded"),
    ]
    assert (catch_up["finished"], catch_up["left"]) == (1, 1)
    assert_each_once(listener.records, other + missed)
    assert progress_of(objectstorage, name(1))["failures"] == 2


# ----- leases: never two senders ----------------------------------------------------------------------------------


@pytest.mark.parametrize("race", [412, 409], ids=["precondition-failed", "concurrent-object-update"])
def test_the_same_event_in_two_function_processes_at_once_is_forwarded_once(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, race: int
) -> None:
    """Both processes read no record and both write the lease at once: the stand-in holds the first write until the
    second arrives, then answers the second as Object Storage answers a write that raced another (412, or 409
    ``ConcurrentObjectUpdate``). Either way it is a lost race, not an error: exactly one process sends."""
    first, second = start_function(batch_max_bytes=str(SMALL_CAP)), start_function(batch_max_bytes=str(SMALL_CAP))
    first.warm_up()
    second.warm_up()
    records = make_records("twice-at-once", 40)
    put(objectstorage, name(1), gz(ndjson(records)))
    objectstorage.inject(Collide(race), "PutObject", f"{STATE_PREFIX}{name(1)}.json", conditional=True)
    start = threading.Barrier(2)
    answers: dict[int, Invocation] = {}

    def invoke(index: int, function: Function) -> None:
        start.wait()
        answers[index] = invoke_event(function, objectstorage, name(1))

    threads = [threading.Thread(target=invoke, args=(i, f)) for i, f in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status for a in answers.values()) == [200, 200], [a.text for a in answers.values()]
    reports = sorted((a.json() for a in answers.values()), key=lambda r: str(r["status"]))
    assert [(r["status"], r.get("error")) for r in reports] == [("forwarded", None), ("in-progress", None)]
    assert reports[1]["requests"] == 0, "the loser sent nothing"
    assert [r.status for r in objectstorage.requests if r.fault] == [200, race], "the two lease writes collided"
    assert_each_once(listener.records, records)
    assert progress_of(objectstorage, name(1))["done"] is True


def test_a_process_killed_mid_object_is_taken_over_after_its_deadline_by_a_fresh_one(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    killed = start_function(batch_max_bytes=str(SMALL_CAP), deadline_margin_seconds="0")
    killed.warm_up()
    records = make_records("killed", 60)
    put(objectstorage, name(1), gz(ndjson(records)))
    listener.hold_after(2)  # two batches are acknowledged; later ones stay in flight
    deadline = in_seconds(5)  # ample for two batches even on a busy machine; the lease lapses 10 s after it
    caller = threading.Thread(
        target=_ignore_errors, args=(lambda: invoke_event(killed, objectstorage, name(1), deadline=deadline),)
    )
    caller.start()
    listener.wait_for(arrived=3, recorded=2)  # two acknowledged, a third sent and not answered
    killed.server.kill()
    caller.join(30)
    recorded = progress_of(objectstorage, name(1))
    assert recorded["lease"]["holder"], "the killed holder's lease stays until it lapses"
    listener.release()  # the batches in flight reach the listener after all
    listener.wait_for(recorded=listener.arrived)
    delivered_before = {r["id"] for r in listener.records}

    fresh = start_function(batch_max_bytes=str(SMALL_CAP))
    fresh.warm_up()
    lapses = datetime.fromisoformat(recorded["lease"]["until"])
    assert lapses <= deadline.replace(microsecond=0) + timedelta(seconds=10), "the lease ends by deadline + grace"
    before = invoke_event(fresh, objectstorage, name(1))
    assert (before.status, before.json()["status"]) == (200, "in-progress"), "until then it is the killed holder's"
    lease_lapsed(objectstorage, name(1))  # deadline and grace have gone by (a wall-clock time: not waited for)
    other = make_records("after-kill", 4)
    put(objectstorage, name(2), gz(ndjson(other)))
    answer = invoke_event(fresh, objectstorage, name(2))
    assert answer.status == 200, answer.text
    (taken_over,) = answer.json()["catch_up"]["objects"]
    assert (taken_over["object"], taken_over["status"]) == (name(1), "forwarded")
    assert taken_over["resumed_at_record"] == recorded["records"]

    counts = Counter(r["id"] for r in listener.records)
    assert set(counts) == {r["id"] for r in records + other}, "no record is missing"
    twice = {i for i, n in counts.items() if n > 1}
    in_flight = {r["id"] for r in records[recorded["records"] :]} & delivered_before
    assert twice <= in_flight, "only batches sent but not recorded as acknowledged at the kill are sent twice"
    assert all(n <= 2 for n in counts.values())


def _ignore_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(OSError):  # the connection to the killed process breaks
        call()


def test_the_cli_replay_respects_a_live_lease(
    tmp_path: Any, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, seen: Seen
) -> None:
    config = commandline.api_key_config(tmp_path, objectstorage, profile="ci")
    held, free = make_records("leased", 6), make_records("free", 7)
    etag = put(objectstorage, name(1), gz(ndjson(held)), created=datetime.now(UTC) - timedelta(minutes=5))
    put(objectstorage, name(2), gz(ndjson(free)), created=datetime.now(UTC) - timedelta(minutes=4))
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    record = {"version": 1, "etag": etag, "records": 0, "offset": 0, "lease": {"holder": "fn/other", "until": until}}
    objectstorage.put(objectstorage.namespace, BUCKET, f"forwarder-state/{name(1)}.json", json.dumps(record).encode())
    done = run_cli(
        "replay",
        *commandline.replay_flags(objectstorage, config, profile="ci"),
        "--url",
        listener.url,
        token=TEST_TOKEN,
    )
    seen.texts += [done.stdout.decode(), done.stderr.decode()]
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [(r["object"], r["status"]) for r in reports] == [(name(1), "in-progress"), (name(2), "forwarded")]
    assert_each_once(listener.records, free)  # sent from a workstation: the profile's region
    assert progress_of(objectstorage, name(1))["lease"]["holder"] == "fn/other"


# ----- what catch-up costs --------------------------------------------------------------------------------------------


def test_a_catch_up_pass_over_ten_thousand_finished_objects_stays_within_25_requests(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(catch_up_after_seconds="60")
    function.warm_up()
    started_ago(objectstorage, timedelta(days=1))
    created = datetime.now(UTC) - timedelta(hours=2)
    finished = {"version": 1, "records": 3, "offset": 100, "done": True}
    for n in range(10_000):
        key = f"audit/ocid1.serviceconnector.oc1..c{n % 3}/20261101T{n:06d}Z.log.gz"
        etag = put(objectstorage, key, b"{}", created=created)
        body = json.dumps({**finished, "etag": etag}).encode()
        objectstorage.put(objectstorage.namespace, BUCKET, f"forwarder-state/{key}.json", body)
    done_key = "audit/ocid1.serviceconnector.oc1..c0/20261101T000000Z.log.gz"
    counts = []
    for _ in range(3):  # the first passes walk the history within their budget; then a pass costs a few requests
        answer, count = requests_during(objectstorage, lambda: function.invoke({"objects": [done_key]}))
        assert answer.status == 200, answer.text
        assert answer.json()["status"] == "already-forwarded"
        assert answer.json()["catch_up"] == {"finished": 0, "records": 0, "left": 0}
        counts.append(count)
    assert max(counts) <= 25, counts
    # once the history is walked: 3 requests for the command (namespace, record, object), and for the pass the
    # cursor, the pending markers, and one listing per connector folder plus one
    assert counts[-1] - 3 <= 6, counts
    assert listener.requests == []


def test_catch_up_off_sends_nothing_extra(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(batch_max_bytes=str(SMALL_CAP), deadline_margin_seconds="1", catch_up="off")
    function.warm_up()
    put(objectstorage, name(1), gz(ndjson(make_records("off-failed", 10))))
    listener.fail_always(503)
    assert invoke_event(function, objectstorage, name(1), deadline=in_seconds(3)).status == 502
    listener.heal()
    listener.reset()
    other = make_records("off-other", 6)
    put(objectstorage, name(2), gz(ndjson(other)))
    operations_before = len(objectstorage.requests)
    answer = invoke_event(function, objectstorage, name(2))
    assert answer.status == 200, answer.text
    assert "catch_up" not in answer.json()
    assert_each_once(listener.records, other)
    assert "ListObjects" not in [r.operation for r in objectstorage.requests[operations_before:]]
    assert progress_of(objectstorage, name(1))["done"] is False
