"""Cold start: from the start of the function's process to its first answer, as a new container begins.

``python -m bench.cold_start [--image ROOT] [--runs N] [--json]``

Each run starts the stand-in helper of :mod:`bench.function_run` (Object Storage, listener, Monitoring), puts a
1-record object, then starts the clock, starts the fdk server (:class:`standins.fdkserver.FdkServer`, which returns
once fdk has opened its socket) and invokes it with that object's Object-Create event; the clock stops at fdk's
answer. So the figure holds the interpreter's start, fdk's, the first request's imports (``func.py``, the oci SDK's
core and services), the clients' construction and one object forwarded: what the platform's first invocation of a
new container waits for, less pulling the image (which the image's size decides, and which no local run shows).

``--image ROOT`` runs the child as the image does (``FDK_IMAGE=ROOT``: ``python3 -S``, only ``ROOT/function`` and
``ROOT/python`` on its path); without it, from the project's virtualenv. The report has medians of ``total_s``
(start to answer), ``ready_s`` (start to the socket), ``first_invoke_s`` and ``cpu_s``, the fdk process's CPU
seconds up to the answer (barely moved by other load on the machine).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.function_run import OBJECT_PREFIX, TOKEN, WARMUP_RECORD, Helper, _server_pid, proc_cpu_s
from standins.demo import object_created_event


def one_run(image: Path | None) -> dict[str, float]:
    """One cold start, measured; raises on a wrong answer."""
    from standins.fdkserver import FdkServer

    if image is not None:
        os.environ["FDK_IMAGE"] = str(image)
    else:
        os.environ.pop("FDK_IMAGE", None)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        helper = Helper(Path(tmp) / "principal", "count")
        try:
            hello = helper.hello
            small = Path(tmp) / "small.log.gz"
            small.write_bytes(gzip.compress(json.dumps(WARMUP_RECORD).encode() + b"\n"))
            name = f"{OBJECT_PREFIX}/20261101T094600Z_20261101T095300Z.0.log.gz"
            helper.call("put", name, str(small))
            config = {
                "input-bucket": hello["bucket"],
                "namespace": hello["namespace"],
                "logzio-url": hello["listener"],
                "logzio-token": TOKEN,
                "objectstorage-endpoint": hello["objectstorage"],
                "monitoring-endpoint": hello["monitoring"],
            }
            event = object_created_event(hello["namespace"], hello["bucket"], name, etag="")
            server = FdkServer(config, principal_env=hello["principal_env"])
            t0 = time.perf_counter()
            server.start()
            try:
                ready = time.perf_counter()
                answer = server.invoke(event, deadline=datetime.now(UTC) + timedelta(seconds=60))
                done = time.perf_counter()
                cpu = proc_cpu_s(_server_pid(server))
            finally:
                server.stop()
            if answer.status != 200 or helper.call("stats")["accepted"] != 1:
                raise RuntimeError(f"the first invocation answered {answer.status}: {answer.text[:300]}")
        finally:
            helper.close()
    return {"total_s": done - t0, "ready_s": ready - t0, "first_invoke_s": done - ready, "cpu_s": cpu}


def measure(image: Path | None, runs: int) -> dict[str, Any]:
    """Medians over ``runs`` cold starts."""
    results = [one_run(image) for _ in range(runs)]
    report: dict[str, Any] = {"image": str(image) if image else None, "runs": runs}
    for key in results[0]:
        report[key] = round(statistics.median(r[key] for r in results), 4)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0])
    p.add_argument("--image", type=Path, help="an image root (ROOT/python, ROOT/function) to run the child from")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print one JSON line (for python -m bench)")
    args = p.parse_args(argv)
    report = measure(args.image.resolve() if args.image else None, args.runs)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
