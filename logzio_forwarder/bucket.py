"""The input bucket through the oci SDK: streamed reads of audit objects, listings, and small JSON state objects.

Every SDK call gets a retry strategy that fits the invocation deadline (the SDK's default allows 600 s, twice
what a function may live). A download that breaks mid-stream is resumed with a ranged GET pinned to the same
ETag, so a dropped connection costs a reconnect, not the object.

Object Storage answers 404 for more than absence: ``BucketNotFound`` and ``NotAuthorizedOrNotFound`` also come
from policy or propagation problems, which Oracle's API error reference says to retry with backoff. So only
``ObjectNotFound`` means "not there", and for an audit object only once a listing of its name agrees; every other
404 is retried like a 5xx and then reported as a passing failure. A conditional write that loses a race may be
answered 412 or 409 ``ConcurrentObjectUpdate``: both are :class:`~.errors.Conflict`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from .deadline import Deadline
from .errors import Conflict, ObjectGone, SourceError, StateError, UnreadableState
from .pipeline.source import CHUNK, OpenedObject

log = logging.getLogger(__name__)

TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds for each SDK request."""
RESUMES = 3
"""How many times one download may be resumed after its connection broke."""
OBJECT_NOT_FOUND = "ObjectNotFound"
"""The one 404 code that says the object itself is absent (see the module's docstring)."""


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing."""

    name: str
    size: int
    etag: str
    created: datetime | None


@functools.lru_cache(maxsize=1)
def resource_principal_signer() -> Any:
    """The function's own identity (resource principal).

    On OCI Functions (resource principal version 2.2) the session token is short-lived: the platform rotates it
    and its key in the files ``OCI_RESOURCE_PRINCIPAL_RPST`` / ``_PRIVATE_PEM`` name. The SDK's signer for that
    version re-reads them only after a request was refused (401, then one retry); the signer built here also
    re-reads them before signing once the token is within the SDK's own margin of its ``exp``, so a rotated token
    is used before the old one runs out instead of after a refusal. The SDK's 401 retry stays as the fallback.
    """
    import oci.auth.signers

    try:
        if os.environ.get("OCI_RESOURCE_PRINCIPAL_VERSION") == "2.2" and not any(
            key.endswith("_FOR_LEAF_RESOURCE") for key in os.environ
        ):
            return _fresh_token_signer()(
                session_token=os.environ.get("OCI_RESOURCE_PRINCIPAL_RPST"),
                private_key=os.environ.get("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"),
                private_key_passphrase=os.environ.get("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE"),
                region=os.environ.get("OCI_RESOURCE_PRINCIPAL_REGION"),
            )
        return oci.auth.signers.get_resource_principals_signer()
    except Exception as exc:  # the SDK raises bare ValueError/EnvironmentError kinds here
        raise SourceError(
            f"no resource principal available ({type(exc).__name__}: {exc}); is this running as an OCI Function "
            "with a dynamic group and policy that let it read the bucket?"
        ) from None


@functools.cache
def _fresh_token_signer() -> Any:
    """The SDK's resource principal signer (version 2.2, built from the same variables the SDK reads), made to
    check its token's expiry before every request it signs."""
    from oci.auth.signers import EphemeralResourcePrincipalSigner

    class FreshTokenSigner(EphemeralResourcePrincipalSigner):  # type: ignore[misc]
        def __call__(self, request: Any, enforce_content_headers: bool = True) -> Any:
            self.get_security_token()  # re-reads the files when the token is near its exp (the SDK's jitter)
            return super().__call__(request, enforce_content_headers)

    return FreshTokenSigner


def resource_principal_client(endpoint: str | None) -> Any:
    """An ObjectStorageClient signed as the function itself (resource principal), as OCI Functions provides."""
    import oci.object_storage

    kwargs: dict[str, Any] = {"signer": resource_principal_signer(), **_client_options()}
    if endpoint:
        kwargs["service_endpoint"] = endpoint
    return oci.object_storage.ObjectStorageClient(config={}, **kwargs)


def config_file_client(config_file: str | None, profile: str | None, endpoint: str | None) -> tuple[Any, str | None]:
    """An ObjectStorageClient with API-key auth from an OCI CLI config file (for the command line), and the region
    the profile names (the bucket's: the lines a replay ships carry it as the function's do)."""
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
    region = config.get("region")
    return oci.object_storage.ObjectStorageClient(config, **kwargs), str(region) if region else None


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
            if _absent(exc):
                self._confirm_absent(name, exc)
            raise SourceError(f"cannot read {self.where(name)}: {_describe(exc)}") from None

    def _confirm_absent(self, name: str, exc: Exception) -> None:
        """Raise :class:`ObjectGone` if a listing of ``name`` agrees that a GET's ``ObjectNotFound`` means it is
        gone; return (the caller reports a passing failure) when the listing shows it or cannot be made."""
        try:
            page, _ = self._list(name, limit=1)
        except SourceError as err:
            log.warning("%s answered %s and could not be listed to confirm it (%s)", name, _describe(exc), err)
            return
        if page and page[0].name == name:
            log.warning("%s answered %s but a listing shows it; it is tried again later", name, _describe(exc))
            return
        raise ObjectGone(
            f"{self.where(name)} does not exist: {_describe(exc)}, and a listing of its name finds nothing"
        ) from None

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
        exist (``ObjectNotFound``; a conditional create still fails if that was wrong). Raises
        :class:`UnreadableState` for an object that is not a JSON object, :class:`StateError` when it cannot be
        read."""
        try:
            response = self.client.get_object(self.namespace, self.bucket, name, retry_strategy=_retry(self._deadline))
            content = response.data.content
        except _sdk_errors() as exc:
            if _absent(exc):
                return None
            raise StateError(f"cannot read {self.where(name)}: {_describe(exc)}") from None
        version = str(response.headers.get("etag", ""))
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise UnreadableState(f"{self.where(name)} is not a JSON object", version=version)
        return value, version

    def put_json(self, name: str, value: dict[str, Any], version: str | None) -> str:
        """Write a small JSON object only if it is still at ``version`` (``None``: only if it does not exist yet);
        raises :class:`Conflict` when another writer got there first. Returns the new version."""
        condition = {"if_match": version} if version is not None else {"if_none_match": "*"}
        response = self._put(name, orjson.dumps(value), "application/json", condition)
        return str(response.headers.get("etag", ""))

    def put_marker(self, name: str) -> None:
        """An empty object whose name is the information (unconditional: writing it twice is harmless, so losing
        to a concurrent write of the same marker is success)."""
        try:
            self._put(name, b"", "application/octet-stream", {})
        except Conflict:
            return

    def delete(self, name: str) -> None:
        """Delete an object; one that is already gone (``ObjectNotFound``) is fine."""
        try:
            self.client.delete_object(self.namespace, self.bucket, name, retry_strategy=_retry(self._deadline))
        except _sdk_errors() as exc:
            if not _absent(exc):
                raise StateError(f"cannot delete {self.where(name)}: {_describe(exc)}") from None

    def _put(self, name: str, body: bytes, content_type: str, condition: dict[str, str]) -> Any:
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
        except _sdk_errors() as exc:
            if _lost_race(exc, conditional=bool(condition)):
                raise Conflict(f"{self.where(name)} was changed by another writer: {_describe(exc)}") from None
            raise StateError(f"cannot write {self.where(name)}: {_describe(exc)}") from None


def _retry(deadline: Deadline) -> Any:
    """Retries of transient SDK failures (connection errors, 429, 5xx, a 404 other than ``ObjectNotFound``) that
    end well before the deadline."""
    import oci.retry
    from oci.retry import retry_checkers

    budget = max(1, int(min(120.0, deadline.remaining() - 5)))  # no deadline (the CLI): remaining() is inf
    checkers = retry_checkers.RetryCheckerContainer(
        [
            retry_checkers.LimitBasedRetryChecker(max_attempts=5),
            _transient_checker(),
            retry_checkers.TotalTimeExceededRetryChecker(time_limit_seconds=budget),
        ]
    )
    return oci.retry.ExponentialBackoffWithFullJitterRetryStrategy(
        base_sleep_time_seconds=1,
        exponent_growth_factor=2,
        max_wait_between_calls_seconds=min(10, budget),
        checker_container=checkers,
    )


@functools.cache
def _transient_checker() -> Any:
    """The SDK's own check of what is worth retrying (connection errors, timeouts, 429, 5xx), which also retries a
    404 unless its code says the object is absent."""
    from oci.retry.retry_checkers import TimeoutConnectionAndServiceErrorRetryChecker

    class TransientChecker(TimeoutConnectionAndServiceErrorRetryChecker):  # type: ignore[misc]
        def should_retry(self, exception: Any = None, response: Any = None, **kwargs: Any) -> bool:
            if getattr(exception, "status", None) == 404:
                return not _absent(exception)
            return bool(super().should_retry(exception, response, **kwargs))

    return TransientChecker()


def _lost_race(exc: Exception, *, conditional: bool) -> bool:
    """A write that lost to another writer: 412 (the precondition no longer holds), or 409 (a concurrent write of
    the same name; any 409 when the write was conditional)."""
    status = getattr(exc, "status", None)
    if status == 412:
        return True
    return status == 409 and (conditional or getattr(exc, "code", None) == "ConcurrentObjectUpdate")


def _absent(exc: Exception) -> bool:
    """An SDK error that says the object itself does not exist (a 404 with any other code does not)."""
    return getattr(exc, "status", None) == 404 and getattr(exc, "code", None) == OBJECT_NOT_FOUND


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
