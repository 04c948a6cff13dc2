"""The invocation body → a typed command (forward, replay, ignore) or a RequestError that says what was expected."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from logzio_forwarder.commands import CREATE_OBJECT, ForwardObjects, Ignore, Replay, parse_command
from logzio_forwarder.config import Settings, load_settings
from logzio_forwarder.errors import RequestError
from tests.conftest import load_event

BUCKET = "logfile_download_bucket"
NAME = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.x/20261101T095300Z_20261101T100000Z.0.log.gz"
EVENT: dict[str, Any] = load_event(name=NAME, namespace="axyzns")
"""The recorded Object-Create event (tests/fixtures/events/createobject.json), pointed at NAME."""


def settings(**overrides: str) -> Settings:
    env = {"input-bucket": BUCKET, "logzio-url": "listener-eu.logz.io:8071", "logzio-token": "t0ken-value"}
    env.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return load_settings(env)


def event(*, name: str | None = None, bucket: str | None = None, **top: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EVENT)
    if name is not None:
        doc["data"]["resourceName"] = name
    if bucket is not None:
        doc["data"]["additionalDetails"]["bucketName"] = bucket
    doc.update(top)
    return doc


def parse(body: Any, config: Settings | None = None) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_command(raw, config or settings())


def request_error(body: Any, config: Settings | None = None) -> str:
    with pytest.raises(RequestError) as caught:
        parse(body, config)
    return str(caught.value)


# --- OCI Events --------------------------------------------------------------------------------------------------


def test_create_object_event_forwards_that_object_with_its_namespace() -> None:
    assert parse(EVENT) == ForwardObjects((NAME,), "axyzns", "8f1f6c37-3b0e-4b7a-9a55-0c1f0d6d2a01")


def test_event_without_namespace_leaves_it_to_be_discovered() -> None:
    doc = event()
    del doc["data"]["additionalDetails"]["namespace"]
    command = parse(doc)
    assert isinstance(command, ForwardObjects)
    assert command.names == (NAME,)
    assert command.namespace is None


@pytest.mark.parametrize(
    "event_type", ["com.oraclecloud.objectstorage.deleteobject", "com.oraclecloud.objectstorage.updateobject", ""]
)
def test_other_event_types_are_ignored_with_the_reason(event_type: str) -> None:
    command = parse(event(eventType=event_type))
    assert isinstance(command, Ignore)
    assert CREATE_OBJECT in command.reason
    assert repr(event_type) in command.reason


def test_object_in_another_bucket_is_ignored() -> None:
    command = parse(event(bucket="someone-elses-bucket"))
    assert isinstance(command, Ignore)
    assert "someone-elses-bucket" in command.reason
    assert BUCKET in command.reason


def test_object_outside_input_prefix_is_ignored() -> None:
    command = parse(event(name="exports/report.csv"))
    assert isinstance(command, Ignore)
    assert "input-prefix" in command.reason
    assert "exports/report.csv" in command.reason


def test_custom_input_prefix_is_honoured() -> None:
    config = settings(input_prefix="logs/")
    assert isinstance(parse(EVENT, config), Ignore)
    assert parse(event(name="logs/x.log.gz"), config) == ForwardObjects(("logs/x.log.gz",), "axyzns", EVENT["eventID"])


@pytest.mark.parametrize("input_prefix", ["", "audit"])
def test_the_forwarders_own_state_object_is_ignored(input_prefix: str) -> None:
    name = "forwarder-state/" + NAME + ".json"
    command = parse(event(name=name), settings(input_prefix=input_prefix))
    assert isinstance(command, Ignore)
    assert "state-prefix" in command.reason


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["data"].pop("resourceName"), "data.resourceName"),
        (lambda d: d["data"].__setitem__("resourceName", ""), "data.resourceName"),
        (lambda d: d["data"].__setitem__("resourceName", 42), "data.resourceName"),
        (lambda d: d["data"]["additionalDetails"].pop("bucketName"), "data.additionalDetails.bucketName"),
        (lambda d: d["data"].pop("additionalDetails"), "data.additionalDetails.bucketName"),
        (lambda d: d.pop("data"), "'data'"),
        (lambda d: d.__setitem__("data", [1]), "'data'"),
    ],
)
def test_malformed_create_event_says_what_is_missing(mutate: Any, path: str) -> None:
    doc = event()
    mutate(doc)
    text = request_error(doc)
    assert path in text
    assert CREATE_OBJECT in text


# --- not a request at all ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n", b"not json", b'{"eventType": ', b"\xff\xfe"])
def test_empty_or_non_json_body_is_refused_with_what_was_expected(body: bytes) -> None:
    text = request_error(body)
    assert "expected" in text
    assert CREATE_OBJECT in text
    assert '{"objects"' in text
    assert '{"replay"' in text


@pytest.mark.parametrize(("body", "kind"), [([EVENT], "list"), ("a string", "str"), (42, "int"), (None, "NoneType")])
def test_json_that_is_not_an_object_is_refused(body: Any, kind: str) -> None:
    text = request_error(body)
    assert f"JSON {kind}, not an object" in text
    assert "expected" in text


def test_unknown_object_is_refused_naming_the_known_keys() -> None:
    text = request_error({"hello": "world"})
    assert "eventType" in text
    assert "objects" in text
    assert "replay" in text


# --- {"objects": [...]} ------------------------------------------------------------------------------------------


def test_objects_request() -> None:
    assert parse({"objects": [NAME, "audit/b.log.gz"]}) == ForwardObjects((NAME, "audit/b.log.gz"), None)


def test_objects_request_drops_duplicates_and_keeps_order() -> None:
    command = parse({"objects": ["audit/b", "audit/a", "audit/b"], "namespace": "ns1"})
    assert command == ForwardObjects(("audit/b", "audit/a"), "ns1")


@pytest.mark.parametrize("objects", [[], "audit/a", [""], ["audit/a", 3], [None], {"audit/a": 1}])
def test_objects_must_be_a_non_empty_list_of_names(objects: Any) -> None:
    assert "non-empty list of object names" in request_error({"objects": objects})


def test_objects_may_not_name_state_objects() -> None:
    text = request_error({"objects": ["audit/a", "forwarder-state/audit/a.json"]})
    assert "forwarder-state/audit/a.json" in text
    assert "state-prefix" in text


@pytest.mark.parametrize("namespace", ["", 5, ["ns"]])
def test_namespace_must_be_a_non_empty_string(namespace: Any) -> None:
    assert '"namespace" must be a non-empty string' in request_error({"objects": ["audit/a"], "namespace": namespace})


# --- {"replay": {...}} -------------------------------------------------------------------------------------------


def test_replay_request() -> None:
    assert parse({"replay": {"prefix": "audit/2026-11"}}) == Replay("audit/2026-11")


def test_replay_without_prefix_uses_input_prefix() -> None:
    assert parse({"replay": {}}) == Replay("audit")
    assert parse({"replay": {}}, settings(input_prefix="logs/")) == Replay("logs/")


def test_replay_namespace_at_either_level() -> None:
    assert parse({"replay": {"prefix": "audit/", "namespace": "inner"}}) == Replay("audit/", "inner")
    assert parse({"replay": {"prefix": "audit/"}, "namespace": "outer"}) == Replay("audit/", "outer")


@pytest.mark.parametrize(
    ("replay", "message"),
    [
        ("audit/", '"replay" must be an object'),
        (["audit/"], '"replay" must be an object'),
        ({"prefix": 7}, '"replay.prefix" must be a string'),
        ({"prefix": None}, '"replay.prefix" must be a string'),
        ({"prefix": "forwarder-state/audit/"}, "state-prefix"),
    ],
)
def test_replay_validation(replay: Any, message: str) -> None:
    assert message in request_error({"replay": replay})
