"""The forwarder's numbers in OCI Monitoring (custom metrics), posted once per invocation after delivery.

The metric names are a contract: the alarms in ``deploy/terraform`` query them (``tests/test_terraform.py`` holds
them to this tuple), and ``docs/operations.md`` explains each.

Posting is an afterthought by design: it happens after every record has been delivered or counted, with one
PostMetricData call under a short timeout and no retry, and whatever goes wrong (no resource principal, a refused
or unreachable endpoint, a bug here) is logged in one line and swallowed. The invocation's answer, its delivery
and its progress never depend on Monitoring.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .secrecy import redact

if TYPE_CHECKING:
    from .config import Settings
    from .deadline import Deadline
    from .forward import ObjectReport
from .state import SETTLED

log = logging.getLogger(__name__)

METRIC_NAMES = (
    "RecordsForwarded",
    "RecordsNotDelivered",
    "UndecodableFragments",
    "RecordsShortened",
    "RecordsReshaped",
    "BytesShipped",
    "ObjectsForwarded",
    "ObjectsFailed",
    "ListenerRetries",
    "DeliveryLagSeconds",
)
"""Every metric the forwarder posts, by its exact name."""

DIMENSIONS = ("bucket", "resourceId", "region")
"""Every datapoint carries these: the input bucket's name, the function's OCID and its region (so an alarm on
several regions' functions says which one went quiet)."""

UNITS = {
    "RecordsForwarded": "records",
    "RecordsNotDelivered": "records",
    "UndecodableFragments": "records",
    "RecordsShortened": "records",
    "RecordsReshaped": "records",
    "BytesShipped": "bytes",
    "ObjectsForwarded": "objects",
    "ObjectsFailed": "objects",
    "ListenerRetries": "requests",
    "DeliveryLagSeconds": "seconds",
}
"""Posted as each metric's ``unit`` metadata (shown in the console; not part of the metric's identity)."""

STATUS_COUNTED_AS: dict[str, str | None] = {
    "forwarded": "ObjectsForwarded",
    "already-forwarded": None,
    "stopped": None,
    "failed": "ObjectsFailed",
    "in-progress": None,
    "damaged": "ObjectsFailed",
    "gone": "ObjectsFailed",
}
"""Every ``ObjectReport.status`` and the metric that counts an object ending in it (None: counted by neither).

The one place to extend when a status is added: ``tests/test_metrics.py`` fails for a status the code can produce
that is missing here, and ``tests/test_docs.py`` for one docs/requests.md does not list. ``stopped`` is not a
failure: the object resumes in another invocation (and an event invocation that stops fails, which the
``function_errors`` alarm sees). ``in-progress`` is another invocation's object. ``damaged`` and ``gone`` count once,
in the invocation that found the loss (a later report of the same settled object carries no error)."""

ONLY_WHEN_NONZERO = frozenset({"RecordsForwarded", "BytesShipped"})
"""Metrics left out of an invocation that delivered nothing, rather than posted as 0.

The ``forwarding_silent`` alarm fires on ``absent()`` of RecordsForwarded: a datapoint of 0 is a datapoint, so an
invocation that forwarded nothing (a duplicate event, an object already done, a listener that refuses everything)
would make a stall look alive. The failure counters are posted as 0 on purpose: they are alarmed on ``sum > 0``,
where a 0 changes nothing, and a 0 shows in the console that the function ran and lost nothing. DeliveryLagSeconds
exists only when something was acknowledged."""

ENDPOINT_TEMPLATE = "https://telemetry-ingestion.{region}.{secondLevelDomain}"
"""PostMetricData goes to the ingestion endpoint, not the ``telemetry`` one the SDK's client defaults to."""
TIMEOUT = (2.0, 3.0)
"""(connect, read) seconds for the one call: a slow Monitoring must not hold the answer for long."""
SAFETY_S = 1.0
"""Seconds kept free before the invocation deadline; with less than this plus a little left, nothing is posted."""


def invocation_values(reports: Sequence[ObjectReport]) -> dict[str, float]:
    """The invocation's numbers, by metric name, summed over its per-object reports (see ONLY_WHEN_NONZERO)."""
    values: dict[str, float] = {
        "RecordsForwarded": sum(r.acknowledged for r in reports),
        "RecordsNotDelivered": sum(r.not_delivered for r in reports),
        "UndecodableFragments": sum(r.undecodable for r in reports),
        "RecordsShortened": sum(r.shortened for r in reports),
        "RecordsReshaped": sum(r.reshaped for r in reports),
        "BytesShipped": sum(r.bytes_acknowledged for r in reports),
        "ObjectsForwarded": 0,
        "ObjectsFailed": 0,
        "ListenerRetries": sum(r.retries for r in reports),
    }
    for report in reports:
        counted_as = STATUS_COUNTED_AS.get(report.status)
        if counted_as is not None and (report.status not in SETTLED or report.error is not None):
            values[counted_as] += 1
    lags = [r.delivery_lag_s for r in reports if r.delivery_lag_s is not None]
    if lags:
        values["DeliveryLagSeconds"] = max(lags)
    return {name: value for name, value in values.items() if value or name not in ONLY_WHEN_NONZERO}


def post_invocation_metrics(reports: Sequence[ObjectReport], settings: Settings, deadline: Deadline) -> None:
    """Post the invocation's numbers to Monitoring when ``metrics`` is on; never raises, never retries."""
    if not settings.metrics:
        return
    budget = deadline.remaining() - SAFETY_S
    if budget < 0.5:
        log.warning("metrics not posted to Monitoring: the invocation deadline is too near")
        return
    try:
        _post(invocation_values(reports), settings, budget)
    except Exception as exc:  # Monitoring must never change the answer: every failure is one log line
        log.warning("metrics not posted to Monitoring: %s", redact(_describe(exc)))


def _post(values: dict[str, float], settings: Settings, budget: float) -> None:
    import oci.monitoring
    import oci.retry

    from .bucket import resource_principal_signer

    signer = resource_principal_signer()
    client = _client(settings.monitoring_endpoint or default_endpoint(_region(signer)))
    share = min(1.0, budget / sum(TIMEOUT))
    client.base_client.timeout = (TIMEOUT[0] * share, TIMEOUT[1] * share)  # the SDK reads it per request
    details = oci.monitoring.models.PostMetricDataDetails(metric_data=_metric_data(values, settings, signer))
    answer = client.post_metric_data(details, retry_strategy=oci.retry.NoneRetryStrategy()).data
    if answer.failed_metrics_count:
        first = answer.failed_metrics[0].message if answer.failed_metrics else "no message"
        log.warning("Monitoring refused %d of %d metrics: %s", answer.failed_metrics_count, len(values), first)
    else:
        log.debug("posted %d metrics to Monitoring namespace %s", len(values), settings.metrics_namespace)


def _metric_data(values: dict[str, float], settings: Settings, signer: Any) -> list[Any]:
    """One MetricDataDetails per metric, each with one datapoint stamped now."""
    from oci.monitoring.models import Datapoint, MetricDataDetails

    compartment = settings.metrics_compartment_id or signer.get_claim("res_compartment")
    region = settings.region or _region(signer)
    dimensions = {"bucket": settings.input_bucket, "resourceId": function_id(signer), "region": region}
    now = datetime.now(UTC)
    return [
        MetricDataDetails(
            namespace=settings.metrics_namespace,
            compartment_id=compartment,
            name=name,
            dimensions=dimensions,
            metadata={"unit": UNITS[name]},
            datapoints=[Datapoint(timestamp=now, value=float(value), count=1)],
        )
        for name, value in values.items()
    ]


def function_id(signer: Any) -> str:
    """The function's OCID: ``FN_FN_ID``, which OCI Functions sets, else the token's ``res_id`` claim."""
    return os.environ.get("FN_FN_ID") or str(signer.get_claim("res_id") or "unknown")


def _region(signer: Any) -> str:
    region = getattr(signer, "region", None) or os.environ.get("OCI_RESOURCE_PRINCIPAL_REGION")
    if not region:
        raise ValueError("the resource principal names no region; set monitoring-endpoint")
    return str(region)


def default_endpoint(region: str) -> str:
    """The region's Monitoring ingestion endpoint (the realm's domain, e.g. ``oraclecloud.com``)."""
    import oci.regions

    return str(oci.regions.endpoint_for("monitoring", region=region, service_endpoint_template=ENDPOINT_TEMPLATE))


@functools.lru_cache(maxsize=4)
def _client(endpoint: str) -> Any:
    """One MonitoringClient per container and endpoint, signed as the function, without a circuit breaker (the
    SDK's default one is shared and would refuse calls for 30 s after a few failures)."""
    import oci.circuit_breaker
    import oci.monitoring

    from .bucket import resource_principal_signer

    return oci.monitoring.MonitoringClient(
        config={},
        signer=resource_principal_signer(),
        service_endpoint=endpoint,
        timeout=TIMEOUT,
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
    )


def _describe(exc: Exception) -> str:
    """One line: status, code and message of an OCI service error; else the type and text of the underlying error
    (the SDK wraps requests' ConnectionError / ReadTimeout in its own exception with a troubleshooting essay)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return f"HTTP {status} {getattr(exc, 'code', '')}: {getattr(exc, 'message', '')}"
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    text = str(inner.args[0]) if inner.args else str(inner)
    return f"{type(inner).__name__}: {text}".splitlines()[0][:300]
