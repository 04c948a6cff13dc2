"""The command line as a user runs it: ``python -m logzio_forwarder convert | ship`` in a subprocess."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from standins.listener import Answer, LogzioListenerStandin
from tests.conftest import TEST_TOKEN
from tests.integration_support import run_cli

REPO = Path(__file__).resolve().parent.parent

RECORDS: list[dict[str, Any]] = [
    {"id": f"r{i}", "time": f"2026-11-01T10:00:0{i}.000Z", "data": {"msg": 'quote " and }{ inside', "n": i}}
    for i in range(6)
]


def connector_text(records: list[dict[str, Any]]) -> bytes:
    """The connector's layouts: one per line, two joined ``}{``, one spread over several lines."""
    compact = [json.dumps(r, separators=(",", ":")) for r in records]
    return (
        compact[0]
        + "\n"
        + compact[1]
        + compact[2]
        + "\r\n"
        + json.dumps(records[3], indent=2)
        + "\n"
        + "\n".join(compact[4:])
    ).encode()


run = run_cli


def shipped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the forwarder ships for each record: the record with ``@timestamp`` = ``time``."""
    return [{"@timestamp": r["time"], **r} for r in records]


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_convert_writes_one_line_per_record_with_the_event_time(tmp_path: Path, compressed: bool) -> None:
    text = connector_text(RECORDS)
    src = tmp_path / "object.log.gz"
    src.write_bytes(gzip.compress(text) if compressed else text)
    result = run("convert", str(src))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == shipped(RECORDS)
    assert all(line.startswith('{"@timestamp":') for line in lines)
    assert result.stderr == b""


def test_convert_reads_stdin_and_reports_stats(tmp_path: Path) -> None:
    result = run("convert", "-", "--stats", stdin=gzip.compress(connector_text(RECORDS) + b"\nnot json\n"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert lines[:-1] == shipped(RECORDS)
    assert lines[-1]["message"] == "not json"
    assert lines[-1]["forwarder"]["undecodable"] is True
    stats = json.loads(result.stderr)
    assert (stats["records"], stats["undecodable"], stats["shortened"]) == (7, 1, 0)


def test_convert_of_a_truncated_gzip_writes_what_it_could_then_fails_in_one_line(tmp_path: Path) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS * 200)
    src = tmp_path / "cut.log.gz"
    src.write_bytes(gzip.compress(body)[:-200])
    result = run("convert", str(src))
    assert result.returncode == 1
    written = result.stdout.decode().splitlines()
    assert written, "the records before the damage are written"
    assert all(json.loads(line)["id"].startswith("r") for line in written[:-1])
    message = result.stderr.decode().strip()
    assert message.count("\n") == 0
    assert message.startswith("error: ")
    assert "truncated" in message


def test_a_missing_file_is_one_line_and_a_non_zero_exit() -> None:
    result = run("convert", "/nonexistent/object.log.gz")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == "error: cannot read /nonexistent/object.log.gz: No such file or directory\n"


def test_ship_of_a_missing_file_reports_it_and_exits_non_zero() -> None:
    result = run("ship", "/nonexistent/object.log.gz", "--url", "https://listener.example:8071", token=TEST_TOKEN)
    assert result.returncode == 1
    report = json.loads(result.stdout)  # the per-object report, as for every shipped object
    assert report["status"] == "failed"
    assert "cannot read /nonexistent/object.log.gz" in report["error"]
    assert result.stderr.decode().count("\n") == 1
    assert "cannot read" in result.stderr.decode()


def test_ship_takes_the_token_only_from_the_environment(tmp_path: Path) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    without = run("ship", str(src), "--url", "https://listener.example:8071")
    assert without.returncode == 1
    assert "LOGZIO_TOKEN" in without.stderr.decode()
    as_flag = run("ship", str(src), "--url", "https://listener.example:8071", "--token", TEST_TOKEN)
    assert as_flag.returncode == 2  # argparse: there is no such flag
    assert TEST_TOKEN not in as_flag.stderr.decode().replace(f"--token {TEST_TOKEN}", "")


def test_ship_refuses_plain_http_to_a_remote_listener_naming_the_flag(tmp_path: Path) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    result = run("ship", str(src), "--url", "http://listener.example:8070", token=TEST_TOKEN)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("error: --url: plain http")


def test_ship_delivers_a_local_object_to_the_listener(tmp_path: Path, listener: LogzioListenerStandin) -> None:
    src = tmp_path / "o.log.gz"
    src.write_bytes(gzip.compress(connector_text(RECORDS)))
    result = run("ship", str(src), "--url", listener.url, "--type", "oci-audit", token=TEST_TOKEN)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["records"], report["not_delivered"]) == ("forwarded", 6, 0)
    assert listener.records == shipped(RECORDS)
    assert {a.type for a in listener.accepted} == {"oci-audit"}
    assert TEST_TOKEN not in (result.stdout + result.stderr).decode()


def test_ship_fails_with_one_line_when_the_listener_rejects_the_token(
    tmp_path: Path, listener: LogzioListenerStandin
) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    wrong = "wrong-token-0000"
    result = run("ship", str(src), "--url", listener.url, token=wrong)
    assert result.returncode == 1
    assert "rejected the shipping token" in result.stderr.decode()
    assert wrong not in (result.stdout + result.stderr).decode()
    assert listener.records == []


def test_ship_says_why_records_the_listener_refused_were_not_delivered(
    tmp_path: Path, listener: LogzioListenerStandin
) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    counts = {"malformedLines": 2, "successfulLines": 4, "oversizedLines": 0, "emptyLogLines": 0}
    listener.script(Answer(400, body=json.dumps(counts).encode()))
    result = run("ship", str(src), "--url", listener.url, token=TEST_TOKEN)
    assert result.returncode == 1
    *_, line = result.stderr.decode().splitlines()  # after the shipper's own warning
    assert line == (
        f"error: {src}: 2 records not delivered: "
        "the listener refused 2 lines as malformed, oversized or empty (HTTP 400)"
    )


@pytest.mark.parametrize("command", ["convert", "ship", "replay"])
def test_help_explains_each_command(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert text.startswith("usage: python -m logzio_forwarder " + command)
    if command != "convert":
        assert "LOGZIO_TOKEN" in text


def _damaged(text: str, damage: str) -> str:
    """A torn line (the record cut by an inserted line) or a stray ``{`` inside the record."""
    if damage == "torn-line":
        middle = len(text) // 2
        return text[:middle] + "\nGARBAGE\n" + text[middle:]
    return text.replace('"data":{', '"data":{{', 1)


@pytest.mark.parametrize("damage", ["torn-line", "stray-brace"])
def test_convert_damage_costs_exactly_the_damaged_record(tmp_path: Path, damage: str) -> None:
    compact = [json.dumps(r, separators=(",", ":")) for r in RECORDS]  # every record has "}{" inside a string
    broken = _damaged(compact[2], damage)
    text = compact[0] + "\n" + compact[1] + broken + compact[3] + "\n" + "\n".join(compact[4:]) + "\n"
    src = tmp_path / "object.log.gz"
    src.write_bytes(gzip.compress(text.encode()))
    result = run("convert", str(src), "--stats")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert lines[:2] + lines[3:] == shipped(RECORDS[:2] + RECORDS[3:])  # the record joined after it included
    fragment = lines[2]
    assert fragment["message"] == broken  # the damaged record, kept as its raw text
    assert fragment["forwarder"]["undecodable"] is True
    assert fragment["forwarder"]["offset"] == text.index(broken)
    assert json.loads(result.stderr)["undecodable"] == 1
