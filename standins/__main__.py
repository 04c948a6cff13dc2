"""``make try`` (``python -m standins``): the stand-ins in the foreground, and command lines that work against them.

Starts the loopback Object Storage (two audit objects under ``audit/`` in the bucket, and an API key in a throwaway
OCI CLI config file) and the Logz.io listener (a throwaway token), prints a ``ship`` and a ``replay`` command line to
run as printed from another shell in the repository, then one line for every request the listener answers, until
Ctrl-C. Nothing leaves 127.0.0.1 and the token is good for this listener only.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import signal
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .commandline import api_key_config, replay_flags
from .demo import SAMPLE, audit_records, connector_object
from .listener import ListenerRequest, LogzioListenerStandin
from .objectstorage import DEFAULT_BUCKET, ObjectStorageStandin
from .principal import make_principal

READY = "Waiting for requests; Ctrl-C stops the stand-ins."
"""The line after the commands: a script (or a test) that starts this reads up to it."""
PREFIX = "audit/"
OBJECTS = [
    f"{PREFIX}ocid1.serviceconnector.oc1.eu-amsterdam-1.try/20261101T095300Z_20261101T100000Z.0.log.gz",
    f"{PREFIX}ocid1.serviceconnector.oc1.eu-amsterdam-1.try/20261101T100000Z_20261101T100700Z.0.log.gz",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    token = f"try-{secrets.token_hex(12)}"  # throwaway: this listener's only
    with tempfile.TemporaryDirectory(prefix="logzio-try-") as tmp:
        directory = Path(tmp)
        with (
            ObjectStorageStandin(make_principal(directory / "principal")) as storage,
            LogzioListenerStandin(token) as listener,
        ):
            config = api_key_config(directory, storage)
            _fill(storage)
            for line in _instructions(storage, listener, config, token):
                print(line)
            print(READY, flush=True)
            try:
                _follow(listener)
            except KeyboardInterrupt:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
                print(
                    f"\nThe listener accepted {listener.accepted_count} records in {len(listener.requests)} requests."
                )
    return 0


def _fill(storage: ObjectStorageStandin) -> None:
    """The objects a connector would have written, a minute apart (replay goes oldest first)."""
    records = audit_records()
    start = datetime.now(UTC) - timedelta(minutes=len(OBJECTS))
    for age, name in enumerate(OBJECTS):
        data = connector_object(records)
        storage.put(storage.namespace, DEFAULT_BUCKET, name, data, time_created=start + timedelta(minutes=age))


def _instructions(
    storage: ObjectStorageStandin, listener: LogzioListenerStandin, config: Path, token: str
) -> list[str]:
    python = [_here(Path(sys.executable)), "-m", "logzio_forwarder"]
    env = f"LOGZIO_TOKEN={token}"
    ship = [*python, "ship", _here(SAMPLE), "--url", listener.url]
    replay = [*python, "replay", *replay_flags(storage, config, prefix=PREFIX), "--url", listener.url]
    return [
        f"Object Storage stand-in: {storage.url}, namespace {storage.namespace}, bucket {DEFAULT_BUCKET}, "
        f"{len(OBJECTS)} objects under {PREFIX} ({len(audit_records())} records each)",
        f"Logz.io listener stand-in: {listener.url}, token {token} (a throwaway)",
        f"OCI CLI config file with an API key the stand-in accepts: {config}",
        "",
        "From another shell in this directory, send a local object:",
        "",
        f"  {env} {shlex.join(ship)}",
        "",
        "and forward the bucket's objects (run it twice: the second run finds nothing left to do):",
        "",
        f"  {env} {shlex.join(replay)}",
        "",
    ]


def _here(path: Path) -> str:
    """``path`` as the commands should name it: relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _follow(listener: LogzioListenerStandin) -> None:
    """One line per request the listener answered, as it happens."""
    seen = 0
    while True:
        try:
            listener.wait_for(recorded=seen + 1, timeout_s=3600)
        except TimeoutError:
            continue
        for request in listener.requests[seen:]:
            print(_describe(request), flush=True)
            seen += 1


def _describe(request: ListenerRequest) -> str:
    accepted = request.counts.get("successfulLines", 0)
    refused = sum(request.counts.values()) - accepted
    what = f"{accepted} lines accepted" + (f", {refused} refused" if refused else "")
    return f"listener: HTTP {request.status}, {what}, type {request.query.get('type', '-')}"


if __name__ == "__main__":
    sys.exit(main())
