"""Command line: ``convert`` (what would be shipped), ``ship`` (backfill a local file), ``replay`` (a bucket prefix).

The same pipeline as the function; the token only ever comes from the ``LOGZIO_TOKEN`` environment variable, so
it never lands in shell history or ``ps`` output. Errors are one line on stderr, in the terms the user controls
(flags and ``$LOGZIO_TOKEN``, never the function's config keys), and a non-zero exit; the forwarder's own log
lines (each retry, each resumed download) only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from . import __version__
from .config import DEFAULT_LOGZIO_TYPE, KEYS, Settings, load_settings, max_line_bytes
from .errors import ConfigError, ForwarderError, SourceError
from .pipeline.decode import decode
from .pipeline.decompress import DecompressStats, decompress
from .pipeline.shape import Tally, shaped_lines
from .pipeline.source import Guarded, LocalFiles
from .secrecy import protect_logging, redact, register
from .terminal import Terminal

if TYPE_CHECKING:
    import requests

    from .deadline import Deadline
    from .forward import ObjectReport
    from .pipeline.ship import Shipper

TOKEN_ENV = "LOGZIO_TOKEN"  # noqa: S105 - the name of the variable, not a token
SHIP_DEADLINE_S = 30.0
"""``ship --deadline`` default: long enough for an object of a few hundred MB, short enough that a wrong --url
fails while the user still waits for it."""
DEFAULT_STATE_PREFIX = "forwarder-state/"
_WRITE_BUFFER = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    terminal = Terminal(sys.stdout, sys.stderr)
    _log_to(terminal, verbose=getattr(args, "verbose", False))
    protect_logging()
    try:
        result: int = args.run(args, terminal)
    except ForwarderError as exc:
        terminal.close()
        terminal.err(f"error: {redact(_in_cli_terms(exc, args))}")
        return 1
    except BrokenPipeError:  # `convert … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        terminal.close()
        return 130
    return result


# ----- the user's terms -------------------------------------------------------------------------------------------

_FLAGS = {
    "logzio-url": "--url",
    "logzio-region": "--region",
    "logzio-type": "--type",
    "batch-max-bytes": "--batch-max-bytes",
    "state-prefix": "--state-prefix",
    "input-prefix": "--prefix",
    "input-bucket": "--bucket",
    "objectstorage-endpoint": "--endpoint",
    "logzio-token": f"${TOKEN_ENV}",
}
"""The function's config keys the command line fills, and what the user sets instead."""
_PHRASES = {
    "logzio-token / logzio-token-secret-id": f"${TOKEN_ENV}",
    "the listener region": "the listener (--url, --region)",
    "the invocation deadline": "the --deadline",
}
_KEY = re.compile(
    r"(?:config key )?(['\"]?)(?<![\w-])(" + "|".join(sorted(map(re.escape, _FLAGS), key=len, reverse=True)) + r")"
    r"(?![\w-])\1"
)
_LINES_NOT_DELIVERED = re.compile(r"^\d+ lines not delivered: ")


def cli_terms(text: str) -> str:
    """A message of the forwarder's (written for the function's operator) in the command line's words."""
    for phrase, words in _PHRASES.items():
        text = text.replace(phrase, words)
    return _KEY.sub(lambda found: _FLAGS[found.group(2)], text)


def _in_cli_terms(exc: ForwarderError, args: argparse.Namespace) -> str:
    if isinstance(exc, ConfigError) and exc.key == "state-prefix" and getattr(args, "state_prefix", "") is None:
        # the user did not choose where progress is kept: the --prefix they typed is what reaches into it
        return (
            f"--prefix {args.prefix!r} covers the progress objects under --state-prefix (default "
            f"{DEFAULT_STATE_PREFIX!r}): replay would forward its own state; choose a --prefix outside it"
        )
    return cli_terms(str(exc))


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the command line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


def _log_to(terminal: Terminal, *, verbose: bool) -> None:
    """The forwarder's log lines (each listener attempt, each resumed download) go to stderr with ``--verbose``
    only: without it the one line that sums up the outcome says what they would have. Warnings of the libraries
    underneath are always shown."""
    handler = _TerminalHandler(terminal)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("logzio_forwarder").setLevel(logging.INFO if verbose else logging.ERROR)
    logging.getLogger("oci").setLevel(logging.WARNING)  # its INFO lines are about the SDK, not this command


class _TerminalHandler(logging.Handler):
    """Log records as ``warning: …`` lines on stderr, above the progress bar."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__()
        self._terminal = terminal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._terminal.err(f"{record.levelname.lower()}: {self.format(record)}")
        except Exception:  # logging must never break the command
            self.handleError(record)


# ----- the commands -----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m logzio_forwarder",
        description="Forward OCI Audit log objects to the Logz.io bulk listener (the same pipeline as the function).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    convert = commands.add_parser(
        "convert",
        help="write the NDJSON lines the forwarder would ship for an object",
        description="Decode an audit object (gzip or plain; '-' for stdin) and write to stdout exactly the NDJSON "
        "lines the forwarder would ship for it.",
    )
    convert.add_argument("src", metavar="SRC", help="a local file (gzip or plain), or - for stdin")
    convert.add_argument("--stats", action="store_true", help="print a one-line JSON summary to stderr")
    convert.set_defaults(run=_convert)

    ship = commands.add_parser(
        "ship",
        help="send a local audit object to Logz.io (backfills from downloaded objects)",
        description="Send a local audit object through the forwarder's shipper and print its JSON report. "
        f"The token is read from ${TOKEN_ENV}. ship keeps no progress: a failed or stopped ship sends the whole "
        "object again when rerun.",
    )
    ship.add_argument("src", metavar="SRC", help="a local file (gzip or plain), or - for stdin")
    _listener_args(ship)
    ship.add_argument(
        "--deadline",
        type=_seconds,
        default=SHIP_DEADLINE_S,
        metavar="SECONDS",
        help="give up after this long, e.g. when the listener cannot be reached (default: %(default)g)",
    )
    ship.set_defaults(run=_ship)

    replay = commands.add_parser(
        "replay",
        help="forward every unfinished object under a bucket prefix, from a workstation or Cloud Shell",
        description="List the objects under --prefix, oldest first, and forward every one whose progress is not "
        "done (resuming where each stopped), with API-key auth from an OCI CLI config file; print one JSON report "
        f"per object. The token is read from ${TOKEN_ENV}.",
    )
    replay.add_argument("--namespace", required=True, help="Object Storage namespace")
    replay.add_argument("--bucket", required=True, help="the input bucket")
    replay.add_argument("--prefix", default="audit", help="object name prefix (default: audit)")
    replay.add_argument("--state-prefix", help=f"progress prefix (default: {DEFAULT_STATE_PREFIX})")
    replay.add_argument("--config-file", help="OCI CLI config file (default: ~/.oci/config)")
    replay.add_argument("--profile", help="profile in the config file (default: DEFAULT)")
    replay.add_argument("--endpoint", help="Object Storage endpoint override (private endpoint, stand-in)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    _listener_args(replay)
    replay.add_argument(
        "--deadline",
        type=_seconds,
        metavar="SECONDS",
        help="start no new work after this long; progress is kept, so a later replay goes on (default: none)",
    )
    replay.set_defaults(run=_replay)
    return parser


def _listener_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="listener, e.g. listener-eu.logz.io:8071 or https://listener-eu.logz.io:8071")
    parser.add_argument("--region", help="listener region instead of --url: us, eu, uk, ca, au, nl, wa")
    parser.add_argument("--type", default=DEFAULT_LOGZIO_TYPE, help="Logz.io log type (default: %(default)s)")
    parser.add_argument("--batch-max-bytes", help="cap on one uncompressed request body")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print each retry and other progress of the forwarder"
    )


def _settings(args: argparse.Namespace, bucket: str, *, need_token: bool = True) -> Settings:
    """The flags and environment as the function's config keys, parsed by the same code."""
    token = os.environ.get(TOKEN_ENV, "")
    if need_token and not token.strip():
        raise ForwarderError(f"set the shipping token in ${TOKEN_ENV} (it is never taken as a flag)")
    register(token.strip())
    env = {
        "input-bucket": bucket,
        "logzio-url": args.url or "",
        "logzio-region": args.region or "",
        "logzio-token": token or "unused",
        "logzio-type": args.type,
        "batch-max-bytes": args.batch_max_bytes or "",
        "state-prefix": getattr(args, "state_prefix", None) or DEFAULT_STATE_PREFIX,
        "input-prefix": getattr(args, "prefix", "audit"),
        "objectstorage-endpoint": getattr(args, "endpoint", None) or "",
        "deadline-margin-seconds": "0",  # nothing kills the command at its deadline: use all of it
    }
    if not need_token and not env["logzio-url"] and not env["logzio-region"]:
        env["logzio-region"] = "us"  # a dry run sends nothing; any listener will do
    assert set(env) <= set(KEYS)
    return load_settings(env)


def _convert(args: argparse.Namespace, terminal: Terminal) -> int:
    """Stream the object through decompress → decode → shape, writing lines as the shipper would send them."""
    opened = LocalFiles().open(args.src)
    stats = DecompressStats()
    tally = Tally()
    max_line = max_line_bytes()  # as the function ships with the default batch-max-bytes
    # no prefetch thread here: a local file has no latency to hide, and inflate holds the GIL (README Performance)
    source = Guarded(decompress(opened.chunks, stats))  # a truncated gzip ends the stream; its error is kept
    sys.stdout.flush()
    with open(sys.stdout.fileno(), "wb", buffering=_WRITE_BUFFER, closefd=False) as out:  # 1 MiB per syscall
        write = out.write
        for shaped in shaped_lines(decode(source), max_line, tally):
            write(shaped.line)
            write(b"\n")
    if args.stats:
        summary = {**asdict(tally), "bytes_in": stats.compressed, "bytes_decompressed": stats.decompressed}
        terminal.err(orjson.dumps(summary).decode())
    if source.error is not None:  # everything readable before the damage was written; now say so and fail
        raise source.error
    return 0


def _ship(args: argparse.Namespace, terminal: Terminal) -> int:
    from .deadline import Deadline
    from .forward import Forwarder
    from .lease import Holder, Leases, cli_holder
    from .state import NoState

    settings = _settings(args, "local")
    listener = _Listener(settings.listener_url)
    deadline = Deadline.after(args.deadline)
    leases = Leases(NoState(), Holder(cli_holder(), Deadline.none()))  # a local file: nobody else sends it
    forwarder = Forwarder(
        terminal.counted(LocalFiles()), listener.shipper(settings, deadline), leases, settings, deadline
    )
    terminal.begin(1, _size(args.src))
    report = forwarder.forward(args.src)
    report.retry_at = None  # ship keeps no progress: nothing retries it later
    terminal.finished(report.bytes_in)
    terminal.close()
    terminal.out(orjson.dumps(report.to_json()).decode())
    return _failed(report, terminal, _Context(listener, args.deadline, resumable=False))


def _replay(args: argparse.Namespace, terminal: Terminal) -> int:
    from .app import replay_names, settled_report
    from .bucket import OciBucket, config_file_client
    from .deadline import Deadline
    from .forward import Forwarder
    from .lease import Holder, Leases, cli_holder
    from .state import BucketState

    settings = _settings(args, args.bucket, need_token=not args.dry_run)
    deadline = Deadline.after(args.deadline) if args.deadline else Deadline.none()
    try:
        client, region = config_file_client(args.config_file, args.profile, settings.objectstorage_endpoint)
    except SourceError as exc:
        raise ForwarderError(f"--config-file / --profile: {exc}") from None
    settings = dataclasses.replace(settings, region=region)  # as the bucket's region's function would ship them
    bucket = OciBucket(client, args.namespace, args.bucket, deadline)
    state = BucketState(bucket, settings.state_prefix)
    try:
        listed = replay_names(bucket, state, args.prefix)
    except SourceError as exc:
        raise ForwarderError(_unlisted(exc, bucket.client, args)) from None
    if args.dry_run:
        todo = [info for info, stored in listed if settled_report(info.name, stored, info.etag) is None]
        for info in todo:
            terminal.out(f"{info.size:>12}  {info.name}")
        terminal.err(f"{len(todo)} objects, {sum(i.size for i in todo)} bytes would be forwarded")
        return 0
    if not listed:
        terminal.err(f"nothing to forward: no unfinished object under --prefix {args.prefix!r}")
        return 0
    listener = _Listener(settings.listener_url)
    leases = Leases(state, Holder(cli_holder(), Deadline.none()))  # renewed with every write while it works
    forwarder = Forwarder(terminal.counted(bucket), listener.shipper(settings, deadline), leases, settings, deadline)
    context = _Context(listener, args.deadline, resumable=True)
    terminal.begin(len(listed), sum(info.size for info, _ in listed))
    failed = 0
    for started, (info, stored) in enumerate(listed):
        if deadline.remaining() <= 0:
            terminal.close()
            terminal.err(
                f"error: the --deadline of {args.deadline:g} s was reached with {len(listed) - started} objects not "
                "started; replay again to go on"
            )
            return 1
        listener.reset()
        report = settled_report(info.name, stored, info.etag) or forwarder.forward(info.name, stored)
        terminal.finished(info.size)
        terminal.out(orjson.dumps(report.to_json()).decode())
        failed += _failed(report, terminal, context)
    terminal.close()
    return 1 if failed else 0


def _unlisted(exc: SourceError, client: Any, args: argparse.Namespace) -> str:
    """Why the bucket could not be listed, naming the flags that lead there."""
    sdk_error = exc.__context__
    if sdk_error is not None and getattr(sdk_error, "status", None) is None:  # no answer at all
        endpoint = getattr(getattr(client, "base_client", None), "endpoint", None) or "Object Storage"
        where = "--endpoint" if args.endpoint else "the --profile's region; or give --endpoint"
        return f"cannot reach {endpoint} ({where}): {_cause(sdk_error)}"
    return f"{exc} (--namespace {args.namespace}, --bucket {args.bucket})"


def _size(src: str) -> int | None:
    try:
        return None if src == "-" else os.stat(src).st_size
    except OSError:
        return None  # the forwarder says why it cannot be read


# ----- what went wrong, in one line -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What a failure message needs to know about the run: the listener tried, the deadline, whether it resumes."""

    listener: _Listener
    deadline_s: float | None
    resumable: bool


def _failed(report: ObjectReport, terminal: Terminal, context: _Context) -> int:
    """Print the object's failure as one line on stderr; 1 if it failed, else 0."""
    why = _why(report, context)
    if why is None:
        return 0
    terminal.err(f"error: {redact(why)}")
    return 1


def _why(report: ObjectReport, context: _Context) -> str | None:
    """The object's failure in the command line's words, or None when nothing failed."""
    from .state import DAMAGED, SETTLED

    name = report.object
    if report.status in SETTLED and report.error:
        rest = "is unreadable" if report.status == DAMAGED else "no longer exists"
        return (
            f"{name}: {report.delivered_through_record} records delivered, the rest of the object {rest}: "
            f"{cli_terms(report.error)}"
        )
    if report.status == "stopped":
        then = (
            "replay again to go on from there"
            if context.resumable
            else "the rest was not sent; ship keeps no progress, so a rerun sends the whole object again "
            "(give a longer --deadline)"
        )
        return (
            f"{name}: stopped at the --deadline ({context.deadline_s:g} s) after {report.acknowledged} records; {then}"
        )
    if not report.failing:
        return None
    if report.error is None:  # a 400 leaves no error: the listener took the good lines
        why = f"the listener refused {report.rejected} lines as malformed, oversized or empty (HTTP 400)"
    elif report.not_delivered and context.listener.unanswered is not None:
        why = context.listener.unreached(context.deadline_s)
    else:
        why = _LINES_NOT_DELIVERED.sub("", cli_terms(report.error))
    if report.not_delivered:
        at_least = "at least " if report.not_delivered_is_lower_bound else ""
        return f"{name}: {at_least}{report.not_delivered} records not delivered: {why}"
    return why if name in why else f"{name}: {why}"


class _Listener:
    """The command line's connection to the listener: a session that counts attempts and turns requests'
    connection errors (urllib3's pool, an object's address, the URL and its query) into why, in a few words."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.attempts = 0
        self.unanswered: str | None = None
        """Why the latest attempt got no answer; None once one was answered."""
        self._lock = threading.Lock()

    def shipper(self, settings: Settings, deadline: Deadline) -> Shipper:
        from .pipeline.ship import Shipper
        from .token import StaticToken

        assert settings.token is not None
        session = _session(self)
        return Shipper(
            settings.listener_url, settings.logzio_type, StaticToken(settings.token), deadline, session=session
        )

    def reset(self) -> None:
        """Start counting for the next object."""
        with self._lock:
            self.attempts, self.unanswered = 0, None

    def attempted(self, why: str | None) -> None:
        with self._lock:
            self.attempts += 1
            self.unanswered = why

    def unreached(self, deadline_s: float | None) -> str:
        within = f" within the --deadline of {deadline_s:g} s" if deadline_s else ""
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"could not reach the listener {self.url} (--url) in {tries}{within}: {self.unanswered}"


def _session(listener: _Listener) -> requests.Session:
    """A requests session that reports each attempt to ``listener`` and says why one got no answer in a few words
    (built here: ``convert`` never imports requests)."""
    import requests

    class Session(requests.Session):
        def post(self, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
            try:
                response = super().post(url, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                why = _cause(exc)
                listener.attempted(why)
                raise type(exc)(why) from None
            listener.attempted(None)
            return response

    return Session()


def _cause(exc: BaseException) -> str:
    """The innermost cause of a requests error: ``Connection refused``, ``Name or service not known``, ``timed
    out``… (requests wraps urllib3's MaxRetryError, which holds the connection error, which holds the OSError)."""
    for _ in range(16):  # a chain is a few links long; never follow a strange one for ever
        reason = getattr(exc, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
