"""A loopback OCI Monitoring ingestion endpoint: PostMetricData, validated and answered as the service does it.

The real ``oci.monitoring.MonitoringClient(config={}, signer=<resource principal signer>, service_endpoint=<url>)``
works against it unchanged (``POST /20180401/metrics``). Every request must carry a valid OCI HTTP signature,
checked with the same :func:`~standins.ocirest.verify_signature` as the Object Storage stand-in; a request without
one gets ``401 NotAuthenticated``.

The body is held to the rules the API reference states for ``PostMetricDataDetails``, ``MetricDataDetails`` and
``Datapoint`` (and "Limits on Monitoring"):

* at most 50 metric streams (namespace, compartment, name and dimensions) per call, else ``400``;
* per metric: a namespace that starts with a letter, holds only letters, digits and ``_``, and does not start with
  ``oci_`` or ``oracle_``; a compartment OCID; a name that starts with a letter and holds only letters, digits and
  ``. _ - $``; 1 to 20 dimensions (keys printable ASCII without spaces, at most 256 characters; values non-empty,
  at most 512); metadata values at most 256 characters; at least one datapoint, each with an RFC 3339 timestamp
  less than two hours old and at most ten minutes ahead, a number, and a count above zero if it has one.

A metric that breaks a rule is listed in ``failedMetrics`` with its message and the rest are stored
(``batchAtomicity`` ``NON_ATOMIC``, the default); with ``ATOMIC``, or when no metric passes, the call answers
``400 InvalidParameter``. The status codes of the whole-call refusals are the documented ones; the exact error
codes and message texts are this stand-in's own.

Tests read :attr:`MonitoringStandin.posts` (every request, as seen) and :meth:`MonitoringStandin.datapoints` (what
was stored), and inject failures with :meth:`MonitoringStandin.fail_next` (an error answer),
:meth:`MonitoringStandin.refuse_metrics` (a 200 listing some metrics as failed) and
:meth:`MonitoringStandin.stall_next` (no answer at all); an unreachable Monitoring is a closed port.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import LoopbackServer, OwnedHandler
from .ocirest import AUTH_MESSAGE, ServiceError, TrustsPrincipals, verify_signature
from .principal import Principal

__all__ = ["INJECTED", "METRICS_PATH", "MonitoringStandin", "PostedMetric", "SeenPost"]

METRICS_PATH = "/20180401/metrics"
MAX_STREAMS = 50
MAX_DIMENSIONS = 20
MAX_AGE = timedelta(hours=2)
MAX_AHEAD = timedelta(minutes=10)
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._$-]*$")
INJECTED = "injected"
"""How the messages of failures a test asked for begin."""
_DIMENSION_KEY = re.compile(r"^[!-~]{1,256}$")
"""Printable ASCII without spaces."""


@dataclass(frozen=True)
class PostedMetric:
    """One datapoint the stand-in stored, with the metric it belongs to."""

    namespace: str
    compartment_id: str
    name: str
    dimensions: Mapping[str, str]
    metadata: Mapping[str, str]
    timestamp: datetime
    value: float
    count: int


@dataclass(frozen=True)
class SeenPost:
    """One request as the stand-in saw it."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Request headers, names lower-cased."""
    body: bytes
    status: int
    auth_error: str | None
    """Why the signature was refused (``None`` when it verified)."""
    failed: tuple[str, ...] = ()
    """Messages of the metrics listed in ``failedMetrics``."""


@dataclass
class _Injection:
    status: int
    code: str | None
    message: str
    times: int


@dataclass
class _Checked:
    """The outcome of validating one request body."""

    stored: list[PostedMetric] = field(default_factory=list)
    failed: list[tuple[str, Any]] = field(default_factory=list)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(raw: Any, now: datetime) -> datetime:
    if not isinstance(raw, str):
        raise ValueError("datapoint timestamp is missing")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"datapoint timestamp {raw!r} is not RFC 3339") from None
    if when.tzinfo is None:
        raise ValueError(f"datapoint timestamp {raw!r} has no time zone")
    if when < now - MAX_AGE or when > now + MAX_AHEAD:
        raise ValueError(f"datapoint timestamp {raw!r} is not within the last 2 hours (or 10 minutes ahead)")
    return when


def _check_identity(metric: Mapping[str, Any]) -> None:
    namespace, name, compartment = metric.get("namespace"), metric.get("name"), metric.get("compartmentId")
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValueError(f"namespace {namespace!r} must start with a letter and hold only letters, digits and _")
    if namespace.lower().startswith(("oci_", "oracle_")):
        raise ValueError(f"namespace {namespace!r} uses a reserved prefix (oci_, oracle_)")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must start with a letter and hold only letters, digits and . _ - $")
    if not isinstance(compartment, str) or not compartment.startswith(("ocid1.compartment.", "ocid1.tenancy.")):
        raise ValueError(f"compartmentId {compartment!r} is not a compartment OCID")


def _check_dimensions(dimensions: Any) -> dict[str, str]:
    if not isinstance(dimensions, dict) or not 1 <= len(dimensions) <= MAX_DIMENSIONS:
        raise ValueError(f"a metric needs 1 to {MAX_DIMENSIONS} dimensions")
    for key, value in dimensions.items():
        if not _DIMENSION_KEY.match(key):
            raise ValueError(f"dimension key {key!r} must be 1-256 printable ASCII characters without spaces")
        if not isinstance(value, str) or not 1 <= len(value) <= 512:
            raise ValueError(f"dimension {key!r} must have a value of 1-512 characters")
    return dict(dimensions)


def _check_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 256 and len(v) <= 256 for k, v in metadata.items()
    ):
        raise ValueError("metadata keys and values must be strings of at most 256 characters")
    return dict(metadata)


def _check_metric(metric: Any, now: datetime) -> list[PostedMetric]:
    """The datapoints of one ``MetricDataDetails``; ``ValueError`` with the service's kind of message if invalid."""
    if not isinstance(metric, dict):
        raise ValueError("a metric must be an object")
    _check_identity(metric)
    dimensions = _check_dimensions(metric.get("dimensions"))
    metadata = _check_metadata(metric.get("metadata"))
    datapoints = metric.get("datapoints")
    if not isinstance(datapoints, list) or not datapoints:
        raise ValueError("a metric needs at least one datapoint")
    stored = []
    for point in datapoints:
        if not isinstance(point, dict) or not _number(point.get("value")):
            raise ValueError("a datapoint needs a numeric value")
        count = point.get("count", 1)
        if not isinstance(count, int) or count <= 0:
            raise ValueError("a datapoint count must be greater than zero")
        when = _timestamp(point.get("timestamp"), now)
        stored.append(
            PostedMetric(
                metric["namespace"],
                metric["compartmentId"],
                metric["name"],
                dimensions,
                metadata,
                when,
                float(point["value"]),
                count,
            )
        )
    return stored


def _stream(metric: Any) -> str:
    """What makes a metric stream unique, for the per-call limit."""
    if not isinstance(metric, dict):
        return repr(metric)
    keys = ("namespace", "compartmentId", "name", "dimensions")
    return json.dumps([metric.get(k) for k in keys], sort_keys=True)


def validate(document: Any, now: datetime | None = None, refused: frozenset[str] = frozenset()) -> _Checked:
    """Validate a PostMetricData body; raises :class:`ServiceError` (400) when the whole call is refused. Metrics
    named in ``refused`` fail as if invalid (an injected partial refusal)."""
    now = now or datetime.now(UTC)
    metrics = document.get("metricData") if isinstance(document, dict) else None
    if not isinstance(metrics, list) or not metrics:
        raise ServiceError(400, "InvalidParameter", "metricData must be a non-empty list")
    streams = len({_stream(m) for m in metrics})
    if streams > MAX_STREAMS:
        raise ServiceError(400, "InvalidParameter", f"{streams} metric streams in one call; the maximum is 50")
    checked = _Checked()
    for metric in metrics:
        try:
            if isinstance(metric, dict) and metric.get("name") in refused:
                raise ValueError(f"{INJECTED}: metric {metric['name']} refused")
            checked.stored.extend(_check_metric(metric, now))
        except ValueError as exc:
            checked.failed.append((str(exc), metric))
    atomic = document.get("batchAtomicity", "NON_ATOMIC") == "ATOMIC"
    if checked.failed and (atomic or len(checked.failed) == len(metrics)):
        raise ServiceError(400, "InvalidParameter", "; ".join(message for message, _ in checked.failed[:5]))
    return checked


class _Handler(OwnedHandler["MonitoringStandin"]):
    """Reads the request, authenticates, applies injections, validates, answers, records."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.read_body()
        if self.owner.stall():  # released by reset: the caller gave up long ago
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth_error: str | None = None
        failed: tuple[str, ...] = ()
        try:
            try:
                verify_signature(self.owner.principals, self.command, self.path, headers, body)
            except ValueError as exc:
                auth_error = str(exc)
                raise ServiceError(401, "NotAuthenticated", AUTH_MESSAGE) from None
            self.owner.take_injection()
            checked = self.owner.ingest(self.command, self.path, body)
            failed = tuple(message for message, _ in checked.failed)
            status, answer = 200, self._summary(checked)
        except ServiceError as err:
            status, answer = err.status, err.body()
        self.owner.record(SeenPost(self.command, self.path, headers, body, status, auth_error, failed))
        reply = {"Content-Type": "application/json", "opc-request-id": uuid.uuid4().hex.upper()}
        self.send_bytes(status, answer, reply)

    @staticmethod
    def _summary(checked: _Checked) -> bytes:
        failed = [{"message": message, "metricData": metric} for message, metric in checked.failed]
        return json.dumps({"failedMetricsCount": len(failed), "failedMetrics": failed}).encode()


class MonitoringStandin(LoopbackServer, TrustsPrincipals):
    """Monitoring's ingestion endpoint on loopback, keeping what was posted in memory.

    Point the SDK (or the forwarder's ``monitoring-endpoint``) at :attr:`endpoint`.
    """

    handler_class = _Handler

    def __init__(self, principal: Principal) -> None:
        LoopbackServer.__init__(self)
        TrustsPrincipals.__init__(self, principal)
        self._lock = threading.Lock()
        self._posts: list[SeenPost] = []
        self._stored: list[PostedMetric] = []
        self._injections: list[_Injection] = []
        self._stalls = 0
        self._release = threading.Event()
        self._refused: frozenset[str] = frozenset()

    def reset(self) -> None:
        """Forget posts, stored datapoints and pending injections; let a stalled request go."""
        self.forget_trusted()
        with self._lock:
            self._posts.clear()
            self._stored.clear()
            self._injections.clear()
            self._stalls = 0
            self._refused = frozenset()
            self._release.set()
            self._release = threading.Event()

    def fail_next(self, status: int, *, times: int = 1, code: str | None = None, message: str = "") -> None:
        """Answer the next ``times`` signed requests with ``status`` and an OCI error body, storing nothing."""
        with self._lock:
            self._injections.append(_Injection(status, code, message, times))

    def refuse_metrics(self, *names: str) -> None:
        """List these metrics in ``failedMetrics`` (answering 200 and storing the rest) until :meth:`reset`."""
        with self._lock:
            self._refused = frozenset(names)

    def stall_next(self, times: int = 1) -> None:
        """Hold the next ``times`` requests without an answer until :meth:`reset` (or :meth:`stop`): a Monitoring
        that accepts connections and never answers."""
        with self._lock:
            self._stalls += times

    def stop(self) -> None:
        self._release.set()
        super().stop()

    @property
    def posts(self) -> list[SeenPost]:
        """Every request seen so far, oldest first (a copy)."""
        with self._lock:
            return list(self._posts)

    def datapoints(self, name: str | None = None) -> list[PostedMetric]:
        """The stored datapoints, oldest first; only those of metric ``name`` if given."""
        with self._lock:
            return [p for p in self._stored if name is None or p.name == name]

    def total(self, name: str) -> float:
        """The sum of the stored datapoints of one metric (what a ``sum()`` over them shows in the console)."""
        return sum(p.value for p in self.datapoints(name))

    # ----- used by the handler --------------------------------------------------------------------------------

    def stall(self) -> bool:
        """Block this request if a stall is pending, until :meth:`reset`; True when it was held."""
        with self._lock:
            if not self._stalls:
                return False
            self._stalls -= 1
            release = self._release
        release.wait()
        return True

    def take_injection(self) -> None:
        """Raise the first pending injected failure, consuming one use of it."""
        with self._lock:
            if not self._injections:
                return
            injection = self._injections[0]
            injection.times -= 1
            if injection.times <= 0:
                self._injections.pop(0)
        raise ServiceError(injection.status, injection.code, injection.message or "injected failure")

    def ingest(self, method: str, path: str, body: bytes) -> _Checked:
        """Serve one authenticated request: validate PostMetricData and store what passed."""
        if method != "POST" or path.split("?", 1)[0] != METRICS_PATH:
            raise ServiceError(404, "NotAuthorizedOrNotFound", f"No operation {method} {path} on this stand-in")
        try:
            document = json.loads(body)
        except ValueError:
            raise ServiceError(400, "InvalidParameter", "the body is not JSON") from None
        with self._lock:
            refused = self._refused
        checked = validate(document, refused=refused)
        with self._lock:
            self._stored.extend(checked.stored)
        return checked

    def record(self, seen: SeenPost) -> None:
        """Remember a request (handler side)."""
        with self._lock:
            self._posts.append(seen)
