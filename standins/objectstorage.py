"""A loopback OCI Object Storage: the REST subset the forwarder uses, answered as the real service answers it.

The real ``oci.object_storage.ObjectStorageClient(config={}, signer=<resource principal signer>,
service_endpoint=<url>)`` works against it unchanged: GetNamespace, GetObject (ranges, ``if-match``), HeadObject,
ListObjects (paging via ``nextStartWith``), PutObject (``if-match`` / ``if-none-match: *``) and DeleteObject, with
OCI's JSON error bodies ``{"code": ..., "message": ...}``. Every request must carry a valid OCI HTTP signature
(draft-cavage, as built by ``oci/signer.py``; :mod:`standins.ocirest` verifies it), checked against the key of
the :class:`~standins.principal.Principal` session its token names: an unsigned or badly signed request, or one
whose session token has expired, gets ``401 NotAuthenticated`` like the service answers it. API-key signers
(``keyId="<tenancy>/<user>/<fingerprint>"``, as the CLI's config-file auth builds them) are accepted too once
their public key is registered with :meth:`ObjectStorageStandin.register_key`.

Tests drive it through a Python API (:meth:`ObjectStorageStandin.put`, :meth:`get`, :meth:`names`, :attr:`requests`)
and make it misbehave as the real service can, on demand, with :meth:`ObjectStorageStandin.inject`: the next
requests of one operation on a key prefix get a fault instead of (or on top of) their normal answer — an OCI error
(:class:`Fail`: a 404 ``BucketNotFound`` / ``NotAuthorizedOrNotFound`` for policy or propagation trouble, a 409
``ConcurrentObjectUpdate``, a 5xx), content that is not what was written (:class:`Corrupt`), a download cut off
(:class:`Truncate`), a write applied whose answer never arrives (:class:`LoseAnswer`), another writer getting there
first (:class:`Before`), or two writers at once (:class:`Collide`). Objects live in memory.

Error codes for 412 (``IfMatchFailed`` / ``IfNoneMatchFailed``), 409 (``ConcurrentObjectUpdate``) and 416
(``InvalidRange``) are what the service is recalled to send, not confirmed from documentation: code under test
should key on the HTTP status.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import hashlib
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs, unquote

from cryptography.hazmat.primitives.asymmetric import rsa

from . import LoopbackServer, OwnedHandler
from .ocirest import AUTH_MESSAGE, ServiceError, TrustsPrincipals, verify_signature
from .principal import Principal

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_NAMESPACE",
    "Before",
    "Collide",
    "Corrupt",
    "Fail",
    "Fault",
    "LoseAnswer",
    "ObjectStorageStandin",
    "SeenRequest",
    "ServiceError",
    "StoredObject",
    "Truncate",
    "verify_signature",
]

DEFAULT_NAMESPACE = "standinns"
DEFAULT_BUCKET = "logfile_download_bucket"
_OBJECT_PATH = re.compile(r"^/n/(?P<ns>[^/]+)/b/(?P<bucket>[^/]+)/o/(?P<name>.+)$")
_LIST_PATH = re.compile(r"^/n/(?P<ns>[^/]+)/b/(?P<bucket>[^/]+)/o/?$")
_NAMESPACE_PATH = re.compile(r"^/n/?$")
_LIST_FIELDS = ("name", "size", "etag", "md5", "timeCreated", "timeModified", "storageTier", "archivalState")


@dataclass(frozen=True)
class StoredObject:
    """One object version as the service keeps it."""

    data: bytes
    etag: str
    content_type: str
    md5: str
    """Base64 MD5 of the data, as ``opc-content-md5`` carries it."""
    time_created: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)
    """``opc-meta-*`` headers given at upload, keys without the prefix."""


@dataclass(frozen=True)
class SeenRequest:
    """One request as the stand-in saw it, for assertions."""

    method: str
    path: str
    """The raw request target, query included, exactly as signed."""
    operation: str
    """``GetNamespace``, ``GetObject``, ``HeadObject``, ``ListObjects``, ``PutObject``, ``DeleteObject`` or ``?``."""
    object_name: str | None
    headers: Mapping[str, str]
    """Request headers, names lower-cased."""
    status: int
    auth_error: str | None
    """Why the signature was refused (``None`` when it verified)."""
    fault: str = ""
    """The injected fault that met this request (its class name), if any."""


@dataclass
class _Route:
    operation: str
    namespace: str | None = None
    bucket: str | None = None
    name: str | None = None
    query: dict[str, list[str]] = field(default_factory=dict)

    def param(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[0] if values else None


@dataclass
class _Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: int | None = None
    """Overrides the Content-Length header (HEAD answers the object's size without a body)."""
    truncate_after: int | None = None
    lose: bool = False
    """Drop the connection instead of answering (the request itself was served)."""


# ----- faults: what a request can meet instead of its normal answer --------------------------------------------------

Serve = Callable[[], _Reply]
"""Serves the request normally (and applies it); a fault decides whether and how to call it."""


class Fault(Protocol):
    """Something a request meets instead of its normal answer (``on_answer`` false: it decides whether to serve),
    or on top of it (``on_answer`` true: it changes a successful answer, and only a successful one uses it up).
    ``requests``: how many matching requests one use of it takes (two for a collision)."""

    @property
    def requests(self) -> int: ...

    @property
    def on_answer(self) -> bool: ...

    def answer(self, serve: Serve) -> _Reply: ...


@dataclass(frozen=True)
class Fail:
    """Answer with an OCI error document instead of serving (nothing is applied)."""

    status: int
    code: str | None = None
    message: str = ""
    requests: int = 1
    on_answer: bool = False

    def answer(self, serve: Serve) -> _Reply:
        raise ServiceError(self.status, self.code, self.message or "injected failure")


@dataclass(frozen=True)
class Corrupt:
    """Serve a GetObject with ``data`` as the object's content (what the service would send had that been stored;
    the stored object is left alone)."""

    data: bytes
    requests: int = 1
    on_answer: bool = True

    def answer(self, serve: Serve) -> _Reply:
        reply = serve()
        if reply.status in (200, 206):
            reply.body, reply.content_length = self.data, len(self.data)
            reply.headers["opc-content-md5"] = base64.b64encode(hashlib.md5(self.data).digest()).decode()
        return reply


@dataclass(frozen=True)
class Truncate:
    """Send a GetObject's full Content-Length but close the connection after ``after_bytes``: a broken download."""

    after_bytes: int
    requests: int = 1
    on_answer: bool = True

    def answer(self, serve: Serve) -> _Reply:
        reply = serve()
        reply.truncate_after = self.after_bytes
        return reply


@dataclass(frozen=True)
class LoseAnswer:
    """Serve the request (a write is applied), then drop the connection unanswered: the client cannot know it
    succeeded, and an SDK retry meets the state its own request left."""

    requests: int = 1
    on_answer: bool = True

    def answer(self, serve: Serve) -> _Reply:
        reply = serve()
        reply.lose = True
        return reply


@dataclass(frozen=True)
class Before:
    """Run ``action`` (another writer's doing, e.g. :meth:`ObjectStorageStandin.put`), then serve the request."""

    action: Callable[[], object]
    requests: int = 1
    on_answer: bool = False

    def answer(self, serve: Serve) -> _Reply:
        self.action()
        return serve()


class Collide:
    """Two writers at once: the first matching request waits (up to ``wait_s``) for a second, then is served; the
    second is answered as the service answers a write that raced another: 409 ``ConcurrentObjectUpdate``, or, with
    ``status=412``, by serving it after the first (its precondition then fails on the first's write)."""

    requests = 2
    on_answer = False

    def __init__(self, status: int = 409, *, wait_s: float = 30.0) -> None:
        self._status = status
        self._wait_s = wait_s
        self._turn = threading.Condition()
        self._arrived = 0
        self._first_done = False

    def answer(self, serve: Serve) -> _Reply:
        with self._turn:
            self._arrived += 1
            first = self._arrived == 1
            self._turn.notify_all()
            if first:
                self._turn.wait_for(lambda: self._arrived >= 2, self._wait_s)
            else:
                self._turn.wait_for(lambda: self._first_done, self._wait_s)
        if first:
            try:
                return serve()
            finally:
                with self._turn:
                    self._first_done = True
                    self._turn.notify_all()
        if self._status == 409:
            raise ServiceError(409, "ConcurrentObjectUpdate", "The object was updated by a concurrent request")
        return serve()


@dataclass
class _Injection:
    """A fault waiting for the requests it is meant for."""

    fault: Fault
    operation: str
    key_prefix: str | None
    method: str | None = None
    path_contains: str | None = None
    conditional: bool = False
    body_contains: bytes | None = None
    times: int = 1
    skip: int = 0

    def matches(self, method: str, target: str, route: _Route, headers: Mapping[str, str], body: bytes) -> bool:
        if self.operation not in ("*", route.operation):
            return False
        if self.method is not None and self.method not in ("*", method.upper()):
            return False
        if self.path_contains is not None and not (
            self.path_contains in target or self.path_contains in unquote(target)
        ):
            return False
        key = route.name if route.name is not None else route.param("prefix") or ""
        if self.key_prefix is not None and not key.startswith(self.key_prefix):
            return False
        if self.conditional and not ({"if-match", "if-none-match"} & set(headers)):
            return False
        return self.body_contains is None or self.body_contains in body


def _http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _route(method: str, target: str) -> _Route:
    """Map the request line to an operation; object names arrive percent-encoded (``/`` as ``%2F``)."""
    path, _, query = target.partition("?")
    parsed_query = parse_qs(query, keep_blank_values=True)
    if _NAMESPACE_PATH.match(path) and method == "GET":
        return _Route("GetNamespace", query=parsed_query)
    if match := _LIST_PATH.match(path):
        op = "ListObjects" if method == "GET" else "?"
        return _Route(op, unquote(match["ns"]), unquote(match["bucket"]), query=parsed_query)
    if match := _OBJECT_PATH.match(path):
        ops = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
        return _Route(
            ops.get(method, "?"), unquote(match["ns"]), unquote(match["bucket"]), unquote(match["name"]), parsed_query
        )
    return _Route("?", query=parsed_query)


def _parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` → inclusive (first, last); ``None`` if the header is unusable."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", spec)
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        return max(size - int(match[2]), 0), size - 1
    first = int(match[1])
    last = min(int(match[2]), size - 1) if match[2] else size - 1
    if first >= size or (match[2] and int(match[2]) < first):
        raise ServiceError(416, "InvalidRange", f"The requested range {spec!r} is not satisfiable (size {size})")
    return first, last


class _Handler(OwnedHandler["ObjectStorageStandin"]):
    """Reads the request, authenticates, applies injections, dispatches, answers, records."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = _route(self.command, self.path)
        request_id = uuid.uuid4().hex.upper()
        auth_error: str | None = None
        fault: Fault | None = None
        try:
            try:
                verify_signature(
                    self.owner.principals, self.command, self.path, headers, body, api_keys=self.owner.api_keys
                )
            except ValueError as exc:
                auth_error = str(exc)
                raise ServiceError(401, "NotAuthenticated", AUTH_MESSAGE) from None
            fault = self.owner.take_injection(self.command, self.path, route, headers, body, on_answer=False)
            if fault is not None:
                reply = fault.answer(functools.partial(self.owner.dispatch, route, headers, body))
            else:
                reply = self.owner.dispatch(route, headers, body)
                if 200 <= reply.status < 300:
                    fault = self.owner.take_injection(self.command, self.path, route, headers, body, on_answer=True)
                    reply = fault.answer(lambda: reply) if fault is not None else reply
        except ServiceError as err:
            reply = _Reply(err.status, {"Content-Type": "application/json"}, err.body())
        reply.headers["opc-request-id"] = request_id
        if "opc-client-request-id" in headers:
            reply.headers["opc-client-request-id"] = headers["opc-client-request-id"]
        seen = SeenRequest(self.command, self.path, route.operation, route.name, headers, reply.status, auth_error)
        self.owner.record(replace(seen, fault=type(fault).__name__) if fault is not None else seen)
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        """Send the reply; a truncated one promises the full length and then drops the connection, a lost one
        drops it at once."""
        if reply.lose:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.content_length is None and reply.truncate_after is None:
            self.send_bytes(reply.status, reply.body, reply.headers)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        length = reply.content_length if reply.content_length is not None else len(reply.body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.truncate_after is None:
            self.wfile.write(reply.body)
            return
        self.wfile.write(reply.body[: reply.truncate_after])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class ObjectStorageStandin(LoopbackServer, TrustsPrincipals):
    """In-memory Object Storage for one namespace, speaking the OCI REST API on loopback.

    Use as a context manager, or :meth:`start`/:meth:`stop`; point the SDK at :attr:`endpoint`.
    """

    handler_class = _Handler

    def __init__(
        self,
        principal: Principal,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        buckets: tuple[str, ...] = (DEFAULT_BUCKET,),
    ) -> None:
        super().__init__()
        TrustsPrincipals.__init__(self, principal)
        self.namespace = namespace
        self._initial_buckets = buckets
        self._lock = threading.RLock()  # re-entrant: compare-and-swap holds it across helpers
        self._buckets: dict[str, dict[str, StoredObject]] = {b: {} for b in buckets}
        self._requests: list[SeenRequest] = []
        self._injections: list[_Injection] = []
        self.api_keys: dict[str, rsa.RSAPublicKey] = {}
        """Public keys of API-key signers by ``keyId`` (see :meth:`register_key`); kept across :meth:`reset`."""

    # ----- Python API for tests -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget objects, requests, pending injections and principals trusted by :meth:`trust`; recreate the initial
        (empty) buckets."""
        self.forget_trusted()
        with self._lock:
            self._buckets = {b: {} for b in self._initial_buckets}
            self._requests.clear()
            self._injections.clear()

    def register_key(self, key_id: str, public_key: rsa.RSAPublicKey) -> None:
        """Accept requests signed with an API key (``keyId="<tenancy>/<user>/<fingerprint>"``, config-file auth)."""
        with self._lock:
            self.api_keys[key_id] = public_key

    def create_bucket(self, bucket: str) -> None:
        """Make an (empty) bucket exist; existing buckets are left alone."""
        with self._lock:
            self._buckets.setdefault(bucket, {})

    def put(
        self,
        ns: str,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        time_created: datetime | None = None,
    ) -> str:
        """Store an object directly (creating the bucket if needed); returns its new ETag. ``time_created`` backdates
        it (listings order by it; without it, objects stored within one millisecond would tie)."""
        self._check_namespace(ns, bucket)
        self.create_bucket(bucket)
        return self._store(bucket, name, data, content_type, dict(metadata or {}), time_created=time_created)

    def get(self, ns: str, bucket: str, name: str) -> bytes:
        """An object's bytes; ``KeyError`` if it does not exist."""
        return self.stat(ns, bucket, name).data

    def stat(self, ns: str, bucket: str, name: str) -> StoredObject:
        """An object's stored record (data, etag, md5, metadata...); ``KeyError`` if it does not exist."""
        self._check_namespace(ns, bucket)
        with self._lock:
            return self._buckets[bucket][name]

    def exists(self, ns: str, bucket: str, name: str) -> bool:
        """Whether the object exists."""
        try:
            self.stat(ns, bucket, name)
        except KeyError:
            return False
        return True

    def delete(self, ns: str, bucket: str, name: str) -> None:
        """Remove an object if it exists."""
        self._check_namespace(ns, bucket)
        with self._lock:
            self._buckets.get(bucket, {}).pop(name, None)

    def names(self, ns: str, bucket: str, prefix: str = "") -> list[str]:
        """Object names under ``prefix``, in the service's (UTF-8 byte) order."""
        self._check_namespace(ns, bucket)
        with self._lock:
            names = [n for n in self._buckets.get(bucket, {}) if n.startswith(prefix)]
        return sorted(names, key=lambda n: n.encode())

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request seen so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def operations(self) -> list[str]:
        """The operation names of :attr:`requests`, for compact assertions."""
        return [r.operation for r in self.requests]

    def inject(
        self,
        fault: Fault,
        operation: str = "*",
        key_prefix: str | None = None,
        *,
        times: int | None = None,
        skip: int = 0,
        conditional: bool = False,
        body_contains: bytes | None = None,
    ) -> None:
        """Let the next signed requests of ``operation`` (``GetObject``, ``HeadObject``, ``PutObject``,
        ``DeleteObject``, ``ListObjects``, ``GetNamespace``; ``"*"`` for any) meet ``fault``: those whose object name
        (for a listing: its ``prefix``) starts with ``key_prefix``, that carry ``if-match`` / ``if-none-match`` if
        ``conditional``, whose body contains ``body_contains``; after letting ``skip`` of them pass, ``times`` uses
        (default: one use of the fault, two requests for a :class:`Collide`)."""
        uses = fault.requests if times is None else times
        with self._lock:
            self._injections.append(
                _Injection(fault, operation, key_prefix, None, None, conditional, body_contains, uses, skip)
            )

    def heal(self) -> None:
        """Drop every pending injection (objects and requests are kept)."""
        with self._lock:
            self._injections.clear()

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        *,
        code: str | None = None,
        message: str = "",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` signed requests whose method matches (``"*"`` for any) and whose path (raw or
        decoded) contains ``path_contains`` with ``status`` and an OCI error body, instead of serving them."""
        with self._lock:
            self._injections.append(
                _Injection(Fail(status, code, message), "*", None, method.upper(), path_contains, times=times)
            )

    def truncate_next_get(self, after_bytes: int, *, name_contains: str = "") -> None:
        """Make the next GetObject (of a name containing ``name_contains``) send the full Content-Length header but
        close the connection after ``after_bytes`` body bytes: a download dropped mid-way."""
        with self._lock:
            self._injections.append(_Injection(Truncate(after_bytes), "GetObject", None, path_contains=name_contains))

    # ----- used by the handler --------------------------------------------------------------------------------

    def record(self, seen: SeenRequest) -> None:
        """Remember a request (handler side)."""
        with self._lock:
            self._requests.append(seen)

    def take_injection(
        self, method: str, target: str, route: _Route, headers: Mapping[str, str], body: bytes, *, on_answer: bool
    ) -> Fault | None:
        """The fault of the first pending injection (of faults on the answer, or instead of it) that matches this
        request, consuming one use of it."""
        with self._lock:
            for injection in self._injections:
                if injection.fault.on_answer != on_answer or not injection.matches(
                    method, target, route, headers, body
                ):
                    continue
                if injection.skip > 0:
                    injection.skip -= 1
                    return None
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection.fault
        return None

    def dispatch(self, route: _Route, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Serve one authenticated request."""
        if route.operation == "GetNamespace":
            return _Reply(200, {"Content-Type": "application/json"}, json.dumps(self.namespace).encode())
        if route.operation == "?":
            raise ServiceError(404, "NotAuthorizedOrNotFound", "No such operation on this stand-in")
        assert route.namespace is not None
        assert route.bucket is not None
        self._require_bucket(route.namespace, route.bucket)
        if route.operation == "ListObjects":
            return self._list(route)
        assert route.name is not None
        if route.operation == "PutObject":
            return self._put_object(route.bucket, route.name, headers, body)
        if route.operation == "DeleteObject":
            return self._delete_object(route.bucket, route.name, headers)
        return self._get_object(route.bucket, route.name, headers, with_body=route.operation == "GetObject")

    # ----- operations -----------------------------------------------------------------------------------------

    def _get_object(self, bucket: str, name: str, headers: Mapping[str, str], *, with_body: bool) -> _Reply:
        """GetObject/HeadObject: preconditions, then the whole object or the requested range."""
        obj = self._existing(bucket, name)
        self._check_if_match(obj, headers)
        if headers.get("if-none-match") in (obj.etag, "*"):
            return _Reply(304, {"ETag": obj.etag})
        reply_headers = self._object_headers(obj)
        data, status = obj.data, 200
        spec = headers.get("range")
        span = _parse_range(spec, len(obj.data)) if spec else None
        if span is not None:
            first, last = span
            data, status = obj.data[first : last + 1], 206
            reply_headers["Content-Range"] = f"bytes {first}-{last}/{len(obj.data)}"
        return _Reply(status, reply_headers, data, content_length=len(data))

    def _put_object(self, bucket: str, name: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """PutObject with ``if-match`` / ``if-none-match: *`` as an atomic compare-and-swap."""
        none_match = headers.get("if-none-match")
        if none_match is not None and none_match != "*":
            raise ServiceError(400, "InvalidParameter", "The only supported value for If-None-Match is '*'")
        metadata = {k[len("opc-meta-") :]: v for k, v in headers.items() if k.startswith("opc-meta-")}
        with self._lock:  # check and store under one lock: racing conditional writers must see one winner
            current = self._buckets[bucket].get(name)
            if "if-match" in headers and (current is None or headers["if-match"] != current.etag):
                raise ServiceError(
                    412,
                    "IfMatchFailed",
                    f"The If-Match header is '{headers['if-match']}' but the current entity tag is "
                    f"'{current.etag if current else 'None'}'",
                )
            if none_match == "*" and current is not None:
                raise ServiceError(
                    412, "IfNoneMatchFailed", "The If-None-Match header is '*' but there is an existing entity"
                )
            self._store(bucket, name, body, headers.get("content-type", "application/octet-stream"), metadata)
            stored = self._buckets[bucket][name]
        return _Reply(
            200,
            {
                "ETag": stored.etag,
                "opc-content-md5": stored.md5,
                "last-modified": _http_date(stored.time_created),
                "version-id": str(uuid.uuid4()),
            },
        )

    def _delete_object(self, bucket: str, name: str, headers: Mapping[str, str]) -> _Reply:
        """DeleteObject: 204, or 404 if absent, or 412 if ``if-match`` names another version (atomically)."""
        with self._lock:
            obj = self._existing(bucket, name)
            self._check_if_match(obj, headers)
            del self._buckets[bucket][name]
        return _Reply(204, {"last-modified": _http_date(datetime.now(UTC))})

    def _list(self, route: _Route) -> _Reply:
        """ListObjects: prefix/start/end/startAfter/delimiter/limit/fields, paged with ``nextStartWith``."""
        assert route.bucket is not None
        limit = self._limit(route.param("limit"))
        fields = {f.strip() for f in (route.param("fields") or "name").split(",") if f.strip()}
        unknown = fields - set(_LIST_FIELDS)
        if unknown:
            raise ServiceError(400, "InvalidParameter", f"Unknown fields {sorted(unknown)}; allowed: {_LIST_FIELDS}")
        with self._lock:
            objects = dict(self._buckets[route.bucket])
        names = self._window(sorted(objects, key=lambda n: n.encode()), route)
        page, prefixes, next_start = self._page(names, route.param("prefix") or "", route.param("delimiter"), limit)
        document: dict[str, object] = {"objects": [self._summary(n, objects[n], fields) for n in page]}
        if route.param("delimiter"):
            document["prefixes"] = prefixes
        if next_start is not None:
            document["nextStartWith"] = next_start
        return _Reply(200, {"Content-Type": "application/json"}, json.dumps(document).encode())

    # ----- helpers --------------------------------------------------------------------------------------------

    @staticmethod
    def _limit(raw: str | None) -> int:
        if raw is None:
            return 1000
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ServiceError(400, "InvalidParameter", f"limit must be an integer in 1..1000, not {raw!r}")
        return int(raw)

    @staticmethod
    def _window(names: list[str], route: _Route) -> list[str]:
        """Apply prefix, start (inclusive), startAfter and end (both exclusive)."""
        prefix = route.param("prefix") or ""
        start, after, end = route.param("start"), route.param("startAfter"), route.param("end")
        return [
            n
            for n in names
            if n.startswith(prefix)
            and (start is None or n.encode() >= start.encode())
            and (after is None or n.encode() > after.encode())
            and (end is None or n.encode() < end.encode())
        ]

    @staticmethod
    def _page(
        names: list[str], prefix: str, delimiter: str | None, limit: int
    ) -> tuple[list[str], list[str], str | None]:
        """Take up to ``limit`` entries (objects plus rolled-up prefixes); say where the next page starts."""
        page: list[str] = []
        prefixes: list[str] = []
        for name in names:
            rest = name[len(prefix) :]
            rolled = prefix + rest.split(delimiter, 1)[0] + delimiter if delimiter and delimiter in rest else None
            if rolled is not None and rolled in prefixes:
                continue
            if len(page) + len(prefixes) == limit:
                return page, prefixes, name
            if rolled is not None:
                prefixes.append(rolled)
            else:
                page.append(name)
        return page, prefixes, None

    @staticmethod
    def _summary(name: str, obj: StoredObject, fields: set[str]) -> dict[str, object]:
        """One ObjectSummary with the requested fields (``name`` always)."""
        values: dict[str, object] = {
            "name": name,
            "size": len(obj.data),
            "etag": obj.etag,
            "md5": obj.md5,
            "timeCreated": _iso(obj.time_created),
            "timeModified": _iso(obj.time_created),
            "storageTier": "Standard",
            "archivalState": None,
        }
        return {k: v for k, v in values.items() if k == "name" or k in fields}

    @staticmethod
    def _object_headers(obj: StoredObject) -> dict[str, str]:
        headers = {
            "ETag": obj.etag,
            "Content-Type": obj.content_type,
            "last-modified": _http_date(obj.time_created),
            "opc-content-md5": obj.md5,
            "Accept-Ranges": "bytes",
            "storage-tier": "Standard",
        }
        headers.update({f"opc-meta-{k}": v for k, v in obj.metadata.items()})
        return headers

    @staticmethod
    def _check_if_match(obj: StoredObject, headers: Mapping[str, str]) -> None:
        expected = headers.get("if-match")
        if expected is not None and expected not in ("*", obj.etag):
            raise ServiceError(
                412, "IfMatchFailed", f"The If-Match header is '{expected}' but the current entity tag is '{obj.etag}'"
            )

    def _store(
        self,
        bucket: str,
        name: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str],
        *,
        time_created: datetime | None = None,
    ) -> str:
        etag = str(uuid.uuid4())
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        obj = StoredObject(data, etag, content_type, md5, time_created or datetime.now(UTC), metadata)
        with self._lock:
            self._buckets[bucket][name] = obj
        return etag

    def _existing(self, bucket: str, name: str) -> StoredObject:
        with self._lock:
            obj = self._buckets[bucket].get(name)
        if obj is None:
            raise ServiceError(404, "ObjectNotFound", f"The object '{name}' was not found in the bucket '{bucket}'")
        return obj

    def _require_bucket(self, ns: str, bucket: str) -> None:
        with self._lock:
            known = ns == self.namespace and bucket in self._buckets
        if not known:
            raise ServiceError(
                404,
                "BucketNotFound",
                f"Either the bucket named '{bucket}' does not exist in the namespace '{ns}' or you are not "
                "authorized to access it",
            )

    def _check_namespace(self, ns: str, bucket: str) -> None:
        if ns != self.namespace:
            raise KeyError(f"namespace {ns!r} is not this stand-in's ({self.namespace!r}); bucket {bucket!r}")
