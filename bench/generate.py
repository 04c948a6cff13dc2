"""Deterministic generator of realistic OCI Audit objects, as a Service Connector writes them.

``python -m bench.generate --sizes 5,50,500 --layout mixed`` writes ``bench/data/audit-<N>MB[-<layout>].log.gz``
plus a ``.json`` sidecar (uncompressed bytes, record count, layout counts). Files are regenerated only when
missing or written by an older generator version.

Records follow the Logging schema 2.0 / CloudEvents 1.0 shape of an audit event (see ``/work/shared/facts.md``),
2-4 KB each compact, with non-ASCII names, escaped quotes and ``}{`` inside some string values. A pool of a few
thousand distinct records is built once; every emitted record gets a fresh ``id``, ``time`` and
``oracle.ingestedtime`` by splicing pre-serialized byte fragments, so a 500 MB object takes seconds, not minutes,
and nothing larger than one ~1 MB chunk is ever held in memory.

Layouts (one *unit* ends with ``\\n``):

* ``mixed`` (default, like the seed describes real objects): ~85 % one compact record per line, ~10 % 2-3 compact
  records joined ``}{`` on one line, ~5 % one record pretty-printed over many lines (``indent=2``).
* ``poc-safe``: the same without pretty-printed records -- the only shape the seed PoC's text rewrite can parse.
* ``ndjson``: one compact record per line (the best case; used by ``bench.floor``).
* ``joined-braces``: the ``poc-safe`` mix (a fifth of the records joined ``}{``), but every record carries ``}{``
  inside a string value (a user agent or a request parameter), so a split at every ``}{`` goes wrong on every
  joined line.
* ``joined-lines``: the records of ``joined-braces`` (``}{`` inside a string value of every one), but a fifth of the
  *lines* join 2-3 records (about a third of the records sit on a joined line).
* ``wrapped``: the ``mixed`` mix, every record inside a Logging entry ``{"datetime":<epoch ms>,"logContent":{…}}``
  (the layout Oracle's Logging docs show; ``datetime`` is the record's time).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import re
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 2
DATA_DIR = Path(__file__).resolve().parent / "data"
LAYOUTS = ("mixed", "poc-safe", "ndjson", "joined-braces", "joined-lines", "wrapped")
BRACED = ("joined-braces", "joined-lines")
"""Layouts whose every record holds ``}{`` inside a string value."""
MB = 1_000_000
"""Sizes and throughputs use decimal megabytes of *uncompressed* object text."""

_PH_RE = re.compile(rb'"@@(ID|TIME|ING)@@"')
_B32 = string.ascii_lowercase + "234567"


@dataclass
class Meta:
    """The sidecar written next to each object; :mod:`bench.__main__` reads ``uncompressed_bytes`` from it."""

    path: str
    layout: str
    target_mb: int
    seed: int
    uncompressed_bytes: int = 0
    compressed_bytes: int = 0
    records: int = 0
    lines: int = 0
    units: dict[str, int] = field(default_factory=lambda: {"single": 0, "joined": 0, "pretty": 0})
    compressor: str = "zlib-6"
    generator_version: int = GENERATOR_VERSION
    seconds: float = 0.0
    cached: bool = False


# --------------------------------------------------------------------------------------------------------------
# The tenancy every record comes from: a fixed universe of compartments, principals and resources, so OCIDs repeat
# inside the gzip window the way they do in a real tenancy's audit trail.
# --------------------------------------------------------------------------------------------------------------

COMPARTMENT_NAMES = [
    "maintenance",
    "network",
    "security",
    "prod-web",
    "Entwicklung-Österreich",
    "producción",
    "開発環境",
    "data-lake",
    "finance—reporting",
    "sandbox-zoë",
    "shared-services",
    "dr-site",
]
USERS = [
    ("alice.smith@example.com", "natv"),
    ("bob.jones@example.com", "natv"),
    ("josé.garcía@example.com", "fed"),
    ("山田太郎", "fed"),
    ("Zoë Ångström", "fed"),
    ("oracleidentitycloudservice/ci-deployer", "fed"),
    ("terraform-automation", "natv"),
    ("Søren Kierkegård", "natv"),
    ("müller.jürgen@example.de", "fed"),
    ("ops-oncall@example.com", "natv"),
]
SERVICE_PRINCIPALS = [
    ("serviceconnector", "rp"),
    ("objectstorage-eu-amsterdam-1", "service"),
    ("fnfunc", "rp"),
    ("instance-principal/ci-runner", "ip"),
]
USER_AGENTS = [
    "Oracle-PythonSDK/2.189.0 (python 3.11.7; x86_64-Linux) Oracle-CloudShell",
    "Oracle-JavaSDK/3.52.1 (Linux/5.15.0-300.163.18.el8uek.x86_64; Java/17.0.12; OpenJDK 64-Bit Server VM/17.0.12)",
    "Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-oci/6.18.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Oracle-GoSDK/65.80.0 (go/go1.22.9; linux/amd64; terraform/1.9.8) terraform-provider-oci/6.18.0",
    "Oracle-CLI/3.50.1 (Python 3.11.7; Linux 5.15)",
]
# (service, eventName, action, resource kind, path template, response status)
EVENTS = [
    ("ComputeApi", "UpdateInstance", "PUT", "instance", "/20160918/instances/{rid}", "200"),
    ("ComputeApi", "LaunchInstance", "POST", "instance", "/20160918/instances", "200"),
    ("ComputeApi", "TerminateInstance", "DELETE", "instance", "/20160918/instances/{rid}", "204"),
    ("ComputeApi", "InstanceAction", "POST", "instance", "/20160918/instances/{rid}", "200"),
    ("ObjectStorage", "PutObject", "PUT", "bucket", "/n/{ns}/b/{name}/o/{obj}", "200"),
    ("ObjectStorage", "DeleteObject", "DELETE", "bucket", "/n/{ns}/b/{name}/o/{obj}", "204"),
    ("ObjectStorage", "UpdateBucket", "POST", "bucket", "/n/{ns}/b/{name}", "200"),
    ("VirtualNetworkApi", "UpdateSecurityList", "PUT", "securitylist", "/20160918/securityLists/{rid}", "200"),
    ("VirtualNetworkApi", "CreateVcn", "POST", "vcn", "/20160918/vcns", "200"),
    ("VirtualNetworkApi", "DeleteSubnet", "DELETE", "subnet", "/20160918/subnets/{rid}", "204"),
    ("IdentityControlPlane", "UpdateUser", "PUT", "user", "/20160918/users/{rid}", "200"),
    ("IdentityControlPlane", "CreatePolicy", "POST", "policy", "/20160918/policies", "200"),
    ("IdentityControlPlane", "AddUserToGroup", "POST", "group", "/20160918/userGroupMemberships", "200"),
    ("BlockVolumeApi", "CreateVolume", "POST", "volume", "/20160918/volumes", "200"),
    (
        "DatabaseApi",
        "UpdateAutonomousDatabase",
        "PUT",
        "autonomousdatabase",
        "/20160918/autonomousDatabases/{rid}",
        "200",
    ),
    ("KeyManagementApi", "CreateKey", "POST", "key", "/20180608/keys", "200"),
    ("FunctionsApi", "UpdateFunction", "PUT", "fnfunc", "/20181201/functions/{rid}", "200"),
    (
        "LoadBalancerApi",
        "UpdateBackendSet",
        "PUT",
        "loadbalancer",
        "/20170115/loadBalancers/{rid}/backendSets/web",
        "202",
    ),
    ("ContainerEngineApi", "CreateNodePool", "POST", "nodepool", "/20180222/nodePools", "202"),
    (
        "ServiceConnectorApi",
        "UpdateServiceConnector",
        "PUT",
        "serviceconnector",
        "/20200909/serviceConnectors/{rid}",
        "202",
    ),
]
DISPLAY_NAMES = [
    "web-01",
    "web-02",
    "batch-ö1",
    "db-primary",
    "bastion",
    "ci-runner-7",
    "análisis",
    "测试实例",
    "edge-lb",
]
SHAPES = ["VM.Standard.E4.Flex", "VM.Standard.E5.Flex", "VM.Standard3.Flex", "BM.Standard.E4.128", "VM.Optimized3.Flex"]


class Universe:
    """OCIDs and names shared by all records of one generated object."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.region = "eu-amsterdam-1"
        self.ad = "ULmN:EU-AMSTERDAM-1-AD-1"
        self.namespace = "axzq1example"
        self.tenancy = self.ocid("tenancy", regional=False)
        self.compartments = [(name, self.ocid("compartment", regional=False)) for name in COMPARTMENT_NAMES]
        self.users = [(name, auth, self.ocid("user", regional=False)) for name, auth in USERS]
        self.services = [(name, auth, self.ocid("serviceconnector")) for name, auth in SERVICE_PRINCIPALS]
        self.ips = [
            f"{rng.randrange(10, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(24)
        ]
        self.resources: dict[str, list[str]] = {}
        for _, _, _, kind, _, _ in EVENTS:
            self.resources.setdefault(kind, [self.ocid(kind) for _ in range(12)])
        self.tag_namespaces = ["Oracle-Tags", "Operations", "CostCenter"]

    def b32(self, n: int) -> str:
        return "".join(self.rng.choices(_B32, k=n))

    def ocid(self, kind: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"ocid1.{kind}.oc1.{region}.aaaaaaaa{self.b32(52)}"

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def opc_id(self) -> str:
        return f"{self.b32(32).upper()}/{self.b32(24).upper()}"


def _iso(epoch_ms: int) -> str:
    sec, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"


def _http_date(epoch_ms: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch_ms // 1000))


def _state(u: Universe, rid: str, comp_id: str, display: str, size_hint: int) -> dict[str, Any]:
    """A resource's state as the control plane returns it: nested dicts, lists, tags and one large blob."""
    rng = u.rng
    ocpus = rng.choice([1, 2, 4, 8, 16])
    state: dict[str, Any] = {
        "id": rid,
        "compartmentId": comp_id,
        "displayName": display,
        "lifecycleState": rng.choice(["RUNNING", "STOPPED", "PROVISIONING", "AVAILABLE", "UPDATING"]),
        "shape": rng.choice(SHAPES),
        "shapeConfig": {"ocpus": ocpus, "memoryInGBs": ocpus * 16, "baselineOcpuUtilization": "BASELINE_1_1"},
        "timeCreated": _iso(1_760_000_000_000 + rng.randrange(10**10)),
        "availabilityDomain": u.ad,
        "faultDomain": f"FAULT-DOMAIN-{rng.randrange(1, 4)}",
        "freeformTags": {
            "team": rng.choice(["platform", "data", "sécurité", "web"]),
            "env": rng.choice(["prod", "dev"]),
        },
        "definedTags": {
            "Oracle-Tags": {
                "CreatedBy": rng.choice(u.users)[0],
                "CreatedOn": _iso(1_750_000_000_000 + rng.randrange(10**10)),
            },
            "Operations": {"CostCenter": str(rng.randrange(1000, 9999)), "Owner": rng.choice(u.users)[0]},
        },
        "launchOptions": {
            "bootVolumeType": "PARAVIRTUALIZED",
            "firmware": "UEFI_64",
            "networkType": "VFIO",
            "isPvEncryptionInTransitEnabled": rng.random() < 0.5,
        },
        "agentConfig": {
            "isMonitoringDisabled": False,
            "pluginsConfig": [
                {"name": name, "desiredState": rng.choice(["ENABLED", "DISABLED"])}
                for name in rng.sample(
                    [
                        "Vulnerability Scanning",
                        "OS Management Service Agent",
                        "Compute Instance Monitoring",
                        "Bastion",
                        "Block Volume Management",
                    ],
                    k=rng.randrange(1, 5),
                )
            ],
        },
    }
    extra = max(0, size_hint)
    if extra:
        # A base64-ish blob (cloud-init user_data, an ssh key, a policy document) fills the record to its size.
        state["metadata"] = {"ssh_authorized_keys": "ssh-rsa AAAAB3NzaC1yc2E" + u.b32(extra) + " opc@bastion"}
    return state


_SIGNED_HEADERS = "date (request-target) host content-length content-type x-content-sha256"


def _headers(
    u: Universe, *, action: str, status: str, ua: str, ip: str, request_id: str, t0: int
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Request and response headers as the audit record carries them: every value a list of strings."""
    rng = u.rng
    signature = (
        'Signature version="1",keyId="ST$eyJraWQiOiJhc3dfb2MxXzIwMjYiLCJhbGciOiJSUzI1NiJ9.'
        + u.b32(40)
        + f'",algorithm="rsa-sha256",headers="{_SIGNED_HEADERS}",signature="*****"'
    )
    req_headers: dict[str, list[str]] = {
        "Accept": ["application/json"],
        "Authorization": [signature],
        "Content-Type": ["application/json"],
        "Date": [_http_date(t0)],
        "User-Agent": [ua],
        "X-Forwarded-For": [ip],
        "opc-request-id": [request_id],
        "opc-client-info": [ua.split(" ", 1)[0]],
        "Content-Length": [str(rng.randrange(120, 4000))],
        "x-content-sha256": [u.b32(43) + "="],
    }
    if action != "DELETE":
        req_headers["opc-retry-token"] = [u.b32(32)]
    resp_headers: dict[str, list[str]] = {
        "Content-Type": ["application/json"],
        "Date": [_http_date(t0 + 400)],
        "opc-request-id": [request_id],
        "Content-Length": [str(rng.randrange(200, 9000))],
    }
    if status == "200":
        resp_headers["ETag"] = [u.b32(64)]
    return req_headers, resp_headers


def _braced_user_agent(rng: random.Random, ua: str) -> str:
    """A client that puts its own tags in the user agent: ``}{`` inside a string value."""
    return ua + f" ext/{{{rng.choice(['cli', 'tf', 'sdk'])}}}{{{rng.randrange(1, 99)}}}"


def _record(u: Universe, target: int, braces: bool = False) -> dict[str, Any]:
    """One audit record with ``@@ID@@``/``@@TIME@@``/``@@ING@@`` placeholders, about ``target`` bytes compact;
    with ``braces``, one string value (the user agent or a request parameter) is sure to hold ``}{``."""
    rng = u.rng
    service, event, action, kind, template, status = rng.choice(EVENTS)
    comp_name, comp_id = rng.choice(u.compartments)
    if rng.random() < 0.8:
        principal, auth, principal_id = rng.choice(u.users)
    else:
        principal, auth, principal_id = rng.choice(u.services)
    rid = rng.choice(u.resources[kind])
    display = rng.choice(DISPLAY_NAMES)
    ip = rng.choice(u.ips)
    ua = rng.choice(USER_AGENTS)
    braced_ua = braces and rng.random() < 0.5
    ua = _braced_user_agent(rng, ua) if braced_ua else ua
    t0 = 1_793_000_000_000 + rng.randrange(10**9)
    request_id = u.opc_id()
    obj = f"reports/{rng.choice(['2026', '2027'])}/{display}-{rng.randrange(10**6)}.csv"
    path = template.format(rid=rid, ns=u.namespace, name=f"bucket-{comp_name}", obj=obj)
    parameters: dict[str, list[str]] = {}
    if action == "POST" and rng.random() < 0.5:
        parameters = {"action": [rng.choice(["SOFTRESET", "START", "STOP"])]}
    if rng.random() < 0.15:
        # `}{` inside a value: a text rewrite that replaces `}{` corrupts it; a parser does not care.
        parameters["fields"] = ['{"name":"x"}{"name":"y"}']
    if braces and not braced_ua:  # a filter given as concatenated JSON
        parameters["filter"] = ['{"lifecycleState":"RUNNING"}{"lifecycleState":"STOPPED"}']
    req_headers, resp_headers = _headers(u, action=action, status=status, ua=ua, ip=ip, request_id=request_id, t0=t0)
    previous = None if action == "POST" else _state(u, rid, comp_id, display, 0)
    current = None if action == "DELETE" else _state(u, rid, comp_id, display, 0)
    quoted = rng.random() < 0.2
    message = (
        f"{display} {event} succeeded" if not quoted else f'{kind} "{display}" {event}: requested by "{principal}"'
    )
    record: dict[str, Any] = {
        "data": {
            "additionalDetails": {
                "x-oci-request-origin": rng.choice(["console", "sdk", "terraform"]),
                "imageId": u.ocid("image"),
                "shape": rng.choice(SHAPES),
            },
            "availabilityDomain": u.ad,
            "compartmentId": comp_id,
            "compartmentName": comp_name,
            "definedTags": {"Oracle-Tags": {"CreatedBy": principal, "CreatedOn": _iso(t0 - 86_400_000)}},
            "eventGroupingId": request_id,
            "eventName": event,
            "freeformTags": {"owner": principal, "project": rng.choice(["apollo", "zeus", "hermès", "ナビ"])},
            "identity": {
                "authType": auth,
                "callerId": None,
                "callerName": None,
                "consoleSessionId": u.b32(26) if "Mozilla" in ua else None,
                "credentials": "ST$" + u.b32(48),
                "ipAddress": ip,
                "principalId": principal_id,
                "principalName": principal,
                "tenantId": u.tenancy,
                "userAgent": ua,
            },
            "message": message,
            "request": {
                "action": action,
                "headers": req_headers,
                "id": request_id,
                "parameters": parameters,
                "path": path,
            },
            "resourceId": rid,
            "resourceName": display,
            "response": {
                "headers": resp_headers,
                "message": None,
                "payload": {"id": rid, "resourceName": display}
                if rng.random() < 0.8
                else {"raw": '{"lifecycleState":"UPDATING"}{"lifecycleState":"RUNNING"}'},
                "responseTime": "@@ING@@",
                "status": status,
            },
            "stateChange": {"current": current, "previous": previous},
        },
        "dataschema": "2.0",
        "id": "@@ID@@",
        "oracle": {
            "compartmentid": comp_id,
            "ingestedtime": "@@ING@@",
            "loggroupid": "_Audit",
            "tenantid": u.tenancy,
        },
        "source": display,
        "specversion": "1.0",
        "time": "@@TIME@@",
        "type": f"com.oraclecloud.{service}.{event}",
    }
    # Trim optional parts until the record fits its target size, then fill it up with a blob in the resource state
    # (or in additionalDetails when there is no state), so sizes spread evenly over 2-4 KB.
    removable: list[tuple[dict[str, Any], str]] = []
    for state in (previous, current):
        if state is not None:
            removable += [(state, k) for k in _STATE_OPTIONAL]
    removable += [(req_headers, k) for k in _REQ_HEADERS_OPTIONAL if k in req_headers]
    removable += [(record["data"]["identity"], "credentials"), (record["data"]["additionalDetails"], "imageId")]
    removable += [(resp_headers, "Date"), (resp_headers, "Content-Length")]
    size = len(_compact(record)) + _PLACEHOLDER_GROWTH
    while size > target and removable:
        holder, key = removable.pop(0)
        holder.pop(key, None)
        size = len(_compact(record)) + _PLACEHOLDER_GROWTH
    missing = target - size
    if missing > 40:
        blob = "ssh-rsa AAAAB3NzaC1yc2E" + u.b32(missing - 40) + " opc@x"
        holder_state = current if current is not None else previous
        if holder_state is not None:
            holder_state["metadata"] = {"ssh_authorized_keys": blob}
        else:
            record["data"]["additionalDetails"]["userData"] = blob
    return record


_STATE_OPTIONAL = (
    "agentConfig",
    "launchOptions",
    "definedTags",
    "shapeConfig",
    "timeCreated",
    "availabilityDomain",
    "faultDomain",
    "freeformTags",
    "shape",
    "compartmentId",
)
_REQ_HEADERS_OPTIONAL = (
    "x-content-sha256",
    "opc-client-info",
    "opc-retry-token",
    "Content-Length",
    "Accept",
    "User-Agent",
    "Date",
    "Authorization",
)
_PLACEHOLDER_GROWTH = (36 - 6) + (24 - 8) + 2 * (24 - 7)
"""How many bytes longer a record gets when ``@@ID@@``, ``@@TIME@@`` and 2x ``@@ING@@`` are filled in."""


def _compact(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _pretty(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode()


def _template(blob: bytes) -> list[bytes | int]:
    """Split serialized bytes at the placeholders: fragments, with 0/1/2 marking where ID/TIME/ING go."""
    out: list[bytes | int] = []
    pos = 0
    for m in _PH_RE.finditer(blob):
        out.append(blob[pos : m.start()] + b'"')
        out.append({b"ID": 0, b"TIME": 1, b"ING": 2}[m.group(1)])
        out.append(b'"')
        pos = m.end()
    out.append(blob[pos:])
    return out


@dataclass
class Pool:
    compact: list[list[bytes | int]]
    pretty: list[list[bytes | int]]


@functools.lru_cache(maxsize=2)
def build_pool(seed: int, n: int, braces: bool = False) -> Pool:
    rng = random.Random(seed)
    u = Universe(rng)
    compact: list[list[bytes | int]] = []
    pretty: list[list[bytes | int]] = []
    for _ in range(n):
        target = rng.randrange(2048 + 64, 4096 - 64)
        rec = _record(u, target, braces)
        c = _compact(rec)
        if not 2048 <= len(c) + _PLACEHOLDER_GROWTH <= 4096:
            raise AssertionError(f"record of {len(c) + _PLACEHOLDER_GROWTH} bytes is outside 2-4 KB")
        compact.append(_template(c))
        pretty.append(_template(_pretty(rec)))
    return Pool(compact, pretty)


def _units(pool: Pool, layout: str, seed: int, meta: Meta) -> Iterator[bytes]:
    """Endless stream of newline-terminated units (one line, a joined line or a pretty record)."""
    rng = random.Random(seed ^ 0x5EED)
    n = len(pool.compact)
    epoch_ms = 1_793_000_000_000
    getrandbits = rng.getrandbits
    randrange = rng.randrange
    rand = rng.random
    strftime = time.strftime
    gmtime = time.gmtime
    units = meta.units
    wrapped = layout == "wrapped"

    def fill(tpl: list[bytes | int]) -> bytes:
        nonlocal epoch_ms
        epoch_ms += randrange(1, 40)
        h = f"{getrandbits(128):032x}"
        values = (
            f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode(),
            (strftime("%Y-%m-%dT%H:%M:%S", gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z").encode(),
            (
                strftime("%Y-%m-%dT%H:%M:%S", gmtime((epoch_ms + 1500) // 1000)) + f".{(epoch_ms + 1500) % 1000:03d}Z"
            ).encode(),
        )
        record = b"".join(values[p] if isinstance(p, int) else p for p in tpl)
        return b'{"datetime":%d,"logContent":%b}' % (epoch_ms, record) if wrapped else record

    while True:
        r = rand() if layout != "ndjson" else 0.0
        if r < 0.05 and layout in ("mixed", "wrapped"):
            units["pretty"] += 1
            meta.records += 1
            yield fill(pool.pretty[randrange(n)]) + b"\n"
        elif r >= 0.90 or (layout == "joined-lines" and r >= 0.80):
            k = 2 if rand() < 0.7 else 3
            units["joined"] += 1
            meta.records += k
            yield b"".join(fill(pool.compact[randrange(n)]) for _ in range(k)) + b"\n"
        else:
            units["single"] += 1
            meta.records += 1
            yield fill(pool.compact[randrange(n)]) + b"\n"


def object_path(size_mb: int, layout: str, data_dir: Path = DATA_DIR) -> Path:
    suffix = "" if layout == "mixed" else f"-{layout}"
    return data_dir / f"audit-{size_mb}MB{suffix}.log.gz"


def read_meta(path: Path) -> Meta | None:
    side = path.with_name(path.name + ".json")
    if not path.exists() or not side.exists():
        return None
    try:
        raw = json.loads(side.read_text())
        meta = Meta(**raw)
    except (ValueError, TypeError):
        return None
    if meta.generator_version != GENERATOR_VERSION:
        return None
    return meta


def generate(
    size_mb: int,
    layout: str = "mixed",
    *,
    seed: int = 20261101,
    pool_size: int = 3000,
    data_dir: Path = DATA_DIR,
    level: int = 6,
    force: bool = False,
) -> Meta:
    """Write the object (and its sidecar) unless an up-to-date one exists; return its metadata."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    path = object_path(size_mb, layout, data_dir)
    if not force and (existing := read_meta(path)) is not None and existing.seed == seed:
        existing.cached = True
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pool = build_pool(seed, pool_size, braces=layout in BRACED)
    meta = Meta(path=str(path), layout=layout, target_mb=size_mb, seed=seed, compressor=f"zlib-{level}")
    target = size_mb * MB
    tmp = path.with_name(path.name + ".tmp")
    chunk: list[bytes] = []
    chunk_len = 0
    written = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0) as gz:
        for unit in _units(pool, layout, seed, meta):
            chunk.append(unit)
            chunk_len += len(unit)
            meta.lines += unit.count(b"\n")
            if chunk_len >= 1 << 20 or written + chunk_len >= target:
                gz.write(b"".join(chunk))
                written += chunk_len
                chunk.clear()
                chunk_len = 0
                if written >= target:
                    break
    meta.uncompressed_bytes = written
    meta.compressed_bytes = tmp.stat().st_size
    meta.seconds = round(time.perf_counter() - started, 2)
    os.replace(tmp, path)
    path.with_name(path.name + ".json").write_text(json.dumps(asdict(meta), indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="5,50,500", help="comma-separated sizes in MB (uncompressed)")
    p.add_argument("--layout", default="mixed", help=f"comma-separated, of {', '.join(LAYOUTS)}")
    p.add_argument("--seed", type=int, default=20261101)
    p.add_argument("--pool", type=int, default=3000, help="distinct records to build before emitting")
    p.add_argument("--level", type=int, default=6, help="gzip level (the connector's is unknown; 6 is gzip's default)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--force", action="store_true", help="regenerate even when an up-to-date file exists")
    args = p.parse_args(argv)
    for layout in args.layout.split(","):
        for size in (int(s) for s in args.sizes.split(",") if s):
            meta = generate(
                size,
                layout,
                seed=args.seed,
                pool_size=args.pool,
                data_dir=args.data_dir,
                level=args.level,
                force=args.force,
            )
            print(
                f"{meta.path}: {meta.uncompressed_bytes / MB:.1f} MB -> {meta.compressed_bytes / MB:.1f} MB gz, "
                f"{meta.records} records, {meta.lines} lines, units {meta.units}"
                + (" (cached)" if meta.cached else f", {meta.seconds} s"),
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
