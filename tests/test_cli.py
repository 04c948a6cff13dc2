"""The command line as a user runs it: ``python -m logzio_forwarder convert | ship | replay`` in a subprocess (on a
pseudo-terminal where a terminal matters), and ``python -m standins`` (``make try``) as a user tries it."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pty
import queue
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from logzio_forwarder.config import KEYS
from logzio_forwarder.pipeline.source import CHUNK
from standins.__main__ import READY
from standins.childenv import fresh_env
from standins.commandline import api_key_config, replay_flags
from standins.listener import Answer, LogzioListenerStandin
from standins.objectstorage import ObjectStorageStandin
from tests.conftest import TEST_TOKEN
from tests.integration_support import BUCKET, assert_each_once, make_records, ndjson, put, run_cli
from tests.support import closed_port, interruptible

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


def _convert(*args: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "logzio_forwarder", "convert", *args]
    return subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fresh_env(PYTHONPATH=str(REPO))
    )


def test_convert_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``convert … | head``: once the reader has what it wanted, convert stops, exit 0, without a traceback."""
    src = tmp_path / "big.log"
    src.write_bytes(ndjson(make_records("piped", 3000)))  # more than the pipe and convert's 1 MiB buffer hold
    with _convert(str(src)) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # the reader leaves: convert's next write finds no one
        said = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert json.loads(first)["id"] == "piped-00000"
    assert (code, said) == (0, b"")


def test_ctrl_c_stops_convert_with_exit_130_and_no_traceback() -> None:
    data = ndjson(make_records("interrupted", 1500))  # over 1 MiB: convert writes before its input ends

    def feed(stdin: IO[bytes]) -> None:
        with contextlib.suppress(BrokenPipeError):
            stdin.write(data)
            stdin.flush()  # and no end of input: convert then waits for more

    with interruptible():
        started = _convert("-", stdin=subprocess.PIPE)
    with started as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        feeder = threading.Thread(target=feed, args=(proc.stdin,), daemon=True)
        feeder.start()
        first = proc.stdout.readline()  # convert is running: it has written
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        said = proc.stderr.read()
        code = proc.wait(timeout=60)
        feeder.join(timeout=60)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()  # what convert did not take is dropped
    assert json.loads(first)["id"] == "interrupted-00000"
    assert all(json.loads(line)["id"].startswith("interrupted-") for line in rest.splitlines()[:-1])
    assert (code, said) == (130, b"")


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
    [line] = result.stderr.decode().splitlines()
    assert "rejected the shipping token" in line
    assert line.endswith("check $LOGZIO_TOKEN and the listener (--url, --region)"), "what the user controls"
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
    [line] = result.stderr.decode().splitlines()  # the shipper's own warning only with --verbose
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


# ----- one line that names what the user controls -----------------------------------------------------------------


def test_ship_to_a_closed_port_ends_at_its_deadline_with_one_line_saying_what_was_tried_and_why(
    tmp_path: Path,
) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    with closed_port() as port:
        result = run("ship", str(src), "--url", f"https://127.0.0.1:{port}", "--deadline", "2", token=TEST_TOKEN)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert re.fullmatch(
        rf"error: {re.escape(str(src))}: 6 records not delivered: could not reach the listener "
        rf"https://127\.0\.0\.1:{port}/ \(--url\) in \d+ attempts? within the --deadline of 2 s: Connection refused",
        line,
    ), line
    report = json.loads(result.stdout)
    assert (report["status"], report["not_delivered"]) == ("failed", 6)
    assert "retry_at" not in report, "ship keeps no progress: nothing retries it"


def test_ship_shows_each_attempt_only_when_verbose(tmp_path: Path) -> None:
    src = tmp_path / "o.log"
    src.write_bytes(connector_text(RECORDS))
    with closed_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = run("ship", str(src), "--url", url, "--deadline", "5", "--verbose", token=TEST_TOKEN)
    assert result.returncode == 1
    *attempts, last = result.stderr.decode().splitlines()
    assert attempts, "the first attempt fails at once and leaves seconds for another"
    for number, line in enumerate(attempts, start=1):
        pattern = rf"warning: listener attempt {number} failed \(ConnectionError: Connection refused\); retrying in .+"
        assert re.fullmatch(pattern, line), line
    assert last.startswith(f"error: {src}: 6 records not delivered: could not reach the listener {url}/")
    assert TEST_TOKEN not in result.stderr.decode()


def test_ship_has_a_deadline_of_its_own() -> None:
    text = " ".join(run("ship", "--help").stdout.decode().split())
    assert "--deadline SECONDS" in text
    assert "(default: 30)" in text


SRC = str(REPO / "docs" / "sample.log.gz")
REPLAY = ("replay", "--namespace", "ns", "--bucket", "b", "--url", "listener.example:8071")


@pytest.mark.parametrize(
    ("argv", "flags", "exit_code"),
    [
        (("ship", SRC, "--url", "https://listener.example:8071/?token=abc"), ["--url", "$LOGZIO_TOKEN"], 1),
        (("ship", SRC, "--region", "eu", "--url", "listener.example:8071"), ["--url", "--region"], 1),
        (("ship", SRC, "--region", "mars"), ["--region"], 1),
        (("ship", SRC), ["--url", "--region"], 1),
        (("ship", SRC, "--url", "listener.example:8071", "--type", "oci audit"), ["--type"], 1),
        (("ship", SRC, "--url", "listener.example:8071", "--batch-max-bytes", "5"), ["--batch-max-bytes"], 1),
        (("ship", SRC, "--url", "listener.example:8071", "--deadline", "0"), ["--deadline"], 2),
        (("ship", SRC, "--url", "listener.example:8071", "--deadline", "soon"), ["--deadline", "'soon'"], 2),
        ((*REPLAY, "--prefix", "forwarder-state/"), ["--prefix"], 1),
        ((*REPLAY, "--state-prefix", "audit/state/"), ["--state-prefix", "--prefix"], 1),
        ((*REPLAY, "--endpoint", "ftp://objectstorage.example"), ["--endpoint"], 1),
        ((*REPLAY, "--config-file", "/nonexistent/oci_config"), ["--config-file"], 1),
        (("replay", "--bucket", "b"), ["--namespace"], 2),
    ],
    ids=[
        "token-in-url",
        "url-and-region",
        "unknown-region",
        "no-listener",
        "type-with-space",
        "tiny-batch",
        "zero-deadline",
        "deadline-not-a-number",
        "prefix-over-state",
        "state-in-prefix",
        "endpoint-not-http",
        "no-config-file",
        "no-namespace",
    ],
)
def test_a_wrong_flag_is_one_line_naming_it(argv: tuple[str, ...], flags: list[str], exit_code: int) -> None:
    result = run(*argv, token=TEST_TOKEN)
    assert result.returncode == exit_code
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("error: ")
    for flag in flags:
        assert flag in line
    named_keys = [k for k in KEYS if k != "namespace" and re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", line)]
    assert not named_keys, f"names the function's config keys {named_keys}: {line}"


def test_ship_of_a_damaged_object_says_how_many_records_were_delivered(
    tmp_path: Path, listener: LogzioListenerStandin
) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS * 200)
    src = tmp_path / "cut.log.gz"
    src.write_bytes(gzip.compress(body)[:-200])
    result = run("ship", str(src), "--url", listener.url, token=TEST_TOKEN)
    assert result.returncode == 1
    delivered = len(listener.records)
    assert 0 < delivered < len(RECORDS) * 200
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(
        f"error: {src}: {delivered} records delivered, the rest of the object is unreadable: the gzip stream is "
    )
    assert json.loads(result.stdout)["status"] == "damaged"


# ----- replay on a terminal ---------------------------------------------------------------------------------------


def _big_objects(objectstorage: ObjectStorageStandin) -> list[list[dict[str, Any]]]:
    """Two objects of ~2 MB each (stored gzip blocks: 1 MiB chunks, so the bar moves inside each)."""
    now = datetime.now(UTC)
    sources = [make_records("tty-first", 1500), make_records("tty-second", 1500)]
    for age, records in enumerate(sources):
        data = gzip.compress(ndjson(records), compresslevel=0, mtime=0)
        assert len(data) > 2 * CHUNK
        put(objectstorage, f"audit/tty-{age}.log.gz", data, created=now - timedelta(minutes=5 - age))
    return sources


def _replay_argv(tmp_path: Path, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin) -> list[str]:
    flags = replay_flags(objectstorage, api_key_config(tmp_path, objectstorage))
    return [sys.executable, "-m", "logzio_forwarder", "replay", *flags, "--url", listener.url]


def _on_a_terminal(argv: list[str], *, stdout_too: bool) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with stderr (and stdout, if ``stdout_too``) on a pseudo-terminal, as in an interactive shell;
    returns the exit code, what the terminal received and what stdout's pipe received."""
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=terminal if stdout_too else subprocess.PIPE,
        stderr=terminal,
        env=fresh_env(PYTHONPATH=str(REPO), LOGZIO_TOKEN=TEST_TOKEN),
        cwd=REPO,
    ) as proc:
        os.close(terminal)
        shown = bytearray()
        while select.select([controller], [], [], 120)[0]:
            try:
                data = os.read(controller, 1 << 16)
            except OSError:  # EIO: the last holder of the terminal (the child) has gone
                break
            if not data:
                break
            shown += data
        piped = proc.stdout.read() if proc.stdout is not None else b""
        code = proc.wait(timeout=60)
    os.close(controller)
    return code, bytes(shown), piped


_FRAME = re.compile(rb"\] +\d+%  (\d+\.\d)/(\d+\.\d) MB, (\d+)/(\d+) objects")


def _screen(shown: bytes) -> list[str]:
    """The lines a terminal would show for ``shown``: ``\\r`` returns to the line's start, ``ESC[K`` clears to its
    end, other text overwrites; what the bar drew and then wiped is gone."""
    lines: list[str] = []
    line: list[str] = []
    column = 0
    for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+", shown.decode()):
        if token == "\r":
            column = 0
        elif token == "\n":
            lines.append("".join(line))
            line, column = [], 0
        elif token == "\x1b[K":
            del line[column:]
        else:
            line[column : column + len(token)] = token
            column += len(token)
    return [*lines, "".join(line)] if line else lines


def test_replay_on_a_terminal_draws_the_bar_on_stderr_moving_within_an_object_and_json_on_stdout(
    tmp_path: Path, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    sources = _big_objects(objectstorage)
    code, shown, piped = _on_a_terminal(_replay_argv(tmp_path, objectstorage, listener), stdout_too=False)
    assert code == 0, shown
    reports = [json.loads(line) for line in piped.decode().splitlines()]
    assert [(r["object"], r["status"], r["records"]) for r in reports] == [
        ("audit/tty-0.log.gz", "forwarded", 1500),
        ("audit/tty-1.log.gz", "forwarded", 1500),
    ]
    frames = [(float(done), float(total), int(objects)) for done, total, objects, _ in _FRAME.findall(shown)]
    assert frames, shown
    first_size = objectstorage.stat(objectstorage.namespace, BUCKET, "audit/tty-0.log.gz").data
    assert any(objects == 0 and 0 < done < len(first_size) / 1e6 for done, _, objects in frames), (
        "the bar moves while the first object is read, not only when it is done"
    )
    assert frames[-1][0] == frames[-1][1], "the last frame shows every byte"
    assert frames[-1][2] == 2
    assert shown.endswith(b"\r\n"), "the bar's line is ended, so the shell prompt starts on a line of its own"
    assert_each_once(listener.records, [r for records in sources for r in records])  # the profile's region


def test_replay_on_a_terminal_never_splits_a_json_line_with_the_bar(
    tmp_path: Path, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    _big_objects(objectstorage)
    code, shown, _ = _on_a_terminal(_replay_argv(tmp_path, objectstorage, listener), stdout_too=True)
    assert code == 0, shown
    *reports, bar = [line for line in _screen(shown) if line]
    assert [json.loads(line)["status"] for line in reports] == ["forwarded", "forwarded"]
    assert _FRAME.search(bar.encode()), bar


def test_replay_without_a_terminal_draws_no_bar(
    tmp_path: Path, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    put(objectstorage, "audit/plain.log.gz", gzip.compress(ndjson(make_records("plain", 3))))
    argv = _replay_argv(tmp_path, objectstorage, listener)
    result = run(*argv[3:], token=TEST_TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert json.loads(result.stdout)["status"] == "forwarded"


# ----- make try ---------------------------------------------------------------------------------------------------


class _Lines:
    """A child's output lines, read by a thread, so the test can wait for the next one with a bound."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self) -> str:
        line = self._queue.get(timeout=120)
        assert line is not None, "the stand-ins ended early"
        return line

    def until(self, last: str) -> list[str]:
        lines = []
        while (line := self.next()) != last:
            lines.append(line)
        return lines

    def rest(self) -> list[str]:
        lines = []
        while (line := self._queue.get(timeout=120)) is not None:
            lines.append(line)
        return lines


def _as_printed(command: str) -> subprocess.CompletedProcess[str]:
    """Run a printed ``VAR=value program args`` line as a shell would, from the repository."""
    argv = shlex.split(command)
    env = fresh_env()
    while "=" in argv[0]:
        name, _, value = argv.pop(0).partition("=")
        env[name] = value
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False)


def test_make_try_prints_ship_and_replay_commands_that_work_against_its_stand_ins() -> None:
    with interruptible():
        started = subprocess.Popen(
            [sys.executable, "-m", "standins"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env=fresh_env(),
        )
    with started as proc:
        assert proc.stdout is not None
        output = _Lines(proc.stdout)
        try:
            printed = output.until(READY)
            commands = [line.strip() for line in printed if line.strip().startswith("LOGZIO_TOKEN=")]
            ship, replay = commands
            assert " ship " in ship
            assert " replay " in replay

            shipped = _as_printed(ship)
            assert shipped.returncode == 0, shipped.stderr
            assert json.loads(shipped.stdout)["records"] == 12
            replayed = _as_printed(replay)
            assert replayed.returncode == 0, replayed.stderr
            assert [json.loads(line)["records"] for line in replayed.stdout.splitlines()] == [12, 12]
            again = _as_printed(replay)
            assert (again.returncode, again.stdout) == (0, "")
            assert "nothing to forward" in again.stderr

            heard = [output.next() for _ in range(3)]
            assert heard == ["listener: HTTP 200, 12 lines accepted, type oci-audit"] * 3
        finally:
            proc.send_signal(signal.SIGINT)
        assert output.rest()[-1] == "The listener accepted 36 records in 3 requests."
        assert proc.wait(timeout=60) == 0


def test_replay_to_a_closed_endpoint_is_one_line_naming_it(tmp_path: Path, objectstorage: ObjectStorageStandin) -> None:
    flags = replay_flags(objectstorage, api_key_config(tmp_path, objectstorage))
    with closed_port() as port:
        endpoint = f"http://127.0.0.1:{port}"
        flags[flags.index("--endpoint") + 1] = endpoint
        result = run("replay", *flags, "--url", "listener.example:8071", "--deadline", "5", token=TEST_TOKEN)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line == f"error: cannot reach {endpoint} (--endpoint): Connection refused"


def test_replay_of_a_bucket_that_is_not_there_names_the_flags(
    tmp_path: Path, objectstorage: ObjectStorageStandin
) -> None:
    flags = replay_flags(objectstorage, api_key_config(tmp_path, objectstorage))
    flags[flags.index("--bucket") + 1] = "no_such_bucket"
    # A BucketNotFound is retried with backoff while the deadline allows (it can be IAM propagation): a second of
    # --deadline keeps the test off the clock (without one, the retries took ~10 s).
    result = run("replay", *flags, "--url", "listener.example:8071", "--deadline", "1", token=TEST_TOKEN)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert "BucketNotFound" in line
    assert line.endswith(f"(--namespace {objectstorage.namespace}, --bucket no_such_bucket)")


def test_replay_whose_deadline_passed_before_an_object_started_says_how_many_are_left(
    tmp_path: Path, objectstorage: ObjectStorageStandin, listener: LogzioListenerStandin
) -> None:
    """A millisecond of --deadline is gone once the bucket is listed: nothing is started, and replay says so."""
    for n in range(3):
        put(objectstorage, f"audit/late-{n}.log.gz", gzip.compress(ndjson(make_records(f"late-{n}", 2))))
    flags = replay_flags(objectstorage, api_key_config(tmp_path, objectstorage))
    result = run("replay", *flags, "--url", listener.url, "--deadline", "0.001", token=TEST_TOKEN)
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        "error: the --deadline of 0.001 s was reached with 3 objects not started; replay again to go on\n"
    )
    assert listener.requests == []
    assert "PutObject" not in objectstorage.operations(), "no lease was taken"
