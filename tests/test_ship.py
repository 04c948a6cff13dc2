"""Stage 6 — ship: gzip'd POSTs to the listener, its answers (200/400/401/413/429/5xx), retries and the deadline."""

from __future__ import annotations

import email.utils
import gzip
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests
import responses

from logzio_forwarder import USER_AGENT, __version__, secrecy
from logzio_forwarder.config import Secret
from logzio_forwarder.deadline import Deadline
from logzio_forwarder.errors import ShipError, TokenRejected
from logzio_forwarder.pipeline.ship import RetryPolicy, ShipOutcome, Shipper
from logzio_forwarder.token import StaticToken, TokenSource
from tests.support import ClockDeadline

URL = "https://listener.test:8071/"
TOKEN = "shipTOKENabcdef0123456789"
BODY = b"".join(orjson.dumps({"n": i, "message": f"line {i}"}) + b"\n" for i in range(10))

Reply = tuple[int, Mapping[str, str], bytes]


@pytest.fixture
def listener() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token registered as a secret, as the function's edge does before anything runs."""
    monkeypatch.setattr(secrecy, "_secrets", set())
    secrecy.register(TOKEN)


class Rotating:
    """A token source whose token was rotated: refresh() says so and the next token() is the new one."""

    def __init__(self, old: str, new: str) -> None:
        self.current = old
        self.new = new
        self.refreshes = 0

    def token(self) -> Secret:
        return Secret(self.current)

    def refresh(self) -> bool:
        self.refreshes += 1
        assert self.refreshes == 1, "the token must be re-read once per rejection, not in a loop"
        self.current = self.new
        return True


def shipper(
    *,
    tokens: TokenSource | None = None,
    deadline: Deadline | None = None,
    delays: list[float] | None = None,
    policy: RetryPolicy | None = None,
) -> Shipper:
    sleeps = delays if delays is not None else []
    return Shipper(
        URL,
        "oci-audit",
        tokens or StaticToken(Secret(TOKEN)),
        deadline or Deadline.none(),
        policy=policy,
        session=requests.Session(),
        sleep=sleeps.append,
    )


def sent_body(call: Any) -> bytes:
    body = call.request.body
    assert isinstance(body, bytes)
    return gzip.decompress(body)


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def lines_of(body: bytes) -> list[bytes]:
    return body.splitlines(keepends=True)


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full jitter draws from [0, backoff]; take the top so the backoff schedule itself is visible."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


# --- success -----------------------------------------------------------------------------------------------------


def test_200_accepts_everything_sent_as_gzip_with_token_type_and_user_agent(
    listener: responses.RequestsMock,
) -> None:
    listener.add(responses.POST, URL, status=200, body="")
    outcome = shipper().ship(BODY)

    assert (outcome.lines, outcome.accepted, outcome.rejected, outcome.requests, outcome.retries) == (10, 10, 0, 1, 0)
    (call,) = listener.calls
    assert call.request.headers["Content-Encoding"] == "gzip"
    assert sent_body(call) == BODY
    assert isinstance(call.request.body, bytes)
    assert outcome.bytes_sent == len(call.request.body)
    assert query(call) == {"token": [TOKEN], "type": ["oci-audit"]}
    agent = call.request.headers["User-Agent"]
    assert agent == USER_AGENT
    assert "logzio-forwarder" in agent
    assert __version__ in agent


# --- transient failures ------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_after_that_many_seconds(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=429, headers={"Retry-After": "7"})
    listener.add(responses.POST, URL, status=429, headers={"Retry-After": "3"})
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert delays == [7.0, 3.0]  # the jittered backoff (at most 1 s, then 2 s) is shorter than either
    assert (outcome.accepted, outcome.requests, outcome.retries) == (10, 3, 2)
    assert all(sent_body(c) == BODY for c in listener.calls)


def test_retry_after_as_an_http_date(listener: responses.RequestsMock) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    listener.add(responses.POST, URL, status=503, headers={"Retry-After": when})
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    shipper(delays=delays).ship(BODY)
    assert len(delays) == 1
    assert 100 < delays[0] <= 121


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize("value", ["soon", "Tomorrow, 32 Nov 2026 25:00:00 GMT", ""])
def test_a_retry_after_that_is_not_a_time_is_ignored_for_the_backoff(
    listener: responses.RequestsMock, value: str
) -> None:
    listener.add(responses.POST, URL, status=503, headers={"Retry-After": value})
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert (outcome.accepted, delays) == (10, [1.0])


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_are_retried_with_growing_backoff(listener: responses.RequestsMock, status: int) -> None:
    for _ in range(4):
        listener.add(responses.POST, URL, status=status, body="busy")
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert outcome.accepted == 10
    assert len(listener.calls) == 5
    assert delays == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize(
    "error", [requests.ConnectionError("connection reset"), requests.ReadTimeout("read timed out")]
)
def test_transport_errors_are_retried_with_growing_backoff(listener: responses.RequestsMock, error: Exception) -> None:
    listener.add(responses.POST, URL, body=error)
    listener.add(responses.POST, URL, body=error)
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert outcome.accepted == 10
    assert (outcome.requests, outcome.retries) == (3, 2)
    assert delays == [1.0, 2.0]


@pytest.mark.usefixtures("no_jitter")
def test_backoff_is_capped(listener: responses.RequestsMock) -> None:
    for _ in range(5):
        listener.add(responses.POST, URL, status=503)
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    shipper(delays=delays, policy=RetryPolicy(base=1.0, cap=3.0)).ship(BODY)
    assert delays == [2.0, 3.0, 3.0, 3.0, 3.0]


def test_jittered_delays_stay_within_the_backoff(listener: responses.RequestsMock) -> None:
    for _ in range(6):
        listener.add(responses.POST, URL, status=503)
    listener.add(responses.POST, URL, status=200)
    delays: list[float] = []
    shipper(delays=delays).ship(BODY)
    assert len(delays) == 6
    assert all(0 <= d <= min(30.0, 0.5 * 2**n) for n, d in enumerate(delays, start=1))


def test_retries_end_after_max_attempts(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=503)
    with pytest.raises(ShipError) as caught:
        shipper(policy=RetryPolicy(max_attempts=4)).ship(BODY)
    assert len(listener.calls) == 4
    assert "10 lines not delivered" in str(caught.value)
    assert "after 4 attempts" in str(caught.value)
    assert "HTTP 503" in str(caught.value)


# --- the deadline ------------------------------------------------------------------------------------------------


def test_no_retry_is_started_that_would_end_after_the_deadline(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=503, headers={"Retry-After": "10"})
    delays: list[float] = []
    with pytest.raises(ShipError) as caught:
        shipper(deadline=Deadline.after(3.0), delays=delays).ship(BODY)
    assert len(listener.calls) == 1
    assert delays == []  # it did not wait 10 s for nothing
    text = str(caught.value)
    assert "10 lines not delivered" in text
    assert "deadline" in text
    assert "HTTP 503" in text


@pytest.mark.usefixtures("no_jitter")
def test_retries_stop_before_the_deadline(listener: responses.RequestsMock) -> None:
    deadline = ClockDeadline(20.0)
    attempts_at: list[float] = []

    def busy(_: Any) -> Reply:
        attempts_at.append(deadline.now)
        return 503, {}, b"busy"

    listener.add_callback(responses.POST, URL, callback=busy)
    shipping = Shipper(
        URL,
        "oci-audit",
        StaticToken(Secret(TOKEN)),
        deadline,
        policy=RetryPolicy(max_attempts=1000),
        session=requests.Session(),
        sleep=deadline.sleep,
    )
    with pytest.raises(ShipError) as caught:
        shipping.ship(BODY)
    text = str(caught.value)
    assert "10 lines not delivered" in text
    assert "deadline" in text
    assert "HTTP 503" in text
    # Backoffs of 1, 2, 4 and 8 s (base 0.5 s, doubling) fit; the next one, 16 s from second 15, would start the
    # sixth attempt after the deadline, so the shipper gives up at once instead of sleeping into it.
    assert attempts_at == [0.0, 1.0, 3.0, 7.0, 15.0]
    assert deadline.now == 15.0


def test_too_little_time_left_sends_nothing(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=200)
    with pytest.raises(ShipError) as caught:
        shipper(deadline=Deadline.after(0.5)).ship(BODY)
    assert len(listener.calls) == 0
    assert "10 lines not delivered" in str(caught.value)


def test_stop_abandons_retries(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=200)
    shipping = shipper()
    shipping.stop()
    with pytest.raises(ShipError) as caught:
        shipping.ship(BODY)
    assert len(listener.calls) == 0
    assert "another batch failed for good" in str(caught.value)


# --- 413: too large ----------------------------------------------------------------------------------------------


def test_413_splits_the_body_until_every_half_is_delivered(listener: responses.RequestsMock) -> None:
    body = b"".join(orjson.dumps({"n": i, "pad": "p" * i}) + b"\n" for i in range(16))
    accepted: list[bytes] = []

    def at_most_four_lines(request: Any) -> Reply:
        part = gzip.decompress(request.body)
        if part.count(b"\n") > 4:
            return 413, {}, b"Request Entity Too Large"
        accepted.append(part)
        return 200, {}, b""

    listener.add_callback(responses.POST, URL, callback=at_most_four_lines)
    outcome = shipper().ship(body)
    assert b"".join(accepted) == body  # every line exactly once, in order
    assert all(part.count(b"\n") <= 4 for part in accepted)
    assert (outcome.lines, outcome.accepted, outcome.rejected) == (16, 16, 0)
    assert outcome.requests == len(listener.calls)


def test_a_split_half_that_fails_for_good_counts_every_request_of_the_split(listener: responses.RequestsMock) -> None:
    body = b"".join(orjson.dumps({"n": i}) + b"\n" for i in range(8))

    def first_half_only(request: Any) -> Reply:
        part = gzip.decompress(request.body)
        if part.count(b"\n") > 4:
            return 413, {}, b"Request Entity Too Large"
        return (200, {}, b"") if b'"n":0' in part else (401, {}, b"Unauthorized")

    listener.add_callback(responses.POST, URL, callback=first_half_only)
    with pytest.raises(ShipError) as caught:
        shipper().ship(body)
    assert caught.value.requests == len(listener.calls) == 3, "the 413, the accepted half, the refused half"
    sent: list[Any] = [call.request.body for call in listener.calls]
    assert caught.value.bytes_sent == sum(len(body) for body in sent)


def test_413_for_a_single_line_is_a_ship_error(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=413)
    with pytest.raises(ShipError) as caught:
        shipper().ship(b'{"huge":"' + b"x" * 1000 + b'"}\n')
    assert caught.value.status == 413
    assert "single" in str(caught.value)
    assert len(listener.calls) == 1


# --- 400: some lines refused -------------------------------------------------------------------------------------


def test_400_counts_are_reported_and_not_retried(listener: responses.RequestsMock) -> None:
    counts = {"malformedLines": 2, "successfulLines": 8, "oversizedLines": 0, "emptyLogLines": 0}
    listener.add(responses.POST, URL, status=400, json=counts)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert len(listener.calls) == 1
    assert delays == []
    assert (outcome.lines, outcome.accepted, outcome.rejected) == (10, 8, 2)
    assert outcome.listener_counts == counts


def test_400_without_successful_lines_derives_it_from_the_other_counts(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=400, json={"malformedLines": 1, "oversizedLines": 2})
    outcome = shipper().ship(BODY)
    assert (outcome.accepted, outcome.rejected) == (7, 3)


@pytest.mark.parametrize("body", [b"Bad Request", b"<html>400</html>", b"", b'{"error": "bad"}', b"[3]"])
def test_400_without_counts_is_not_taken_as_delivered(listener: responses.RequestsMock, body: bytes) -> None:
    """No line is counted delivered, and none is sent again: the listener may have taken some of them."""
    listener.add(responses.POST, URL, status=400, body=body)
    delays: list[float] = []
    outcome = shipper(delays=delays).ship(BODY)
    assert (outcome.lines, outcome.accepted, outcome.rejected, outcome.listener_counts) == (10, 0, 10, {})
    assert (len(listener.calls), delays) == (1, [])


# --- 401/403: the token ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"), [(401, "Logging token is not valid"), (401, "Logging token is missing"), (403, "Forbidden")]
)
def test_rejected_token_is_reported_without_the_token(listener: responses.RequestsMock, status: int, text: str) -> None:
    listener.add(responses.POST, URL, status=status, body=text)
    with pytest.raises(TokenRejected) as caught:
        shipper().ship(BODY)
    message = str(caught.value)
    assert "rejected the shipping token" in message
    assert text in message
    assert TOKEN not in message
    assert caught.value.status == status
    assert len(listener.calls) == 1  # a static token cannot change: no point asking again


def test_rotated_token_is_read_again_once_after_a_401(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=401, body="Logging token is not valid")
    listener.add(responses.POST, URL, status=200)
    tokens = Rotating("old-token-1234", "new-token-5678")
    outcome = shipper(tokens=tokens).ship(BODY)
    assert outcome.accepted == 10
    assert tokens.refreshes == 1
    assert [query(c)["token"] for c in listener.calls] == [["old-token-1234"], ["new-token-5678"]]


def test_refreshed_token_rejected_again_is_token_rejected(listener: responses.RequestsMock) -> None:
    listener.add(responses.POST, URL, status=401, body="Logging token is not valid")
    tokens = Rotating("old-token-1234", "new-token-5678")
    with pytest.raises(TokenRejected):
        shipper(tokens=tokens).ship(BODY)
    assert tokens.refreshes == 1
    assert len(listener.calls) == 2


# --- other answers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405, 411])
def test_other_client_errors_fail_without_retrying(listener: responses.RequestsMock, status: int) -> None:
    listener.add(responses.POST, URL, status=status, body="nope")
    delays: list[float] = []
    with pytest.raises(ShipError) as caught:
        shipper(delays=delays).ship(BODY)
    assert not isinstance(caught.value, TokenRejected)
    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value)
    assert len(listener.calls) == 1
    assert delays == []


# --- the token never leaks ---------------------------------------------------------------------------------------


def _echo_url(status: int) -> Callable[[Any], Reply]:
    return lambda request: (status, {}, f"cannot handle {request.url}".encode())


def _connection_refused(request: Any) -> Reply:
    # what requests really says: the full URL, query string and token included
    raise requests.ConnectionError(
        f"HTTPSConnectionPool(host='listener.test', port=8071): Max retries exceeded with url: "
        f"{request.path_url} (Caused by NewConnectionError('Failed to establish a new connection'))"
    )


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    "callback", [_echo_url(401), _echo_url(404), _echo_url(413), _echo_url(503), _connection_refused]
)
def test_token_never_appears_in_exception_text(listener: responses.RequestsMock, callback: Any) -> None:
    listener.add_callback(responses.POST, URL, callback=callback)
    with pytest.raises(ShipError) as caught:
        shipper(policy=RetryPolicy(max_attempts=2)).ship(b'{"one":"line"}\n')
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


@pytest.mark.usefixtures("registered")
def test_connection_error_text_is_redacted_in_the_ship_error(listener: responses.RequestsMock) -> None:
    listener.add_callback(responses.POST, URL, callback=_connection_refused)
    with pytest.raises(ShipError) as caught:
        shipper(policy=RetryPolicy(max_attempts=2)).ship(BODY)
    text = str(caught.value)
    assert "ConnectionError" in text
    assert "Max retries exceeded with url: /?token=[REDACTED]&type=oci-audit" in text
    assert TOKEN not in text


def test_outcome_add_sums_everything() -> None:
    total = ShipOutcome(lines=3, accepted=3, requests=1, bytes_sent=10, listener_counts={"successfulLines": 3})
    total.add(
        ShipOutcome(
            lines=2,
            accepted=1,
            rejected=1,
            requests=2,
            retries=1,
            bytes_sent=5,
            listener_counts={"successfulLines": 1, "malformedLines": 1},
        )
    )
    assert (total.lines, total.accepted, total.rejected, total.requests, total.retries, total.bytes_sent) == (
        5,
        4,
        1,
        3,
        1,
        15,
    )
    assert total.listener_counts == {"successfulLines": 4, "malformedLines": 1}
