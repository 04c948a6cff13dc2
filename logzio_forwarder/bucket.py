"""The input bucket through the oci SDK: streamed reads of audit objects, listings, and small JSON state objects.

Every SDK call gets a retry strategy that fits the invocation deadline (the SDK's default allows 600 s, twice
what a function may live). A download that breaks mid-stream is resumed with a ranged GET pinned to the same
ETag, so a dropped connection costs a reconnect, not the object.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from .deadline import Deadline
from .errors import Conflict, ObjectGone, SourceError, StateError
from .pipeline.source import CHUNK, OpenedObject

log = logging.getLogger(__name__)

TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds for each SDK request."""
RESUMES = 3
"""How many times one download may be resumed after its connection broke."""


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing."""

    name: str
    size: int
    etag: str
    created: datetime | None


@functools.lru_cache(maxsize=1)
def resource_principal_signer() -> Any:
    """The function's own identity (resource principal); the SDK refreshes its session token when it expires."""
    import oci.auth.signers

    try:
        return oci.auth.signers.get_resource_principals_signer()
    except Exception as exc:  # the SDK raises bare ValueError/EnvironmentError kinds here
        raise SourceError(
            f"no resource principal available ({type(exc).__name__}: {exc}); is this running as an OCI Function "
            "with a dynamic group and policy that let it read the bucket?"
        ) from None


def resource_principal_client(endpoint: str | None) -> Any:
    """An ObjectStorageClient signed as the function itself (resource principal), as OCI Functions provides."""
    import oci.object_storage

    kwargs: dict[str, Any] = {"signer": resource_principal_signer(), **_client_options()}
    if endpoint:
        kwargs["service_endpoint"] = endpoint
    return oci.object_storage.ObjectStorageClient(config={}, **kwargs)


def config_file_client(config_file: str | None, profile: str | None, endpoint: str | None) -> Any:
    """An ObjectStorageClient with API-key auth from an OCI CLI config file (for the command line)."""
    import oci.config
    import oci.object_storage

    try:
        config = oci.config.from_file(config_file or oci.config.DEFAULT_LOCATION, profile or "DEFAULT")
    except Exception as exc:  # the SDK raises several unrelated types here
        where = f"{config_file or '~/.oci/config'}, profile {profile or 'DEFAULT'}"
        raise SourceError(f"cannot load the OCI config ({where}): {exc}") from None
    kwargs: dict[str, Any] = _client_options()
    if endpoint:
        kwargs["service_endpoint"] = endpoint
    return oci.object_storage.ObjectStorageClient(config, **kwargs)


def _client_options() -> dict[str, Any]:
    """Per-request timeouts, and no circuit breaker: the SDK's default one is shared by every client in the
    process and, after ten transient failures, refuses all calls for 30 s, which a short-lived function cannot wait
    out. Our own retry strategy (fitted to the deadline) is the only back-off."""
    import oci.circuit_breaker

    return {"timeout": TIMEOUT, "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy()}


class OciBucket:
    """One bucket of one namespace, read and written under one deadline."""

    def __init__(self, client: Any, namespace: str, bucket: str, deadline: Deadline) -> None:
        self.client = client
        self.namespace = namespace
        self.bucket = bucket
        self._deadline = deadline

    @staticmethod
    def lookup_namespace(client: Any, deadline: Deadline) -> str:
        """GetNamespace, for requests that name no namespace (replays without an event)."""

        try:
            return str(client.get_namespace(retry_strategy=_retry(deadline)).data)
        except _sdk_errors() as exc:
            raise SourceError(f"cannot look up the Object Storage namespace: {_describe(exc)}") from None

    def where(self, name: str) -> str:
        return f"oci://{self.bucket}@{self.namespace}/{name}"

    def open(self, name: str) -> OpenedObject:
        """Start streaming an object; raises :class:`SourceError` naming the object when it cannot be read."""
        response = self._get(name, None, None)
        headers = response.headers
        etag = str(headers.get("etag", ""))
        size = int(headers["content-length"]) if "content-length" in headers else None
        return OpenedObject(name, etag, size, self._chunks(name, etag, response))

    def _get(self, name: str, etag: str | None, start: int | None) -> Any:

        kwargs: dict[str, Any] = {"retry_strategy": _retry(self._deadline)}
        if etag:
            kwargs["if_match"] = etag
        if start:
            kwargs["range"] = f"bytes={start}-"
        try:
            return self.client.get_object(self.namespace, self.bucket, name, **kwargs)
        except _sdk_errors() as exc:
            kind = ObjectGone if getattr(exc, "status", None) == 404 else SourceError
            raise kind(f"cannot read {self.where(name)}: {_describe(exc)}") from None

    def _chunks(self, name: str, etag: str, response: Any) -> Iterator[bytes]:
        """The object's bytes as stored (no transfer decoding), resuming after a broken connection."""
        done = 0
        resumes = 0
        while True:
            try:
                for chunk in response.data.raw.stream(CHUNK, decode_content=False):
                    done += len(chunk)
                    yield chunk
                return
            except Exception as exc:  # urllib3 and socket errors of several kinds: a broken download
                resumes += 1
                if resumes > RESUMES or self._deadline.near(5.0):
                    raise SourceError(
                        f"the download of {self.where(name)} broke after {done} bytes "
                        f"({type(exc).__name__}) and could not be resumed"
                    ) from None
                log.warning("download of %s broke after %d bytes (%s); resuming", name, done, type(exc).__name__)
            finally:
                response.data.close()
            response = self._get(name, etag, done)

    def listing(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, paging through ListObjects."""
        start: str | None = None
        while True:
            page, start = self._list(prefix, start=start)
            yield from page
            if not start:
                return

    def list_page(
        self, prefix: str, *, limit: int = 1000, start_after: str | None = None, end: str | None = None
    ) -> tuple[list[ObjectInfo], bool]:
        """One ListObjects request: up to ``limit`` objects under ``prefix`` after ``start_after`` and before
        ``end`` (exclusive), and whether more follow."""
        page, next_start = self._list(prefix, limit=limit, start_after=start_after, end=end)
        return page, next_start is not None

    def _list(self, prefix: str, **window: Any) -> tuple[list[ObjectInfo], str | None]:
        kwargs: dict[str, Any] = {
            "prefix": prefix,
            "fields": "name,size,etag,timeCreated",
            "retry_strategy": _retry(self._deadline),
            **{k: v for k, v in window.items() if v is not None},
        }
        try:
            page = self.client.list_objects(self.namespace, self.bucket, **kwargs).data
        except _sdk_errors() as exc:
            raise SourceError(f"cannot list {self.where(prefix)}*: {_describe(exc)}") from None
        infos = [ObjectInfo(o.name, int(o.size or 0), str(o.etag or ""), o.time_created) for o in page.objects]
        return infos, page.next_start_with or None

    def get_json(self, name: str) -> tuple[dict[str, Any], str] | None:
        """A small JSON object and its ETag (the version a conditional write names), or None when it does not
        exist. An object that is not a JSON object reads as ``{}`` (its version still counts)."""
        import oci.exceptions

        try:
            response = self.client.get_object(self.namespace, self.bucket, name, retry_strategy=_retry(self._deadline))
            content = response.data.content
        except oci.exceptions.ServiceError as exc:
            if exc.status == 404:
                return None
            raise StateError(f"cannot read progress {self.where(name)}: {_describe(exc)}") from None
        except _sdk_errors() as exc:
            raise StateError(f"cannot read progress {self.where(name)}: {_describe(exc)}") from None
        version = str(response.headers.get("etag", ""))
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:
            log.warning("progress object %s is not JSON; ignoring it", self.where(name))
            return {}, version
        return (value if isinstance(value, dict) else {}), version

    def put_json(self, name: str, value: dict[str, Any], version: str | None) -> str:
        """Write a small JSON object only if it is still at ``version`` (``None``: only if it does not exist yet);
        raises :class:`Conflict` when another writer got there first. Returns the new version."""
        condition = {"if_match": version} if version is not None else {"if_none_match": "*"}
        response = self._put(name, orjson.dumps(value), "application/json", condition)
        return str(response.headers.get("etag", ""))

    def put_marker(self, name: str) -> None:
        """An empty object whose name is the information (unconditional: writing it twice is harmless)."""
        self._put(name, b"", "application/octet-stream", {})

    def delete(self, name: str) -> None:
        """Delete an object; one that is already gone is fine."""
        import oci.exceptions

        try:
            self.client.delete_object(self.namespace, self.bucket, name, retry_strategy=_retry(self._deadline))
        except oci.exceptions.ServiceError as exc:
            if exc.status != 404:
                raise StateError(f"cannot delete {self.where(name)}: {_describe(exc)}") from None
        except _sdk_errors() as exc:
            raise StateError(f"cannot delete {self.where(name)}: {_describe(exc)}") from None

    def _put(self, name: str, body: bytes, content_type: str, condition: dict[str, str]) -> Any:
        import oci.exceptions

        try:
            return self.client.put_object(
                self.namespace,
                self.bucket,
                name,
                body,
                content_type=content_type,
                retry_strategy=_retry(self._deadline),
                **condition,
            )
        except oci.exceptions.ServiceError as exc:
            if exc.status == 412:
                raise Conflict(f"{self.where(name)} was changed by another writer") from None
            raise StateError(f"cannot write {self.where(name)}: {_describe(exc)}") from None
        except _sdk_errors() as exc:
            raise StateError(f"cannot write {self.where(name)}: {_describe(exc)}") from None


def _retry(deadline: Deadline) -> Any:
    """Retries of transient SDK failures (connection errors, 429, 5xx) that end well before the deadline."""
    import oci.retry

    budget = max(1, int(min(120.0, deadline.remaining() - 5)))  # no deadline (the CLI): remaining() is inf
    return oci.retry.RetryStrategyBuilder(
        max_attempts=5,
        total_elapsed_time_seconds=budget,
        retry_max_wait_between_calls_seconds=min(10, budget),
        backoff_type=oci.retry.BACKOFF_FULL_JITTER_VALUE,
    ).get_retry_strategy()


def _sdk_errors() -> tuple[type[Exception], ...]:
    """What SDK calls raise on failure: service errors, client errors and (vendored) requests errors."""
    import oci.exceptions
    from oci._vendor.requests.exceptions import RequestException

    return (oci.exceptions.ServiceError, oci.exceptions.ClientError, RequestException)


def _describe(exc: Exception) -> str:
    """A one-line account of an SDK error: status, code and message for service errors."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    if status is not None:
        return f"HTTP {status} {code}: {message}"
    return f"{type(exc).__name__}: {message}"
