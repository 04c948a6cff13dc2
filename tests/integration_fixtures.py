"""Fixtures of the end-to-end tests (``test_function``, ``test_progress``), loaded by ``conftest.py``.

A module that uses them adds ``pytestmark = pytest.mark.usefixtures("seen")`` so that after every test the token
is checked to be nowhere and every request to be well formed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from standins.fdkserver import FdkServer
from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import ObjectStorageStandin
from standins.principal import Principal
from tests.conftest import TEST_TOKEN, FdkFactory
from tests.integration_support import BUCKET, SMALL_CAP, Function, Seen, check_after_test

StartFunction = Callable[..., Function]


@pytest.fixture(scope="module")
def shared_server(
    principal: Principal,
    _objectstorage_server: ObjectStorageStandin,
    _listener_server: LogzioListenerStandin,
    _monitoring_server: MonitoringStandin,
) -> Iterator[FdkServer]:
    """One warm function for the tests that need no special config (a container serves many invocations):
    ``batch-max-bytes`` = SMALL_CAP, the default 10 s deadline margin."""
    env = {
        "input-bucket": BUCKET,
        "logzio-url": _listener_server.url,
        "logzio-token": TEST_TOKEN,
        "objectstorage-endpoint": _objectstorage_server.url,
        "monitoring-endpoint": _monitoring_server.url,
        "batch-max-bytes": str(SMALL_CAP),
    }
    server = FdkServer(env, principal_env=principal.env()).start()
    yield server
    server.stop()
    assert TEST_TOKEN not in server.logs()


@pytest.fixture
def seen(
    logzio_token: str,
    listener: LogzioListenerStandin,
    objectstorage: ObjectStorageStandin,
    monitoring: MonitoringStandin,
) -> Iterator[Seen]:
    """Records what each test exposed; afterwards the token must be nowhere and every request well formed."""
    record = Seen()
    yield record
    check_after_test(record, logzio_token, listener, objectstorage, monitoring)


@pytest.fixture
def function(shared_server: FdkServer, seen: Seen) -> Function:
    """The shared function."""
    return Function(shared_server, seen)


@pytest.fixture
def start_function(fdk_function: FdkFactory, seen: Seen) -> StartFunction:
    """A function of its own with config overrides (``start_function(batch_max_bytes="1000000")``)."""

    def start(overrides: dict[str, str | None] | None = None, **keywords: str | None) -> Function:
        return Function(fdk_function(overrides, **keywords), seen)

    return start


@pytest.fixture
def hurried(start_function: StartFunction) -> Function:
    """A warm function of its own with a one-second deadline margin, for an invocation given a short deadline (a
    failure's retries end with it): warm, so that deadline is spent on the work under test, not on imports."""
    function = start_function(batch_max_bytes=str(SMALL_CAP), deadline_margin_seconds="1")
    function.warm_up()
    return function
