"""Shared fixtures: a resource principal, the loopback Object Storage, Logz.io listener and Monitoring, the
function's config, and the real fdk server running ``func.py``.

The servers are started once per session and reset before every test that uses them: starting is cheap, but
stopping waits for the serve loop's poll, and the suite should stay fast on two cores.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from standins.fdkserver import FdkServer
from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import DEFAULT_BUCKET, ObjectStorageStandin
from standins.principal import Principal, make_principal
from tests.support import hypothesis_profiles

pytest_plugins = ["tests.integration_fixtures"]  # the end-to-end tests' fixtures
hypothesis_profiles()

TEST_TOKEN = "tok-SECRET-4f1c9e"
"""The shipping token in every test: distinctive, so a leak into logs or errors is easy to grep for."""
FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = FIXTURES / "events"
INPUT_BUCKET = DEFAULT_BUCKET

FunctionEnv = Callable[..., dict[str, str]]
FdkFactory = Callable[..., FdkServer]
EventLoader = Callable[..., dict[str, Any]]


def load_event(
    fixture: str = "createobject",
    *,
    name: str | None = None,
    bucket: str | None = None,
    namespace: str | None = None,
    etag: str | None = None,
) -> dict[str, Any]:
    """An OCI Events document from ``fixtures/events/<fixture>.json``, optionally re-pointed at another object.

    The stand-in's ETags are random, so pass ``etag=`` when the code under test compares it.
    """
    event: dict[str, Any] = json.loads((EVENTS / f"{fixture}.json").read_text())
    event = copy.deepcopy(event)
    data = event["data"]
    details = data["additionalDetails"]
    if name is not None:
        data["resourceName"] = name
    if bucket is not None:
        details["bucketName"] = bucket
    if namespace is not None:
        details["namespace"] = namespace
    if etag is not None:
        details["eTag"] = etag
    data["resourceId"] = f"/n/{details['namespace']}/b/{details['bucketName']}/o/{data['resourceName']}"
    return event


@pytest.fixture(scope="session")
def logzio_token() -> str:
    """The test shipping token (:data:`TEST_TOKEN`)."""
    return TEST_TOKEN


@pytest.fixture(scope="session")
def principal(tmp_path_factory: pytest.TempPathFactory) -> Principal:
    """A self-made resource principal (key + RPST files); its env makes the SDK's RP signer work."""
    return make_principal(tmp_path_factory.mktemp("resource-principal"))


@pytest.fixture(scope="session")
def _objectstorage_server(principal: Principal) -> Iterator[ObjectStorageStandin]:
    with ObjectStorageStandin(principal) as server:
        yield server


@pytest.fixture
def objectstorage(_objectstorage_server: ObjectStorageStandin) -> ObjectStorageStandin:
    """The Object Storage stand-in, emptied (bucket ``logfile_download_bucket`` exists, no objects)."""
    _objectstorage_server.reset()
    return _objectstorage_server


@pytest.fixture(scope="session")
def _listener_server() -> Iterator[LogzioListenerStandin]:
    with LogzioListenerStandin(TEST_TOKEN) as server:
        yield server


@pytest.fixture
def listener(_listener_server: LogzioListenerStandin) -> LogzioListenerStandin:
    """The Logz.io listener stand-in, reset (no requests, no script), accepting :data:`TEST_TOKEN`."""
    _listener_server.reset()
    return _listener_server


@pytest.fixture(scope="session")
def _monitoring_server(principal: Principal) -> Iterator[MonitoringStandin]:
    with MonitoringStandin(principal) as server:
        yield server


@pytest.fixture
def monitoring(_monitoring_server: MonitoringStandin) -> MonitoringStandin:
    """The Monitoring stand-in, reset (no posts, no injected failures). Every function the tests start posts its
    metrics here: with ``metrics`` on and no ``monitoring-endpoint`` it would try the real service."""
    _monitoring_server.reset()
    return _monitoring_server


@pytest.fixture
def events() -> EventLoader:
    """:func:`load_event`, for tests that prefer a fixture to an import."""
    return load_event


@pytest.fixture
def function_env(
    objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin, monitoring: MonitoringStandin
) -> FunctionEnv:
    """Build the function's config env pointed at the stand-ins.

    ``function_env()`` gives the defaults; ``function_env({"batch-max-bytes": "2048"})`` or
    ``function_env(batch_max_bytes="2048")`` override (``_`` becomes ``-``); a value of ``None`` removes a key.
    ``namespace`` is left unset so the function discovers it (GetNamespace or the event).
    """

    def build(overrides: Mapping[str, str | None] | None = None, **keywords: str | None) -> dict[str, str]:
        env: dict[str, str | None] = {
            "input-bucket": INPUT_BUCKET,
            "logzio-url": listener.url,
            "logzio-token": TEST_TOKEN,
            "objectstorage-endpoint": objectstorage.url,
            "monitoring-endpoint": monitoring.url,
        }
        env.update(overrides or {})
        env.update({k.replace("_", "-"): v for k, v in keywords.items()})
        return {k: v for k, v in env.items() if v is not None}

    return build


@pytest.fixture
def fdk_function(function_env: FunctionEnv, principal: Principal) -> Iterator[FdkFactory]:
    """Start the real fdk server with ``func.py``: ``fdk_function()`` or ``fdk_function({"key": "value"})``.

    Keyword ``principal_env=False`` starts it without a resource principal; ``extra_env`` adds raw variables.
    Every server started is stopped at teardown.
    """
    started: list[FdkServer] = []

    def start(
        overrides: Mapping[str, str | None] | None = None,
        *,
        principal_env: bool = True,
        extra_env: Mapping[str, str] | None = None,
        **keywords: str | None,
    ) -> FdkServer:
        env = {**function_env(overrides, **keywords), **(extra_env or {})}
        server = FdkServer(env, principal_env=principal.env() if principal_env else None)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
