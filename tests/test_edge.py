"""How a failed invocation reads in the function's log, through the real fdk server: an input error (a body that is
not JSON, an unknown request shape, a bad config value) is one line without a traceback, an unexpected error keeps
its traceback, and both still fail the invocation with fdk's 502 and the message as its body."""

from __future__ import annotations

from pathlib import Path

import pytest

from standins.fdkserver import FdkServer
from standins.principal import Principal
from tests.conftest import TEST_TOKEN, FdkFactory, FunctionEnv

FAILED = "invocation failed: "
FRAME = 'File "'
"""What every traceback line names; fdk flattens a traceback into one log line, so its frames are what to look for."""


def _failure_lines(server: FdkServer) -> list[str]:
    return [line for line in server.logs().splitlines() if FAILED in line]


def _assert_one_line(server: FdkServer, says: str) -> None:
    server.stop()  # the log is complete once fdk's output readers are done
    logs = server.logs()
    [line] = _failure_lines(server)
    assert says in line
    assert FRAME not in logs
    assert "Traceback" not in logs
    assert TEST_TOKEN not in logs


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"this is not JSON {", "the request body is not JSON"),
        (b'{"hello": "world"}', "the request has none of eventType, objects, replay"),
    ],
    ids=["not-json", "unknown-shape"],
)
def test_a_rejected_request_is_one_log_line_and_still_a_502_with_the_message(
    fdk_function: FdkFactory, body: bytes, says: str
) -> None:
    server = fdk_function()
    answer = server.invoke(body)
    assert answer.status == 502
    assert says in answer.text
    assert answer.headers["content-type"].startswith("application/json")  # as fdk answers a handler's exception
    _assert_one_line(server, says)


def test_a_bad_config_value_is_one_log_line_naming_the_key(fdk_function: FdkFactory) -> None:
    server = fdk_function(batch_max_bytes="lots")
    answer = server.invoke({"objects": ["audit/a.log.gz"]})
    assert answer.status == 502
    assert answer.text == "config key 'batch-max-bytes': 'lots' is not a whole number of bytes"
    _assert_one_line(server, answer.text)


def test_an_unexpected_error_keeps_its_traceback(function_env: FunctionEnv, principal: Principal) -> None:
    entry = Path(__file__).parent / "fixtures" / "func" / "unexpected.py"
    with FdkServer(function_env(), principal_env=principal.env(), func_path=entry) as server:
        answer = server.invoke({"objects": ["audit/a.log.gz"]})
    assert answer.status == 502
    assert answer.text.startswith("unexpected AttributeError: ")
    logs = server.logs()
    [line] = _failure_lines(server)
    assert "unexpected AttributeError" in line
    assert "Traceback (most recent call last)" in logs
    assert 'edge.py", line' in logs
    assert TEST_TOKEN not in logs
