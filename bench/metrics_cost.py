"""What posting the metrics costs an invocation: ``python -m bench.metrics_cost [--runs N]``.

Two functions under the real fdk, one with ``metrics`` on (posting to the Monitoring stand-in) and one with it off,
forward the same small object (a fresh copy per run, so every run ships it) in alternation; the report gives the
median invoke time of each and their difference, and the fdk server's mean CPU time per invoke. On OCI the post
also waits one round trip to the region's ingestion endpoint, which loopback does not show. A second figure is
the first-invocation import of ``oci.monitoring`` (``python -X importtime``), which the forwarder imports lazily.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.function_run import proc_cpu_s
from standins.demo import audit_records, connector_object, object_created_event
from standins.fdkserver import REPO_ROOT, FdkServer
from standins.listener import LogzioListenerStandin
from standins.monitoring import MonitoringStandin
from standins.objectstorage import DEFAULT_BUCKET, ObjectStorageStandin
from standins.principal import make_principal

TOKEN = "bench-token-not-a-secret"


def _invoke(server: FdkServer, storage: ObjectStorageStandin, name: str, data: bytes) -> tuple[float, float]:
    """Wall and fdk-process CPU seconds of one Object-Create invocation."""
    etag = storage.put(storage.namespace, DEFAULT_BUCKET, name, data)
    pid = _pid(server)
    cpu0, t0 = proc_cpu_s(pid), time.perf_counter()
    answer = server.invoke(object_created_event(storage.namespace, DEFAULT_BUCKET, name, etag))
    wall = time.perf_counter() - t0
    if answer.status != 200:
        raise SystemExit(f"invoke answered {answer.status}: {answer.text[:300]}")
    return wall, proc_cpu_s(pid) - cpu0


def _pid(server: FdkServer) -> int:
    proc = getattr(server, "_proc", None)
    assert proc is not None
    return int(proc.pid)


def import_ms() -> float:
    """Self plus children time of ``import oci.monitoring`` after ``oci`` (what the first post adds), median of 5."""
    code = "import oci.auth.signers, oci.object_storage, oci.monitoring"
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        ).stderr
        match = re.search(r"^import time:\s+\d+ \|\s+(\d+) \| oci\.monitoring$", out, re.MULTILINE)
        assert match, "oci.monitoring not in the import trace"
        runs.append(int(match.group(1)) / 1000)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    data = connector_object(audit_records())
    timings: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        principal = make_principal(Path(tmp))
        with (
            ObjectStorageStandin(principal) as storage,
            LogzioListenerStandin(TOKEN, keep_records=False) as listener,
            MonitoringStandin(principal) as monitoring,
        ):
            config = {
                "input-bucket": DEFAULT_BUCKET,
                "namespace": storage.namespace,
                "logzio-url": listener.url,
                "logzio-token": TOKEN,
                "objectstorage-endpoint": storage.url,
                "monitoring-endpoint": monitoring.url,
            }
            servers = {
                "on": FdkServer(config, principal_env=principal.env()).start(),
                "off": FdkServer({**config, "metrics": "off"}, principal_env=principal.env()).start(),
            }
            try:
                for run in range(-1, args.runs):  # run -1 warms both containers up (imports, clients)
                    for mode, server in servers.items():
                        result = _invoke(server, storage, f"audit/{mode}/{run}.log.gz", data)
                        if run >= 0:
                            timings[mode].append(result)
            finally:
                for server in servers.values():
                    server.stop()
            posts = len(monitoring.posts)
    on = statistics.median(w for w, _ in timings["on"]) * 1000
    off = statistics.median(w for w, _ in timings["off"]) * 1000
    cpu_on = sum(c for _, c in timings["on"]) / args.runs * 1000  # /proc counts in ticks: average, not median
    cpu_off = sum(c for _, c in timings["off"]) / args.runs * 1000
    print(f"{args.runs} runs each, a 12-record object; {posts} metrics posts (1 per 'on' invocation, warm-up included)")
    print(f"invoke, median: metrics on {on:.1f} ms, off {off:.1f} ms: +{on - off:.1f} ms per invocation")
    print(f"fdk server CPU per invoke, mean: on {cpu_on:.1f} ms, off {cpu_off:.1f} ms: +{cpu_on - cpu_off:.1f} ms")
    print(f"first invocation: import oci.monitoring {import_ms():.0f} ms (median of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
