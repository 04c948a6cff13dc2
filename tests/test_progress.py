"""Nothing lost, nothing doubled: progress objects, resumption, replays and the command line's ``replay``.

Each test drives the real function under fdk (or the CLI as a subprocess) against the stand-ins and checks, record
by record, that every source record reached the listener exactly once across all invocations.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from standins import commandline
from standins.listener import Answer, LogzioListenerStandin
from standins.objectstorage import ObjectStorageStandin
from tests.conftest import TEST_TOKEN
from tests.integration_fixtures import StartFunction
from tests.integration_support import (
    BUCKET,
    SMALL_CAP,
    Function,
    Seen,
    assert_each_once,
    event_for,
    get_objects,
    gz,
    in_seconds,
    make_records,
    ndjson,
    progress_of,
    put,
    record_ends,
    run_cli,
)

NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.test/20261101T100000Z_20261101T100700Z.0.log.gz"


pytestmark = pytest.mark.usefixtures("seen")  # the token is nowhere, every request well formed


def delivered_through(text: str) -> int:
    found = re.search(r"(?:after record|delivered through record) (\d+)", text)
    assert found is not None, text
    return int(found.group(1))


# ----- the listener fails for good ----------------------------------------------------------------------------------


def test_listener_failing_for_good_then_a_replay_delivers_the_rest_once(
    hurried: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("forgood", 40)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    # The first two batches are acknowledged, every later request fails (503). The first answer is slow, so the
    # pool's two workers cannot send the third batch before both of the first two have arrived.
    listener.script("slow:0.5")
    listener.fail_after(1, 503)
    deadline = in_seconds(3.5).replace(microsecond=0)  # Fn-Deadline carries whole seconds
    answer = hurried.invoke(event_for(objectstorage, NAME, etag), deadline=deadline)
    assert datetime.now(UTC) < deadline, "the invocation fails before its deadline"
    assert answer.status == 502, answer.text
    first = delivered_through(answer.text)
    assert f"oci://{BUCKET}@{objectstorage.namespace}/{NAME}:" in answer.text
    assert "records not delivered" in answer.text
    assert '{"objects": ["' + NAME + '"]}' in answer.text
    assert 0 < first < len(records)
    assert_each_once(listener.records, records[:first])  # exactly the first two batches
    assert sorted(r.status for r in listener.requests if r.status == 200) == [200, 200]
    saved = progress_of(objectstorage, NAME)
    assert (saved["records"], saved["batches"], saved["done"], saved["etag"]) == (first, 2, False, etag)
    assert saved["offset"] == record_ends(records)[first - 1]

    listener.heal()
    replay = hurried.invoke({"replay": {"prefix": "audit/"}})
    assert replay.status == 200, replay.text
    assert (replay.json()["left"], replay.json()["complete"]) == ([], True)
    (report,) = replay.json()["objects"]
    assert (report["object"], report["status"], report["resumed_at_record"]) == (NAME, "forwarded", first)
    assert report["records"] == len(records) - first
    assert_each_once(listener.records, records)  # the rest arrived; nothing acknowledged arrived twice
    assert progress_of(objectstorage, NAME)["done"] is True


def test_a_batch_acknowledged_after_an_earlier_one_failed_is_not_resent(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("outoforder", 30)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    # The first request to arrive (batch 0 or 1) fails for good after 0.5 s (Retry-After beyond the deadline);
    # meanwhile the other worker ships the other of the two and batch 2, and the listener acknowledges them.
    listener.script(Answer(503, retry_after=3600, delay_s=0.5))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 502, answer.text
    saved = progress_of(objectstorage, NAME)
    failed = saved["batches"]  # the prefix ends at the batch that failed: the first or the second sent
    assert failed in (0, 1)
    # the two batches after it were in flight (a window of three) and acknowledged; nothing after them was sent
    assert saved["acked"] == [failed + 1, failed + 2]
    assert Counter(r.status for r in listener.requests) == {200: failed + 2, 503: 1}
    replay = function.invoke({"objects": [NAME]})
    assert replay.status == 200, replay.text
    assert replay.json()["resumed_at_record"] == saved["records"]
    assert_each_once(listener.records, records)  # no acknowledged batch was sent again


# ----- the same event twice, a changed object ---------------------------------------------------------------------


def test_the_same_event_delivered_twice_forwards_the_records_once(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("twice", 15)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    event = event_for(objectstorage, NAME, etag)
    first = function.invoke(event)
    assert first.status == 200, first.text
    assert first.json()["status"] == "forwarded"
    requests = len(listener.requests)
    second = function.invoke(event)
    assert second.status == 200, second.text
    assert (second.json()["status"], second.json()["delivered_through_record"]) == ("already-forwarded", 15)
    assert len(listener.requests) == requests
    assert_each_once(listener.records, records)


def test_a_changed_object_is_forwarded_from_the_start(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    old, new = make_records("version1", 10), make_records("version2", 12)
    old_etag = put(objectstorage, NAME, gz(ndjson(old)))
    assert function.invoke(event_for(objectstorage, NAME, old_etag)).status == 200
    assert progress_of(objectstorage, NAME)["etag"] == old_etag

    new_etag = put(objectstorage, NAME, gz(ndjson(new)))
    assert new_etag != old_etag
    answer = function.invoke(event_for(objectstorage, NAME, new_etag))
    assert answer.status == 200, answer.text
    report = answer.json()
    assert (report["status"], report["resumed_at_record"], report["records"]) == ("forwarded", 0, 12)
    assert_each_once(listener.records, old + new)
    saved = progress_of(objectstorage, NAME)
    assert (saved["etag"], saved["records"], saved["done"]) == (new_etag, 12, True)


def test_a_changed_object_ignores_the_partial_progress_of_its_old_version(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("partial", 12)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    stale = {"version": 1, "etag": "etag-of-the-old-version", "records": 5, "offset": record_ends(records)[4]}
    objectstorage.put(objectstorage.namespace, BUCKET, f"forwarder-state/{NAME}.json", json.dumps(stale).encode())
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 200, answer.text
    assert (answer.json()["resumed_at_record"], answer.json()["records"]) == (0, 12)
    assert_each_once(listener.records, records)


# ----- an object too big for the deadline ---------------------------------------------------------------------------


def test_an_object_too_big_for_the_deadline_stops_with_progress_and_the_replay_finishes_it(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """The shared function stops starting batches when less than 10 s (its margin) are left.

    Fn-Deadline is now + 12.5 s, truncated to whole seconds: 11.5-12.5 s left, so batches 0, 1 and 2 start at
    once (two workers, a window of three). The listener holds its first two answers 3 s; batch 2 waits for a
    worker. After those 3 s at most 9.5 s are left: no batch 3 is started, batch 2 is still shipped (in flight),
    and the invocation stops with exactly three batches acknowledged and recorded.
    """
    function.warm_up()
    records = make_records("toobig", 40)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    listener.script("slow:3", "slow:3")
    answer = function.invoke(event_for(objectstorage, NAME, etag), deadline=in_seconds(12.5))
    assert answer.status == 502, answer.text
    assert "stopped before the invocation deadline" in answer.text
    assert '{"objects": ["' + NAME + '"]}' in answer.text
    first = delivered_through(answer.text)
    saved = progress_of(objectstorage, NAME)
    assert (saved["batches"], saved["records"], saved["done"], saved["etag"]) == (3, first, False, etag)
    assert saved["offset"] == record_ends(records)[first - 1]
    assert len(listener.requests) == 3
    assert_each_once(listener.records, records[:first])

    replay = function.invoke({"replay": {"prefix": "audit/"}})
    assert replay.status == 200, replay.text
    (report,) = replay.json()["objects"]
    assert (report["status"], report["resumed_at_record"], report["records"]) == ("forwarded", first, 40 - first)
    assert_each_once(listener.records, records)
    assert progress_of(objectstorage, NAME)["done"] is True


# ----- replays and progress objects -------------------------------------------------------------------------------


def test_a_replay_out_of_time_answers_with_what_is_left_and_a_later_one_finishes(
    start_function: StartFunction, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    function = start_function(deadline_margin_seconds="30")
    now = datetime.now(UTC)
    sources = {f"audit/left-{i}.log.gz": make_records(f"left{i}", 3) for i in range(2)}
    for age, (name, records) in enumerate(sources.items()):
        put(objectstorage, name, gz(ndjson(records)), created=now - timedelta(minutes=5 - age))

    # less time than deadline-margin-seconds: not one object may be started, and that is not a failure of a replay
    early = function.invoke({"replay": {"prefix": "audit/left-"}}, deadline=now + timedelta(seconds=20))
    assert early.status == 200, early.text
    result = early.json()
    assert (result["objects"], result["left"], result["complete"]) == ([], list(sources), False)
    assert listener.requests == []

    later = function.invoke({"replay": {"prefix": "audit/left-"}}, deadline=datetime.now(UTC) + timedelta(minutes=2))
    assert later.status == 200, later.text
    assert (later.json()["left"], later.json()["complete"]) == ([], True)
    assert_each_once(listener.records, [r for records in sources.values() for r in records])


def test_a_prefix_replay_goes_oldest_first_skips_done_objects_and_reports_each(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    now = datetime.now(UTC)
    sources = {  # name order differs from creation order
        "audit/c.log.gz": (make_records("oldest", 6), now - timedelta(minutes=3)),
        "audit/a.log.gz": (make_records("done-already", 7), now - timedelta(minutes=2)),
        "audit/b.log.gz": (make_records("newest", 8), now - timedelta(minutes=1)),
    }
    etags = {name: put(objectstorage, name, gz(ndjson(rs)), created=when) for name, (rs, when) in sources.items()}
    put(objectstorage, "exports/usage.csv.gz", gz(b"not,audit\n"), created=now - timedelta(minutes=9))
    assert function.invoke(event_for(objectstorage, "audit/a.log.gz", etags["audit/a.log.gz"])).status == 200
    before = len(listener.records)

    answer = function.invoke({"replay": {"prefix": "audit/"}})
    assert answer.status == 200, answer.text
    result = answer.json()
    assert [(o["object"], o["status"], o["records"]) for o in result["objects"]] == [
        ("audit/c.log.gz", "forwarded", 6),
        ("audit/b.log.gz", "forwarded", 8),
    ]
    assert (result["left"], result["totals"]["records"], result["totals"]["not_delivered"]) == ([], 14, 0)
    replayed = listener.records[before:]
    assert [r["id"].split("-0")[0] for r in replayed] == ["oldest"] * 6 + ["newest"] * 8
    assert_each_once(listener.records, [r for rs, _ in sources.values() for r in rs])
    assert "exports/usage.csv.gz" not in get_objects(objectstorage)

    again = function.invoke({"replay": {"prefix": "audit/"}})
    assert again.status == 200, again.text
    assert again.json()["objects"] == []
    assert_each_once(listener.records, [r for rs, _ in sources.values() for r in rs])


def test_the_progress_object_records_records_offset_etag_and_done(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    records = make_records("progress", 17)
    etag = put(objectstorage, NAME, gz(ndjson(records)))
    answer = function.invoke(event_for(objectstorage, NAME, etag))
    assert answer.status == 200, answer.text
    assert objectstorage.names(objectstorage.namespace, BUCKET, "forwarder-state/") == [
        "forwarder-state/.catch-up.json",  # where catch-up keeps its place
        f"forwarder-state/{NAME}.json",  # the object's progress; its pending marker is gone with the lease
    ]
    saved = progress_of(objectstorage, NAME)
    updated = saved.pop("updated")
    assert saved == {
        "version": 1,
        "etag": etag,
        "records": 17,
        "offset": record_ends(records)[-1],
        "batches": answer.json()["batches"],
        "acked": [],
        "batch_max_bytes": 8192,
        "done": True,
        "refused": 0,
        "failures": 0,
        "retry_at": "",
        "error": "",
        "settled": "",
        "loss": {},
    }
    assert abs(datetime.fromisoformat(updated) - datetime.now(UTC)) < timedelta(minutes=5)
    assert_each_once(listener.records, records)


def test_an_event_for_the_forwarders_own_progress_object_is_ignored(
    function: Function, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    etag = put(objectstorage, NAME, gz(ndjson(make_records("self", 3))))
    assert function.invoke(event_for(objectstorage, NAME, etag)).status == 200
    state = f"forwarder-state/{NAME}.json"
    state_etag = objectstorage.stat(objectstorage.namespace, BUCKET, state).etag
    requests, shipped = len(objectstorage.requests), len(listener.requests)

    answer = function.invoke(event_for(objectstorage, state, state_etag))  # Events fires for the state's PutObject
    assert answer.status == 200, answer.text
    assert answer.json()["status"] == "ignored"
    assert "progress objects" in answer.json()["reason"]
    assert len(objectstorage.requests) == requests
    assert len(listener.requests) == shipped

    refused = function.invoke({"objects": [state]})
    assert refused.status == 502
    assert "is a progress object under state-prefix" in refused.text


# ----- the command line's replay ----------------------------------------------------------------------------------


def run_replay_cli(args: list[str], seen: Seen) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, token=TEST_TOKEN)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    seen.texts += [stdout, stderr]
    return subprocess.CompletedProcess(done.args, done.returncode, stdout, stderr)


def test_the_cli_replay_forwards_a_prefix_with_a_config_file_profile(
    tmp_path: Path,
    objectstorage: ObjectStorageStandin,
    listener: LogzioListenerStandin,
    seen: Seen,
) -> None:
    config = commandline.api_key_config(tmp_path, objectstorage, profile="ci")
    now = datetime.now(UTC)
    sources = {
        "audit/y.log.gz": make_records("cli-first", 9),
        "audit/x.log.gz": make_records("cli-second", 11),
    }
    sizes = {}
    for age, (name, records) in enumerate(sources.items()):
        data = gz(ndjson(records))
        sizes[name] = len(data)
        put(objectstorage, name, data, created=now - timedelta(minutes=10 - age))
    common = ["replay", *commandline.replay_flags(objectstorage, config, profile="ci")]
    seen.caps.append(SMALL_CAP)

    dry = run_replay_cli([*common, "--dry-run"], seen)
    assert dry.returncode == 0, dry.stderr
    assert [line.split() for line in dry.stdout.splitlines()] == [
        [str(sizes["audit/y.log.gz"]), "audit/y.log.gz"],
        [str(sizes["audit/x.log.gz"]), "audit/x.log.gz"],
    ]
    assert f"2 objects, {sum(sizes.values())} bytes would be forwarded" in dry.stderr
    assert listener.requests == []
    assert "PutObject" not in objectstorage.operations()

    real = run_replay_cli([*common, "--url", listener.url, "--batch-max-bytes", str(SMALL_CAP)], seen)
    assert real.returncode == 0, real.stderr
    reports = [json.loads(line) for line in real.stdout.splitlines()]
    assert [(r["object"], r["status"], r["records"]) for r in reports] == [
        ("audit/y.log.gz", "forwarded", 9),
        ("audit/x.log.gz", "forwarded", 11),
    ]
    # from a workstation, in shipped form as from the function: forwarder.region is the profile's region
    assert_each_once(listener.records, [r for records in sources.values() for r in records])
    assert all(progress_of(objectstorage, name)["done"] for name in sources)
    key_id = f'keyId="{commandline.TENANCY}/{commandline.USER}/{api_key_fingerprint(config)}"'
    assert all(key_id in r.headers["authorization"] for r in objectstorage.requests), "signed with the API key"
    assert all(r.auth_error is None for r in objectstorage.requests)

    again = run_replay_cli([*common, "--dry-run"], seen)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "0 objects, 0 bytes would be forwarded" in again.stderr


def api_key_fingerprint(config: Path) -> str:
    found = re.search(r"fingerprint=(\S+)", config.read_text())
    assert found is not None
    return found.group(1)
