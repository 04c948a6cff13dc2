"""``make demo``: the real function under the real fdk, against loopback Object Storage, Logz.io and Monitoring
stand-ins.

It writes a small audit object in the Connector Hub's format (gzip; each audit record inside a Logging entry
``{"datetime": <epoch ms>, "logContent": {<the record>}}``, the layout Oracle's Logging docs show; entries mostly
one per line, some joined ``}{`` on one line, one spanning several lines) to the stand-in bucket, invokes the
function with the Object-Create event OCI Events would send, prints the function's JSON summary, the first shipped
lines, how the listener filed them and the metrics it posted to Monitoring, and exits 0 only if every record
reached the listener as a valid line of the configured type and RecordsForwarded says so.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from .fdkserver import REPO_ROOT, FdkServer, FdkStartError
from .listener import LogzioListenerStandin
from .monitoring import MonitoringStandin
from .objectstorage import DEFAULT_BUCKET, ObjectStorageStandin
from .principal import make_principal

__all__ = [
    "OBJECT_NAME",
    "SAMPLE",
    "audit_records",
    "connector_object",
    "entry",
    "entry_object",
    "main",
    "object_created_event",
    "sample_text",
]

SAMPLE = REPO_ROOT / "docs" / "sample.log.gz"
"""The demo's object, committed so the README's ``convert`` example has something to read."""
OBJECT_NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.demo/20261101T095300Z_20261101T100000Z.0.log.gz"
DEMO_TOKEN = "demo-token-not-a-real-one"
EXPECTED_TYPE = "oci-audit"
"""The forwarder's default ``logzio-type`` (the demo sets none): every line must be filed under it."""
_TENANCY = "ocid1.tenancy.oc1..aaaaaaaademotenancy"
_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaademocompartment"
_ACTIONS = [
    ("ComputeApi", "UpdateInstance", "PUT", "/20160918/instances/ocid1.instance.oc1.eu-amsterdam-1.demo1", "200"),
    ("ComputeApi", "InstanceAction", "POST", "/20160918/instances/ocid1.instance.oc1.eu-amsterdam-1.demo1", "200"),
    ("ObjectStorage", "GetObject", "GET", "/n/demons/b/logfile_download_bucket/o/audit%2Fa.log.gz", "200"),
    ("ObjectStorage", "PutObject", "PUT", "/n/demons/b/logfile_download_bucket/o/audit%2Fb.log.gz", "200"),
    ("identityControlPlane", "ListUsers", "GET", "/20160918/users/", "200"),
    ("identityControlPlane", "UpdatePolicy", "PUT", "/20160918/policies/ocid1.policy.oc1..demo", "409"),
    ("virtualNetwork", "UpdateVnic", "PUT", "/20160918/vnics/ocid1.vnic.oc1.eu-amsterdam-1.demo", "404"),
    ("VaultSecret", "GetSecretBundle", "GET", "/20190301/secretbundles/ocid1.vaultsecret.oc1..demo", "200"),
    (
        "functions",
        "InvokeFunction",
        "POST",
        "/20181201/functions/ocid1.fnfunc.oc1.eu-amsterdam-1.demo/actions/invoke",
        "200",
    ),
    ("Audit", "ListEvents", "GET", "/20190901/auditEvents", "200"),
    ("bastion", "CreateSession", "POST", "/20210331/sessions", "401"),
    (
        "loadBalancer",
        "UpdateBackend",
        "PUT",
        "/20170115/loadBalancers/ocid1.loadbalancer.oc1.eu-amsterdam-1.demo/backendSets/web/backends/10.0.0.5:80",
        "200",
    ),
]


def _record(index: int, action: tuple[str, str, str, str, str]) -> dict[str, Any]:
    """One Logging audit record (schema 2.0, CloudEvents 1.0 fields) with realistic nesting."""
    service, event, verb, path, status = action
    second = f"{index:02d}"
    return {
        "data": {
            "additionalDetails": {"X-Real-Port": 40000 + index},
            "availabilityDomain": "AD1",
            "compartmentId": _COMPARTMENT,
            "compartmentName": "maintenance",
            "definedTags": None,
            "eventGroupingId": f"csid{uuid.UUID(int=index).hex}/{uuid.UUID(int=index + 100).hex}",
            "eventName": event,
            "freeformTags": None,
            "identity": {
                "authType": "natv",
                "callerId": None,
                "callerName": None,
                "consoleSessionId": None,
                "credentials": None,
                "ipAddress": f"192.0.2.{10 + index}",
                "principalId": "ocid1.user.oc1..aaaaaaaademouser",
                "principalName": "ops@example.com",
                "tenantId": _TENANCY,
                "userAgent": "Oracle-PythonSDK/2.189.0",
            },
            "message": f"{event} succeeded" if status.startswith("2") else f"{event} failed",
            "request": {
                "action": verb,
                "headers": {"Accept": ["application/json"], "opc-request-id": [f"demo-{index}"]},
                "id": f"demo-request-{index}",
                "parameters": {},
                "path": path,
            },
            "resourceId": path.rsplit("/", 1)[-1] or None,
            "response": {
                "headers": {"Content-Type": ["application/json"], "Date": ["Sun, 01 Nov 2026 09:55:00 GMT"]},
                "message": None,
                "payload": {"id": path.rsplit("/", 1)[-1]} if verb != "GET" else {},
                "responseTime": f"2026-11-01T09:55:{second}.812Z",
                "status": status,
            },
            "stateChange": {"current": {"lifecycleState": "RUNNING"} if verb == "PUT" else None, "previous": None},
        },
        "dataschema": "2.0",
        "id": str(uuid.UUID(int=0xA0D17 << 64 | index)),
        "oracle": {
            "compartmentid": _COMPARTMENT,
            "ingestedtime": f"2026-11-01T09:55:{second}.464Z",
            "loggroupid": "_Audit",
            "tenantid": _TENANCY,
        },
        "source": "",
        "specversion": "1.0",
        "time": f"2026-11-01T09:55:{second}.800Z",
        "type": f"com.oraclecloud.{service}.{event}",
    }


def records_date() -> str:
    """The day the sample records happened."""
    return str(_record(0, _ACTIONS[0])["time"])[:10]


def audit_records() -> list[dict[str, Any]]:
    """The twelve sample records."""
    return [_record(i, action) for i, action in enumerate(_ACTIONS, start=1)]


def connector_object(records: list[dict[str, Any]]) -> bytes:
    """Gzip'd text laid out like the connector writes it: five records one per line, three joined ``}{`` on one
    line, one pretty-printed over several lines, the rest one per line."""
    compact = [json.dumps(r, separators=(",", ":")) for r in records]
    lines = [*compact[:5], "".join(compact[5:8]), json.dumps(records[8], indent=2), *compact[9:]]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def entry(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a Logging entry: ``datetime`` is its time in epoch milliseconds (Oracle's "Logging Format
    Overview")."""
    when = datetime.fromisoformat(str(record["time"]))
    return {"datetime": int(when.timestamp() * 1000), "logContent": record}


def entry_object(records: list[dict[str, Any]]) -> bytes:
    """Gzip'd text laid out like :func:`connector_object`, each record inside a Logging entry."""
    return connector_object([entry(r) for r in records])


def sample_text() -> bytes:
    """The uncompressed text of :data:`SAMPLE`: the demo's twelve records as Logging entries in the connector's
    layout."""
    return gzip.decompress(entry_object(audit_records()))


def object_created_event(namespace: str, bucket: str, name: str, etag: str) -> dict[str, Any]:
    """The ``com.oraclecloud.objectstorage.createobject`` event (CloudEvents 0.1 envelope) for an object."""
    return {
        "eventType": "com.oraclecloud.objectstorage.createobject",
        "cloudEventsVersion": "0.1",
        "eventTypeVersion": "2.0",
        "source": "ObjectStorage",
        "eventTime": "2026-11-01T10:00:05.123Z",
        "contentType": "application/json",
        "data": {
            "compartmentId": _COMPARTMENT,
            "compartmentName": "maintenance",
            "resourceName": name,
            "resourceId": f"/n/{namespace}/b/{bucket}/o/{name}",
            "availabilityDomain": "AMS-AD-1",
            "additionalDetails": {
                "bucketName": bucket,
                "archivalState": "Available",
                "namespace": namespace,
                "bucketId": "ocid1.bucket.oc1.eu-amsterdam-1.aaaaaaaademobucket",
                "eTag": etag,
            },
        },
        "eventID": str(uuid.uuid4()),
        "extensions": {"compartmentId": _COMPARTMENT},
    }


def _short(line: bytes, width: int = 160) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= width else text[: width - 1] + "…"


def _report(status: int, summary: str, listener: LogzioListenerStandin, expected: list[str], log_type: str) -> bool:
    """Print what happened; true when every record arrived as a valid line filed under ``log_type``."""
    print(f"function answered {status}:")
    print(summary)
    lines = listener.lines
    print(f"\nlistener accepted {len(lines)} lines in {len(listener.requests)} request(s); first 3:")
    for line in lines[:3]:
        print("  " + _short(line))
    filed = Counter(a.type for a in listener.accepted)
    print("filed as Logz.io would file them: " + ", ".join(f"{kind} {count}" for kind, count in filed.items()))
    arrived = {r.get("id") for r in listener.records}
    missing = [i for i in expected if i not in arrived]
    if missing:
        print(f"\nFAIL: {len(missing)} of {len(expected)} records did not arrive: {missing}")
        return False
    if set(filed) != {log_type}:
        print(f"\nFAIL: not every line is filed under {log_type}: {dict(filed)}")
        return False
    print(f"\nOK: all {len(expected)} records arrived at the listener, each a valid line of type {log_type}")
    return True


def _report_metrics(monitoring: MonitoringStandin, expected: int) -> bool:
    """Print the posted datapoints; true when RecordsForwarded adds up to the records sent."""
    points = monitoring.datapoints()
    if not points:
        print("\nFAIL: no metrics reached the Monitoring stand-in")
        return False
    first = points[0]
    dimensions = ", ".join(f"{k}={v}" for k, v in first.dimensions.items())
    print(f"\nmetrics posted to Monitoring ({len(monitoring.posts)} signed post(s)), namespace {first.namespace},")
    print(f"compartment {first.compartment_id}, dimensions {dimensions}:")
    for point in points:
        value = f"{point.value:,.0f}" if point.value.is_integer() else f"{point.value:,.3f}"
        print(f"  {point.name:<22} {value:>16} {point.metadata.get('unit', '')}")
    print(f"(DeliveryLagSeconds counts from the records' own time; the sample's are from {records_date()})")
    forwarded = monitoring.total("RecordsForwarded")
    if forwarded != expected:
        print(f"\nFAIL: RecordsForwarded is {forwarded:g}, not {expected}")
        return False
    return True


def run(workdir: Path) -> bool:
    """The demo proper; returns success."""
    principal = make_principal(workdir / "principal")
    records = audit_records()
    with (
        ObjectStorageStandin(principal) as storage,
        LogzioListenerStandin(DEMO_TOKEN) as listener,
        MonitoringStandin(principal) as monitoring,
    ):
        etag = storage.put(storage.namespace, DEFAULT_BUCKET, OBJECT_NAME, entry_object(records))
        print(f"stand-ins: object storage {storage.url}, listener {listener.url}, monitoring {monitoring.url}")
        print(f"put oci://{DEFAULT_BUCKET}@{storage.namespace}/{OBJECT_NAME} ({len(records)} records)\n")
        config = {
            "input-bucket": DEFAULT_BUCKET,
            "logzio-url": listener.url,
            "logzio-token": DEMO_TOKEN,
            "objectstorage-endpoint": storage.url,
            "monitoring-endpoint": monitoring.url,
        }
        event = object_created_event(storage.namespace, DEFAULT_BUCKET, OBJECT_NAME, etag)
        with FdkServer(config, principal_env=principal.env()) as function:
            answer = function.invoke(event)
            try:
                summary = json.dumps(answer.json(), indent=2)
            except ValueError:
                summary = answer.text
            ok = _report(answer.status, summary, listener, [str(r["id"]) for r in records], EXPECTED_TYPE)
            ok = _report_metrics(monitoring, len(records)) and ok
            if not ok or answer.status != 200:
                print("\nfunction log (last 40 lines):\n" + "\n".join(function.logs().splitlines()[-40:]))
            return ok and answer.status == 200


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m standins.demo`` (``--write-sample`` rewrites docs/sample.log.gz instead)."""
    parser = argparse.ArgumentParser(prog="python -m standins.demo", description=__doc__)
    parser.add_argument("--write-sample", action="store_true", help=f"write the demo's object to {SAMPLE} and exit")
    if parser.parse_args(argv).write_sample:
        SAMPLE.write_bytes(gzip.compress(sample_text(), mtime=0))
        print(f"wrote {SAMPLE}")
        return 0
    if not (REPO_ROOT / "logzio_forwarder" / "edge.py").exists():
        print("the function package (logzio_forwarder/edge.py) is not there yet; nothing to demo")
        return 2
    with tempfile.TemporaryDirectory(prefix="logzio-demo-") as tmp:
        try:
            return 0 if run(Path(tmp)) else 1
        except FdkStartError as exc:
            print(exc)
            return 1


if __name__ == "__main__":
    sys.exit(main())
