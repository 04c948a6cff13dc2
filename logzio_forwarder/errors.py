"""Every exception the forwarder raises on purpose, in one place.

Each message is written for the operator who reads the failed invocation: it names what was wrong and never
carries the shipping token (messages that wrap third-party errors are passed through :func:`redact` first).
"""

from __future__ import annotations


class ForwarderError(Exception):
    """Base of all errors the forwarder reports to its caller."""


class ConfigError(ForwarderError):
    """A configuration key is missing or has a value the forwarder cannot use."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key {key!r}: {problem}")
        self.key = key


class RequestError(ForwarderError):
    """The invocation body is not an event or request this function understands."""


class SourceError(ForwarderError):
    """The audit object could not be read from Object Storage."""


class ObjectGone(SourceError):
    """The object does not exist (any more): deleted, e.g. by the bucket's lifecycle rule."""


class DecompressError(ForwarderError):
    """The object's gzip stream is truncated or corrupt (everything before the damage was still processed)."""


class SecretUnavailable(ForwarderError):
    """The Secrets service could not be reached or failed (5xx, timeout): worth retrying the invocation later."""


class ShipError(ForwarderError):
    """A batch could not be delivered to the Logz.io listener. It carries the attempts made for the batch before it
    failed (every one reached the listener, or tried to), so a failure reports what it cost like a success does."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.requests = 0
        self.retries = 0
        self.bytes_sent = 0

    def add_attempts(self, requests: int, retries: int, bytes_sent: int) -> None:
        """Count attempts made for the failed body (each level of a 413 split adds its own)."""
        self.requests += requests
        self.retries += retries
        self.bytes_sent += bytes_sent


class TokenRejected(ShipError):
    """The listener answered 401/403: the shipping token is missing, wrong or revoked."""


class DeadlineReached(ForwarderError):
    """The invocation stopped starting new work because its deadline is near."""


class DeliveryIncomplete(ForwarderError):
    """Some records of an object were not delivered; the message says which object and how many."""


class StateError(ForwarderError):
    """The per-object progress record could not be read or written."""


class Conflict(StateError):
    """A conditional write lost to another writer (HTTP 412, or 409 ``ConcurrentObjectUpdate``): the caller no
    longer owns the record."""


class UnreadableState(StateError):
    """A state object exists but is not what this forwarder writes (not JSON, another format version). It is never
    overwritten blindly: ``version`` is its ETag, for a caller that may start it again on purpose (the cursor)."""

    def __init__(self, message: str, *, version: str) -> None:
        super().__init__(message)
        self.version = version


class LeaseLost(StateError):
    """Another invocation took over an object this one was forwarding; this one stops sending."""
