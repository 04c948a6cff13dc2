"""Stage 6 — ship: one NDJSON body to the Logz.io bulk listener, gzip'd, with retries that respect the deadline.

The listener's contract (docs.logz.io "Shipping with HTTP"): 200 all accepted; 400 with line counts (the good
lines were accepted, so resending would double them); 401 bad token; 413 body too large. Transport failures,
429 and 5xx are transient: retried with exponential backoff and full jitter, honouring ``Retry-After``, and never
past the invocation deadline.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import requests
from isal import igzip

from .. import USER_AGENT
from ..deadline import Deadline
from ..errors import ShipError, TokenRejected
from ..secrecy import redact
from ..token import TokenSource
from .batch import split_body

log = logging.getLogger(__name__)

GZIP_LEVEL = 1
"""ISA-L level 1: ~6x faster than zlib level 6 here at a similar ratio on audit JSON (README "Dependencies")."""
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass
class ShipOutcome:
    """What happened to one body (and, after a 413, to the pieces it was split into)."""

    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    """Lines the listener refused with 400 (malformed, oversized or empty); they were not delivered."""
    requests: int = 0
    retries: int = 0
    bytes_sent: int = 0
    """Compressed bytes of every attempt, retries included."""
    bytes_acknowledged: int = 0
    """Compressed bytes of the requests the listener answered 2xx or 400 (it took their good lines)."""
    listener_counts: dict[str, int] = field(default_factory=dict)

    def add(self, other: ShipOutcome) -> None:
        self.lines += other.lines
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.requests += other.requests
        self.retries += other.retries
        self.bytes_sent += other.bytes_sent
        self.bytes_acknowledged += other.bytes_acknowledged
        for key, value in other.listener_counts.items():
            self.listener_counts[key] = self.listener_counts.get(key, 0) + value


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings; ``max_attempts`` bounds retries when there is no deadline (the CLI)."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 12
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    min_attempt_time: float = 1.0
    """Do not start an attempt with less than this left before the deadline."""


class Shipper:
    """Posts bodies to one listener. Thread-safe: batches may be shipped concurrently through one instance."""

    def __init__(
        self,
        url: str,
        logzio_type: str,
        tokens: TokenSource,
        deadline: Deadline,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self._url = url
        self._type = logzio_type
        self._tokens = tokens
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._session = session or requests.Session()
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._refresh_lock = threading.Lock()

    def stop(self) -> None:
        """Abandon waits between retries (another batch failed for good; no point retrying this one)."""
        self._stop.set()

    def ship(self, body: bytes, lines: int | None = None) -> ShipOutcome:
        """Deliver ``body`` (newline-terminated NDJSON lines, ``lines`` of them if the caller knows: counting a 4 MB
        body costs about as much as posting it); raises :class:`ShipError` when it cannot, carrying the attempts it
        made."""
        outcome = ShipOutcome(lines=body.count(b"\n") if lines is None else lines)
        try:
            return self._attempt(body, outcome)
        except ShipError as exc:
            exc.add_attempts(outcome.requests, outcome.retries, outcome.bytes_sent)
            raise

    def _attempt(self, body: bytes, outcome: ShipOutcome) -> ShipOutcome:
        payload = igzip.compress(body, compresslevel=GZIP_LEVEL)
        attempt = 0
        refreshed = False
        while True:
            self._check_time(attempt, outcome.lines)
            outcome.requests += 1
            outcome.bytes_sent += len(payload)
            token = self._tokens.token()
            try:
                response = self._post(payload, token.reveal())
            except _TRANSIENT as exc:
                reason, retry_after = f"{type(exc).__name__}: {redact(str(exc))}", None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    outcome.accepted = outcome.lines
                    outcome.bytes_acknowledged += len(payload)
                    return outcome
                if status == 400:
                    outcome.bytes_acknowledged += len(payload)
                    return self._partial(response, outcome)
                if status in (401, 403):
                    if not refreshed and self._refresh_token(token.reveal()):
                        refreshed = True
                        continue
                    raise TokenRejected(
                        f"the listener rejected the shipping token (HTTP {status}: {_text(response)}); "
                        "check logzio-token / logzio-token-secret-id and the listener region",
                        status=status,
                    )
                if status == 413:
                    return self._split(body, outcome)
                if status != 429 and status < 500:
                    raise ShipError(f"the listener answered HTTP {status}: {_text(response)}", status=status)
                reason, retry_after = f"HTTP {status}", _retry_after(response)
            attempt += 1
            outcome.retries += 1
            delay = self._delay(attempt, retry_after)
            self._check_time(attempt, outcome.lines, delay, reason)
            log.warning("listener attempt %d failed (%s); retrying in %.1f s", attempt, reason, delay)
            self._sleep(delay)

    def _post(self, payload: bytes, token: str) -> requests.Response:
        read_timeout = max(1.0, min(self._policy.read_timeout, self._deadline.remaining()))
        query = urlencode({"token": token, "type": self._type})  # built here: requests' params merging is slow
        return self._session.post(
            f"{self._url}?{query}",
            data=payload,
            headers={
                "Content-Type": "application/x-ndjson",
                "Content-Encoding": "gzip",
                "User-Agent": USER_AGENT,
            },
            timeout=(self._policy.connect_timeout, read_timeout),
        )

    def _refresh_token(self, rejected: str) -> bool:
        """After a 401: re-read the token once (it may have been rotated in the Vault)."""
        with self._refresh_lock:
            if self._tokens.token().reveal() != rejected:
                return True  # another thread already refreshed it
            return self._tokens.refresh()

    def _partial(self, response: requests.Response, outcome: ShipOutcome) -> ShipOutcome:
        """A 400: the listener took the good lines and names how many it refused. Not retried (it would double)."""
        try:
            counts = {k: int(v) for k, v in orjson.loads(response.content).items() if isinstance(v, int)}
        except (orjson.JSONDecodeError, AttributeError):
            counts = {}
        accepted = counts.get("successfulLines")
        if accepted is None:  # no counts we understand: nothing is known to be delivered
            refused = sum(counts.values())
            accepted = max(0, outcome.lines - refused) if refused else 0
        outcome.accepted = min(accepted, outcome.lines)
        outcome.rejected = outcome.lines - outcome.accepted
        outcome.listener_counts = counts
        log.warning("listener refused %d of %d lines (HTTP 400): %s", outcome.rejected, outcome.lines, counts)
        return outcome

    def _split(self, body: bytes, outcome: ShipOutcome) -> ShipOutcome:
        """A 413: send each half on its own (recursively), as the listener asks for smaller bodies."""
        first, second = split_body(body)
        if not second:
            raise ShipError(f"the listener refused a single {len(body)}-byte line as too large (HTTP 413)", status=413)
        log.warning("listener answered 413 for %d bytes; splitting into %d + %d", len(body), len(first), len(second))
        outcome.lines = 0
        for half in (first, second):
            outcome.add(self.ship(half))
        return outcome

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = random.uniform(0, min(self._policy.cap, self._policy.base * 2**attempt))
        return max(backoff, retry_after) if retry_after is not None else backoff

    def _check_time(self, attempt: int, lines: int, delay: float = 0.0, reason: str = "") -> None:
        remaining = self._deadline.remaining() - delay
        exhausted = attempt >= self._policy.max_attempts
        if remaining >= self._policy.min_attempt_time and not exhausted and not self._stop.is_set():
            return
        why = (
            "another batch failed for good"
            if self._stop.is_set()
            else f"after {attempt} attempts"
            if exhausted
            else "the invocation deadline is too near for another attempt"
        )
        raise ShipError(f"{lines} lines not delivered: {why}" + (f" (last error: {reason})" if reason else ""))


def _text(response: requests.Response) -> str:
    return redact(response.text.strip()[:200]) or response.reason or "no body"


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
