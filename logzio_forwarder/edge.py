"""The function's edge: an fdk request becomes a typed command; the outcome becomes a JSON response or a failure.

An invocation "fails" on OCI Functions when fdk answers 502; when the handler raises, fdk answers 502 with the
exception text and logs the text with its traceback. A :class:`ForwarderError` is a failure this code expects
(a body that is not JSON, an unknown request shape, a bad config value, records not delivered): its text already
names the object, what went wrong and how to finish, and a traceback would only bury that. So the edge answers
those itself with the very response fdk would build (:class:`fdk.errors.DispatchException`: 502, the text as
body) and logs them as one line; only an unexpected error is logged with its traceback. Either way the token is
scrubbed from the text.
"""

from __future__ import annotations

import io
import logging
import socket
import time
import uuid
from typing import Any

import orjson
from fdk import response
from fdk.errors import DispatchException

from .app import Outcome, execute
from .commands import Ignore, parse_command
from .config import Settings, load_settings
from .deadline import Deadline
from .errors import DeliveryIncomplete, ForwarderError
from .secrecy import protect_logging, redact, register

log = logging.getLogger("logzio_forwarder")


def handler(ctx: Any, data: io.BytesIO | None = None) -> response.Response:
    """fdk entry point (``func.py`` re-exports it): parse → execute → answer."""
    protect_logging()
    started = time.monotonic()
    try:
        settings = _settings(ctx.Config())
        deadline = Deadline.from_header(ctx.Deadline())
        command = parse_command(data.getvalue() if data is not None else b"", settings)
        if isinstance(command, Ignore):
            return _answer(ctx, {"status": "ignored", "reason": command.reason}, started)
        outcome = execute(command, settings, deadline, _holder(ctx))
        if outcome.failed:
            _summary(outcome, started)
            raise DeliveryIncomplete(redact(outcome.failure_message()))
    except ForwarderError as exc:  # our own messages: third-party text in them is already redacted
        return _failure(ctx, str(exc))
    except Exception as exc:  # an unexpected bug: its traceback is wanted; the answer is clean and token-free
        return _failure(ctx, redact(f"unexpected {type(exc).__name__}: {exc}"), traceback=True)
    return _answer(ctx, outcome.to_json(), started, outcome)


def _failure(ctx: Any, message: str, *, traceback: bool = False) -> response.Response:
    """Fail the invocation: the 502 fdk answers for a handler that raised (status, body and headers alike), logged
    as one line, with the traceback only when asked (called from an ``except`` block)."""
    log.error("invocation failed: %s", message, exc_info=traceback)
    failed: response.Response = DispatchException(ctx, 502, message).response()
    return failed


def _holder(ctx: Any) -> str:
    """How this invocation signs its leases: the container and the call."""
    return f"{socket.gethostname()}/{ctx.CallID() or uuid.uuid4().hex}"


def _settings(config: Any) -> Settings:
    """Parse the config and register the token as a secret before anything could log it."""
    token = config.get("logzio-token")
    if token:
        register(str(token).strip())
    return load_settings(config)


def _answer(ctx: Any, body: dict[str, Any], started: float, outcome: Outcome | None = None) -> response.Response:
    if outcome is not None:
        _summary(outcome, started)
    else:
        log.info("%s", orjson.dumps({"summary": body}).decode())
    return response.Response(
        ctx, response_data=orjson.dumps(body).decode(), headers={"Content-Type": "application/json"}
    )


def _summary(outcome: Outcome, started: float) -> None:
    """One JSON log line per invocation: counts and timings, never record contents."""
    summary = {**outcome.to_json(), "invocation_s": round(time.monotonic() - started, 3)}
    log.info("%s", orjson.dumps({"summary": summary}).decode())
