"""Command line: ``convert`` (what would be shipped), ``ship`` (backfill a local file), ``replay`` (a bucket prefix).

The same pipeline as the function; the token only ever comes from the ``LOGZIO_TOKEN`` environment variable, so
it never lands in shell history or ``ps`` output. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson

from . import __version__
from .config import DEFAULT_LOGZIO_TYPE, KEYS, Settings, load_settings, max_line_bytes
from .errors import ConfigError, ForwarderError
from .pipeline.decode import decode
from .pipeline.decompress import DecompressStats, decompress
from .pipeline.shape import Tally, shaped_lines
from .pipeline.source import Guarded, LocalFiles
from .secrecy import protect_logging, redact, register

if TYPE_CHECKING:
    from .forward import ObjectReport

TOKEN_ENV = "LOGZIO_TOKEN"  # noqa: S105 - the name of the variable, not a token
_WRITE_BUFFER = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    protect_logging()
    try:
        result: int = args.run(args)
    except ForwarderError as exc:
        print(f"error: {redact(_in_cli_terms(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `convert … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return result


_FLAGS = {
    "logzio-url": "--url",
    "logzio-region": "--region",
    "logzio-type": "--type",
    "batch-max-bytes": "--batch-max-bytes",
    "state-prefix": "--state-prefix",
    "input-prefix": "--prefix",
    "logzio-token": f"${TOKEN_ENV}",
}


def _in_cli_terms(exc: ForwarderError) -> str:
    """A config error names the function's config key; on the command line, name the flag instead."""
    if isinstance(exc, ConfigError) and exc.key in _FLAGS:
        return str(exc).replace(f"config key {exc.key!r}", _FLAGS[exc.key], 1)
    return str(exc)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        description=f"Send a local audit object through the forwarder's shipper. The token is read from ${TOKEN_ENV}.",
    )
    ship.add_argument("src", metavar="SRC", help="a local file (gzip or plain), or - for stdin")
    _listener_args(ship)
    ship.set_defaults(run=_ship)

    replay = commands.add_parser(
        "replay",
        help="forward every unfinished object under a bucket prefix, from a workstation or Cloud Shell",
        description="List the objects under --prefix, oldest first, and forward every one whose progress is not "
        "done (resuming where each stopped), with API-key auth from an OCI CLI config file. "
        f"The token is read from ${TOKEN_ENV}.",
    )
    replay.add_argument("--namespace", required=True, help="Object Storage namespace")
    replay.add_argument("--bucket", required=True, help="the input bucket")
    replay.add_argument("--prefix", default="audit", help="object name prefix (default: audit)")
    replay.add_argument("--state-prefix", default="forwarder-state/", help="progress prefix (default: %(default)s)")
    replay.add_argument("--config-file", help="OCI CLI config file (default: ~/.oci/config)")
    replay.add_argument("--profile", help="profile in the config file (default: DEFAULT)")
    replay.add_argument("--endpoint", help="Object Storage endpoint override (private endpoint, stand-in)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    _listener_args(replay)
    replay.set_defaults(run=_replay)
    return parser


def _listener_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="listener, e.g. listener-eu.logz.io:8071 or https://listener-eu.logz.io:8071")
    parser.add_argument("--region", help="listener region instead of --url: us, eu, uk, ca, au, nl, wa")
    parser.add_argument("--type", default=DEFAULT_LOGZIO_TYPE, help="Logz.io log type (default: %(default)s)")
    parser.add_argument("--batch-max-bytes", help="cap on one uncompressed request body")


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
        "state-prefix": getattr(args, "state_prefix", "forwarder-state/"),
        "input-prefix": getattr(args, "prefix", "audit"),
    }
    if not need_token and not env["logzio-url"] and not env["logzio-region"]:
        env["logzio-region"] = "us"  # a dry run sends nothing; any listener will do
    assert set(env) <= set(KEYS)
    return load_settings(env)


def _convert(args: argparse.Namespace) -> int:
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
        print(orjson.dumps(summary).decode(), file=sys.stderr)
    if source.error is not None:  # everything readable before the damage was written; now say so and fail
        raise source.error
    return 0


def _ship(args: argparse.Namespace) -> int:
    from .deadline import Deadline
    from .forward import Forwarder
    from .lease import Holder, Leases, cli_holder
    from .pipeline.ship import Shipper
    from .state import NoState
    from .token import StaticToken

    settings = _settings(args, "local")
    deadline = Deadline.none()
    assert settings.token is not None
    shipper = Shipper(settings.listener_url, settings.logzio_type, StaticToken(settings.token), deadline)
    leases = Leases(NoState(), Holder(cli_holder(), deadline))  # a local file: nobody else sends it
    report = Forwarder(LocalFiles(), shipper, leases, settings, deadline).forward(args.src)
    print(orjson.dumps(report.to_json()).decode())
    return _exit(report)


def _replay(args: argparse.Namespace) -> int:
    from .app import replay_names, settled_report
    from .bucket import OciBucket, config_file_client
    from .deadline import Deadline
    from .forward import Forwarder
    from .lease import Holder, Leases, cli_holder
    from .pipeline.ship import Shipper
    from .state import BucketState
    from .token import StaticToken

    settings = _settings(args, args.bucket, need_token=not args.dry_run)
    deadline = Deadline.none()
    bucket = OciBucket(
        config_file_client(args.config_file, args.profile, args.endpoint), args.namespace, args.bucket, deadline
    )
    state = BucketState(bucket, settings.state_prefix)
    listed = replay_names(bucket, state, args.prefix)
    todo = [(info, stored) for info, stored in listed if settled_report(info.name, stored, info.etag) is None]
    if args.dry_run:
        for info, _ in todo:
            print(f"{info.size:>12}  {info.name}")
        print(f"{len(todo)} objects, {sum(i.size for i, _ in todo)} bytes would be forwarded", file=sys.stderr)
        return 0
    assert settings.token is not None
    shipper = Shipper(settings.listener_url, settings.logzio_type, StaticToken(settings.token), deadline)
    forwarder = Forwarder(bucket, shipper, Leases(state, Holder(cli_holder(), deadline)), settings, deadline)
    progress = _Progress(len(listed), sum(i.size for i, _ in listed))
    failed = 0
    for info, stored in listed:
        report = settled_report(info.name, stored, info.etag) or forwarder.forward(info.name, stored)
        progress.step(info.size, report)
        print(orjson.dumps(report.to_json()).decode())
        failed += _exit(report)
    progress.close()
    return 1 if failed else 0


def _exit(report: ObjectReport) -> int:
    if report.failing or report.status == "stopped":
        print(f"error: {report.object}: {report.not_delivered} records not delivered: {_why(report)}", file=sys.stderr)
        return 1
    return 0


def _why(report: ObjectReport) -> str:
    """The report's error; a 400 leaves none (the listener took the good lines), so say what the listener did."""
    if report.error:
        return report.error
    if report.rejected:
        return f"the listener refused {report.rejected} lines as malformed, oversized or empty (HTTP 400)"
    return report.status


class _Progress:
    """A one-line progress bar over objects and bytes on stderr (only when stderr is a terminal)."""

    def __init__(self, objects: int, size: int) -> None:
        self._objects, self._size = objects, max(size, 1)
        self._done_objects = self._done_bytes = 0
        self._tty = sys.stderr.isatty()

    def step(self, size: int, report: ObjectReport) -> None:
        self._done_objects += 1
        self._done_bytes += size
        share = self._done_bytes / self._size
        bar = "#" * int(share * 30)
        line = (
            f"[{bar:<30}] {self._done_objects}/{self._objects} objects, "
            f"{self._done_bytes / 1e6:.1f}/{self._size / 1e6:.1f} MB, last: {report.status}"
        )
        print(("\r" + line) if self._tty else line, end="" if self._tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._tty:
            print(file=sys.stderr)
