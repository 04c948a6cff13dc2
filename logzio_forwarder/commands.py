"""The function's input, turned into a typed command before anything is read or shipped.

Three shapes are accepted (see README "Requests"):

* an OCI Events ``com.oraclecloud.objectstorage.createobject`` event (CloudEvents 0.1 envelope);
* ``{"objects": ["audit/…log.gz", …]}``: forward these objects of ``input-bucket`` (resuming where they stopped);
* ``{"replay": {"prefix": "audit/"}}``: forward every object under the prefix that is not done yet.

A valid event that is not for us is an :class:`Ignore` with the reason; anything else is a :class:`RequestError`
that says what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .config import Settings
from .errors import RequestError

CREATE_OBJECT = "com.oraclecloud.objectstorage.createobject"
EXPECTED = (
    f'expected an OCI Events "{CREATE_OBJECT}" event, {{"objects": ["<object name>", ...]}} '
    'or {"replay": {"prefix": "<prefix>"}}'
)


@dataclass(frozen=True)
class ForwardObjects:
    """Forward these objects of the input bucket (an event names one; a replay request may name many)."""

    names: tuple[str, ...]
    namespace: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class Replay:
    """List the objects under ``prefix`` and forward, oldest first, every one not yet done."""

    prefix: str
    namespace: str | None = None


@dataclass(frozen=True)
class Ignore:
    """A well-formed request that is not for this function; answered 200 with the reason."""

    reason: str


Command = ForwardObjects | Replay | Ignore


def parse_command(body: bytes, settings: Settings) -> Command:
    """Decide what an invocation body asks for."""
    if not body.strip():
        raise RequestError(f"the request body is empty; {EXPECTED}")
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the request body is not JSON ({exc}); {EXPECTED}") from None
    if not isinstance(request, dict):
        raise RequestError(f"the request body is JSON {type(request).__name__}, not an object; {EXPECTED}")
    if "eventType" in request:
        return _event(request, settings)
    if "objects" in request:
        return _objects(request, settings)
    if "replay" in request:
        return _replay(request, settings)
    raise RequestError(f"the request has none of eventType, objects, replay; {EXPECTED}")


def _event(event: dict[str, Any], settings: Settings) -> Command:
    event_type = event.get("eventType")
    if event_type != CREATE_OBJECT:
        return Ignore(f"event type {event_type!r} is not {CREATE_OBJECT}")
    data = event.get("data")
    if not isinstance(data, dict):
        raise RequestError(f"the {CREATE_OBJECT} event has no 'data' object")
    details = data.get("additionalDetails")
    details = details if isinstance(details, dict) else {}
    name = _text(data, "resourceName", "data.resourceName")
    bucket = _text(details, "bucketName", "data.additionalDetails.bucketName")
    if bucket != settings.input_bucket:
        return Ignore(f"the object is in bucket {bucket!r}, not input-bucket {settings.input_bucket!r}")
    ignored = _outside(name, settings)
    if ignored is not None:
        return ignored
    namespace = details.get("namespace")
    event_id = event.get("eventID")
    return ForwardObjects(
        (name,),
        namespace if isinstance(namespace, str) and namespace else None,
        event_id if isinstance(event_id, str) else None,
    )


def _outside(name: str, settings: Settings) -> Ignore | None:
    if settings.is_state_object(name):
        return Ignore(f"{name!r} is one of the forwarder's own progress objects (state-prefix)")
    if not name.startswith(settings.input_prefix):
        return Ignore(f"{name!r} is outside input-prefix {settings.input_prefix!r}")
    return None


def _objects(request: dict[str, Any], settings: Settings) -> Command:
    names = request["objects"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise RequestError('"objects" must be a non-empty list of object names (strings)')
    for name in names:
        if settings.is_state_object(name):
            raise RequestError(f"{name!r} is a progress object under state-prefix, not an audit object")
    return ForwardObjects(tuple(dict.fromkeys(names)), _namespace(request))


def _replay(request: dict[str, Any], settings: Settings) -> Command:
    replay = request["replay"]
    if not isinstance(replay, dict):
        raise RequestError('"replay" must be an object such as {"prefix": "audit/"}')
    prefix = replay.get("prefix", settings.input_prefix)
    if not isinstance(prefix, str):
        raise RequestError('"replay.prefix" must be a string')
    if prefix.startswith(settings.state_prefix):
        raise RequestError(f"replay prefix {prefix!r} lies under state-prefix {settings.state_prefix!r}")
    return Replay(prefix, _namespace(request) or _namespace(replay))


def _namespace(request: dict[str, Any]) -> str | None:
    namespace = request.get("namespace")
    if namespace is None:
        return None
    if not isinstance(namespace, str) or not namespace:
        raise RequestError('"namespace" must be a non-empty string')
    return namespace


def _text(container: dict[str, Any], key: str, path: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise RequestError(f"the {CREATE_OBJECT} event has no {path} string")
    return value
