"""Shared plumbing of the integration tests (``test_function.py``, ``test_progress.py``).

The function runs under the real fdk (:class:`~standins.fdkserver.FdkServer`) against the loopback stand-ins.
Every server and every answer a test touches is recorded in a :class:`Seen`, so one teardown check can prove the
shipping token appeared nowhere it should not: fdk's logs, response bodies, error texts, the bucket.
"""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from logzio_forwarder import USER_AGENT
from standins.childenv import fresh_env
from standins.demo import audit_records, object_created_event
from standins.fdkserver import REPO_ROOT, FdkServer, Invocation
from standins.listener import LogzioListenerStandin
from standins.monitoring import INJECTED, MonitoringStandin
from standins.objectstorage import DEFAULT_BUCKET, ObjectStorageStandin, SeenRequest
from standins.principal import REGION

BUCKET = DEFAULT_BUCKET
DEFAULT_CAP = 4_000_000
"""The forwarder's default ``batch-max-bytes`` (config.DEFAULT_BATCH_MAX_BYTES), for servers that do not set it."""
SMALL_CAP = 8192
"""``batch-max-bytes`` of the shared function: a handful of ~1.7 KB audit records per request, so several batches."""


@dataclass
class Seen:
    """What one test exposed the token to; checked at teardown."""

    servers: list[FdkServer] = field(default_factory=list)
    answers: list[Invocation] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    caps: list[int] = field(default_factory=list)
    """``batch-max-bytes`` of every sender in the test: no listener request may be larger than the largest."""


class Function:
    """An fdk server running ``func.py``, whose answers are recorded for the secrecy check."""

    def __init__(self, server: FdkServer, seen: Seen) -> None:
        self.server = server
        self._seen = seen
        seen.servers.append(server)
        seen.caps.append(int(server.config_env.get("batch-max-bytes", DEFAULT_CAP)))

    def invoke(
        self,
        body: bytes | Mapping[str, Any] | list[Any],
        *,
        deadline: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Invocation:
        answer = self.server.invoke(body, deadline=deadline, headers=headers)
        self._seen.answers.append(answer)
        return answer

    def warm_up(self) -> None:
        """Make the container warm (handler imported, oci SDK loaded, client built) so a short deadline in the next
        invocation is spent on the work under test, not on imports: ask for an object that does not exist."""
        answer = self.invoke({"objects": ["audit/warm-up/absent.log.gz"]})
        assert answer.status == 502
        assert "ObjectNotFound" in answer.text

    def logs(self) -> str:
        """Everything fdk and the function printed; complete only after :meth:`stop` (readers are threads)."""
        return self.server.logs()

    def final_logs(self) -> str:
        """Stop the function, then everything it printed (complete: the readers have finished)."""
        self.stop()
        return self.logs()

    def stop(self) -> None:
        """Stop the server and wait for its output readers, so :meth:`logs` is complete."""
        self.server.stop()


# ----- records and objects ----------------------------------------------------------------------------------------


def make_records(tag: str, count: int) -> list[dict[str, Any]]:
    """``count`` realistic audit records (the demo's twelve, cycled) with ids and times unique to ``tag``."""
    base = audit_records()
    records = []
    for index in range(count):
        record = copy.deepcopy(base[index % len(base)])
        record["id"] = f"{tag}-{index:05d}"
        when = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=index, milliseconds=index % 997)
        record["time"] = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        record["data"]["request"]["id"] = f"{tag}-request-{index}"
        records.append(record)
    return records


def iso(when: datetime) -> str:
    """A time as audit records write it (UTC, milliseconds, ``Z``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def recent_records(tag: str, count: int, age: timedelta) -> list[dict[str, Any]]:
    """Audit records whose ``time`` lies ``age`` in the past (the oldest) and later, one second apart."""
    start = datetime.now(UTC) - age
    records = make_records(tag, count)
    for index, record in enumerate(records):
        record["time"] = iso(start + timedelta(seconds=index))
    return records


def assert_delivery_lag(lag: float, oldest: Mapping[str, Any], before: datetime, after: datetime) -> None:
    """``lag`` is the age of the ``oldest`` record between ``before`` and ``after`` the invocation (the delivery lag
    is reported to the millisecond, hence the allowance below)."""
    time = datetime.fromisoformat(oldest["time"])
    assert (before - time).total_seconds() - 0.001 <= lag <= (after - time).total_seconds()


def compact(record: Mapping[str, Any], *, ascii_only: bool = True) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=ascii_only)


def ndjson(records: Iterable[Mapping[str, Any]]) -> bytes:
    """One record per line, newline-terminated: the connector's usual layout, uncompressed."""
    return "".join(compact(r) + "\n" for r in records).encode()


def record_ends(records: list[dict[str, Any]]) -> list[int]:
    """Offsets just after each record's closing brace in ``ndjson(records)``: what progress ``offset`` holds."""
    ends, position = [], 0
    for line in ndjson(records).splitlines(keepends=True):
        position += len(line)
        ends.append(position - 1)
    return ends


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def shipped_form(record: Mapping[str, Any], region: str | None = REGION) -> dict[str, Any]:
    """What the listener must receive for a source record that breaks none of Logz.io's rules: ``@timestamp`` =
    ``time`` first, the record's ``type`` renamed in place to ``eventType``, and ``forwarder.region`` (the
    function's region: the stand-in principal's)."""
    line: dict[str, Any] = {"@timestamp": record["time"]}
    line.update(("eventType" if key == "type" else key, value) for key, value in record.items())
    if region is not None:
        line["forwarder"] = {"region": region}
    return line


def is_fragment(line: Mapping[str, Any]) -> bool:
    """Whether a shipped line is an undecodable stretch of the object rather than a record."""
    marker = line.get("forwarder")
    return isinstance(marker, dict) and marker.get("undecodable") is True


def _key(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def _ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(r.get("id", r.get("message", "?")))[:80] for r in records]


def assert_each_once(
    accepted: Sequence[Mapping[str, Any]], source: Sequence[Mapping[str, Any]], region: str | None = REGION
) -> None:
    """The accepted records are exactly the source records, each once, in shipped form (any order)."""
    want = Counter(_key(shipped_form(r, region)) for r in source)
    got = Counter(_key(r) for r in accepted)
    if want == got:
        return
    missing = want - got
    extra = got - want
    duplicated = [i for i, n in Counter(_ids(accepted)).items() if n > 1]
    raise AssertionError(
        f"{len(accepted)} records accepted for {len(source)} sent; "
        f"missing or different: {_ids(json.loads(k) for k in missing)[:10]}; "
        f"unexpected or different: {_ids(json.loads(k) for k in extra)[:10]}; duplicated ids: {duplicated[:10]}"
    )


def connector_name(folder: str, n: int) -> str:
    """The ``n``-th object a connector writes into ``folder``: names grow with time within the folder."""
    return f"{folder}20261101T10{n:02d}00Z_20261101T10{n:02d}59Z.0.log.gz"


def invoke_event(function: Function, objectstorage: ObjectStorageStandin, name: str, **kwargs: Any) -> Invocation:
    """Invoke ``function`` with the Object-Create event of the stored object ``name`` (its current ETag)."""
    etag = objectstorage.stat(objectstorage.namespace, BUCKET, name).etag
    return function.invoke(event_for(objectstorage, name, etag), **kwargs)


def finish_by_request(function: Function, name: str, resumed_at: int) -> dict[str, Any]:
    """Invoke with ``{"objects": [name]}`` (what a failure message offers) and expect the object forwarded from
    record ``resumed_at`` on; returns the answer."""
    answer = function.invoke({"objects": [name]})
    assert answer.status == 200, answer.text
    report: dict[str, Any] = answer.json()
    assert (report["status"], report["resumed_at_record"]) == ("forwarded", resumed_at), report
    return report


def put(objectstorage: ObjectStorageStandin, name: str, data: bytes, *, created: datetime | None = None) -> str:
    """Store an object in the input bucket; returns its ETag."""
    return objectstorage.put(objectstorage.namespace, BUCKET, name, data, time_created=created)


def event_for(objectstorage: ObjectStorageStandin, name: str, etag: str) -> dict[str, Any]:
    """The Object-Create event OCI Events sends for ``name``."""
    return object_created_event(objectstorage.namespace, BUCKET, name, etag)


def forwarded(function: Function, objectstorage: ObjectStorageStandin, name: str, data: bytes) -> Any:
    """Store ``data`` as ``name``, invoke with its Object-Create event, expect 200 and return the JSON answer."""
    etag = put(objectstorage, name, data)
    answer = function.invoke(event_for(objectstorage, name, etag))
    assert answer.status == 200, answer.text
    return answer.json()


STATE_PREFIX = "forwarder-state/"
CURSOR_KEY = STATE_PREFIX + ".catch-up.json"


def progress_of(objectstorage: ObjectStorageStandin, name: str) -> dict[str, Any]:
    """The progress object the function keeps for ``name``."""
    value: dict[str, Any] = json.loads(objectstorage.get(objectstorage.namespace, BUCKET, f"{STATE_PREFIX}{name}.json"))
    return value


def progress_left(
    objectstorage: ObjectStorageStandin, name: str, records: list[dict[str, Any]], delivered: int, *, batches: int = 1
) -> None:
    """The progress record an earlier invocation left for ``name`` (already stored, holding ``records``): the first
    ``delivered`` records acknowledged in ``batches`` batches, then it stopped without a lease."""
    etag = objectstorage.stat(objectstorage.namespace, BUCKET, name).etag
    record = {"version": 1, "etag": etag, "records": delivered, "offset": record_ends(records)[delivered - 1]}
    record["batches"] = batches
    objectstorage.put(objectstorage.namespace, BUCKET, f"{STATE_PREFIX}{name}.json", json.dumps(record).encode())


def started_ago(objectstorage: ObjectStorageStandin, ago: timedelta) -> None:
    """Date the forwarder's starting line (drawn by the first invocation on the bucket) back by ``ago``, as if it had
    been running that long: objects created since are its to catch up."""
    cursor = json.loads(objectstorage.get(objectstorage.namespace, BUCKET, CURSOR_KEY))
    cursor["first_seen"] = (datetime.now(UTC) - ago).isoformat()
    objectstorage.put(objectstorage.namespace, BUCKET, CURSOR_KEY, json.dumps(cursor).encode())


def lease_lapsed(objectstorage: ObjectStorageStandin, name: str) -> None:
    """Move the end of the lease in ``name``'s progress record into the past, as if its holder's deadline and grace
    had gone by (the record is otherwise kept as it is)."""
    record = progress_of(objectstorage, name)
    record["lease"]["until"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    objectstorage.put(objectstorage.namespace, BUCKET, f"{STATE_PREFIX}{name}.json", json.dumps(record).encode())


def summaries(function: Function) -> list[dict[str, Any]]:
    """The ``{"summary": …}`` lines the function logged, in order (stop the function first: logs are complete then)."""
    lines = [line[line.index('{"summary"') :] for line in function.logs().splitlines() if '{"summary"' in line]
    return [json.loads(line)["summary"] for line in lines]


def in_seconds(seconds: float) -> datetime:
    """A deadline ``seconds`` from now (``Fn-Deadline`` carries whole seconds: it is truncated when sent)."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def requests_to(objectstorage: ObjectStorageStandin, operation: str, name: str, since: int = 0) -> list[SeenRequest]:
    """The store's requests of ``operation`` on the object ``name``, in order (from its ``since``-th request on)."""
    return [r for r in objectstorage.requests[since:] if r.operation == operation and r.object_name == name]


def get_objects(objectstorage: ObjectStorageStandin) -> list[str]:
    """Names of the objects GetObject was asked for (progress objects included)."""
    return [r.object_name or "" for r in objectstorage.requests if r.operation == "GetObject"]


# ----- the teardown check -----------------------------------------------------------------------------------------


def check_after_test(
    seen: Seen,
    token: str,
    listener: LogzioListenerStandin,
    objectstorage: ObjectStorageStandin,
    monitoring: MonitoringStandin,
) -> None:
    """The token is nowhere but in the listener's query string; every listener request is well formed; every
    metrics post was signed and passed Monitoring's validation (but for refusals the test injected)."""
    for server in seen.servers:
        assert token not in server.logs(), "the shipping token appears in the function's log output"
    for answer in seen.answers:
        assert token not in answer.text, f"the shipping token appears in a response body: {answer.text[:200]}"
        assert token not in json.dumps(dict(answer.headers)), "the shipping token appears in response headers"
    for text in seen.texts:
        assert token not in text, f"the shipping token appears in an error text: {text[:200]}"
    ns = objectstorage.namespace
    for name in objectstorage.names(ns, BUCKET):
        assert token.encode() not in objectstorage.get(ns, BUCKET, name), f"the token was written to {name}"
    for seen_request in objectstorage.requests:
        assert token not in seen_request.path + json.dumps(dict(seen_request.headers)), "token sent to Object Storage"
    for post in monitoring.posts:
        assert token.encode() not in post.body, "the token was posted to Monitoring"
        assert token not in post.path + json.dumps(dict(post.headers)), "token sent to Monitoring"
        assert post.auth_error is None, f"an unsigned or badly signed metrics post: {post.auth_error}"
        refused = [message for message in post.failed if not message.startswith(INJECTED)]
        assert not refused, f"Monitoring refused metrics: {refused}"
    cap = max(seen.caps, default=DEFAULT_CAP)
    for request in listener.requests:
        assert request.content_encoding == "gzip", "every body is sent gzip'd"
        assert request.user_agent == USER_AGENT, f"User-Agent {request.user_agent!r}"
        assert USER_AGENT.startswith("oci-logzio-forwarder/")
        if request.uncompressed_size is not None:
            assert request.uncompressed_size <= cap, f"a {request.uncompressed_size}-byte body exceeds {cap}"


def run_cli(*args: str, token: str | None = None, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``python -m logzio_forwarder ARGS`` as a user runs it: a fresh process, the token only in its environment."""
    env = fresh_env(PYTHONPATH=str(REPO_ROOT))
    if token is not None:
        env["LOGZIO_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "logzio_forwarder", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
