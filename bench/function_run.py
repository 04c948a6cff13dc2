"""One whole-function run: the real fdk server forwards an object from the Object Storage stand-in to the listener.

``python -m bench.function_run FILE [--json] [--sink standin|count] [--no-warmup] [--batch-max-bytes N]``

Three processes, so the figure that matters is the function's own:

1. a helper (``--serve``, started by this one) hosts the Object Storage, listener and Monitoring stand-ins, holds
   the object and counts what arrives -- its CPU and memory are not the function's (the function posts its
   metrics to the Monitoring stand-in once per invocation, as it does on OCI);
2. the fdk server (``standins.fdkserver.FdkServer``: ``fdk func.py handler`` on a unix socket, as the image runs
   it), configured through its environment like OCI Functions does;
3. this process, the "Fn agent": it uploads the object to the stand-in, sends a small warm-up invocation (fdk
   imports ``func.py`` -- and the forwarder its lazy ``oci`` imports -- on the first request; that first call is
   reported as ``cold_invoke_s``), then times the Object-Create invocation for FILE (``invoke_s``, from the POST
   to fdk's answer) and reads the fdk process's ``VmHWM`` from ``/proc`` (``server_peak_rss_kib``: its own peak,
   unaffected by the parent's memory that ``ru_maxrss`` would carry across exec).

The listener stand-in runs with ``keep_records=False``; it still gunzips and ``json.loads`` every line before it
answers each POST. To tell the function's cost from the stand-ins', the report has ``server_cpu_s`` and
``standins_cpu_s``: CPU seconds the fdk process and the helper used during the invoke (on 2 cores they compete).
``--sink count`` swaps in a listener that only counts lines, to take most of the stand-in's work out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from standins.demo import object_created_event

ROOT = Path(__file__).resolve().parents[1]
OBJECT_PREFIX = "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.aaaaaaaabench"
TOKEN = "benchShippingToken0123456789abcd"
"""The listener stand-in's token; never a real one."""
WARMUP_RECORD = {
    "data": {"eventName": "Warmup", "request": {"action": "POST"}},
    "dataschema": "2.0",
    "id": "00000000-0000-0000-0000-000000000000",
    "oracle": {"loggroupid": "_Audit"},
    "source": "bench",
    "specversion": "1.0",
    "time": "2026-11-01T10:00:00.000Z",
    "type": "com.oraclecloud.bench.Warmup",
}


# ----------------------------------------------------------------------------------------------------------------
# The helper process: stand-ins
# ----------------------------------------------------------------------------------------------------------------


def serve(directory: Path, sink: str) -> int:
    """Host the stand-ins until stdin closes. Protocol: one JSON line out with endpoints; then, per line in,
    ``put <name> <path>`` -> ``{"etag": ...}`` and ``stats`` -> listener counters."""
    from standins.listener import LogzioListenerStandin
    from standins.monitoring import MonitoringStandin
    from standins.objectstorage import DEFAULT_BUCKET, DEFAULT_NAMESPACE, ObjectStorageStandin
    from standins.principal import make_principal

    class CountingListener(LogzioListenerStandin):
        """Keeps the contract's token/gzip/size handling but only counts lines (no per-line ``json.loads``)."""

        def _accept(self, body: bytes, log_type: str) -> dict[str, int]:
            n = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
            with self._lock:
                self._accepted_count += n
            counts = dict.fromkeys(("malformedLines", "successfulLines", "oversizedLines", "emptyLogLines"), 0)
            counts["successfulLines"] = n
            return counts

    principal = make_principal(directory)
    listener_cls = CountingListener if sink == "count" else LogzioListenerStandin
    storage = ObjectStorageStandin(principal).start()
    listener = listener_cls(TOKEN, keep_records=False).start()
    monitoring = MonitoringStandin(principal).start()  # the function posts its metrics once per invocation
    try:
        hello = {
            "objectstorage": storage.endpoint,
            "listener": listener.url,
            "monitoring": monitoring.endpoint,
            "namespace": DEFAULT_NAMESPACE,
            "bucket": DEFAULT_BUCKET,
            "principal_env": principal.env(),
        }
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            cmd, *args = line.split()
            if cmd == "put":
                name, path = args
                etag = storage.put(DEFAULT_NAMESPACE, DEFAULT_BUCKET, name, Path(path).read_bytes())
                print(json.dumps({"etag": etag}), flush=True)
            elif cmd == "stats":
                reqs = listener.requests
                statuses: dict[str, int] = {}
                for r in reqs:
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                print(
                    json.dumps(
                        {
                            "accepted": listener.accepted_count,
                            "requests": len(reqs),
                            "statuses": statuses,
                            "wire_bytes": sum(r.compressed_size for r in reqs),
                            "body_bytes": sum(r.uncompressed_size or 0 for r in reqs),
                            "gzip": sum(1 for r in reqs if r.content_encoding == "gzip"),
                            "storage_requests": [f"{r.method} {r.status}" for r in storage.requests][-6:],
                            "metrics_posts": [p.status for p in monitoring.posts],
                        }
                    ),
                    flush=True,
                )
                listener.reset()
                monitoring.reset()
    finally:
        monitoring.stop()
        listener.stop()
        storage.stop()
    return 0


class Helper:
    """The stand-in helper process, driven over its stdin/stdout."""

    def __init__(self, directory: Path, sink: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.function_run", "--serve", str(directory), "--sink", sink],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"stand-in helper exited with {self.proc.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, *words: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# ----------------------------------------------------------------------------------------------------------------
# The measuring process
# ----------------------------------------------------------------------------------------------------------------


def proc_status_kib(pid: int) -> dict[str, int]:
    """``VmHWM``/``VmRSS`` of a live process, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(server: Any) -> int:
    """The fdk child's pid. ``FdkServer`` has no public ``pid`` yet; fall back to its ``_proc``."""
    pid = getattr(server, "pid", None)
    if pid is None:
        pid = server._proc.pid
    return int(pid)


def _expected_records(path: Path) -> int | None:
    side = path.with_name(path.name + ".json")
    try:
        return int(json.loads(side.read_text())["records"])
    except (OSError, ValueError, KeyError):
        return None


def _warm_up(server: Any, helper: Helper, tmp: Path, report: dict[str, Any], deadline: timedelta) -> bool:
    """Invoke once with a 1-record object, so the measured call finds fdk, func.py and oci already imported."""
    ns, bucket = helper.hello["namespace"], helper.hello["bucket"]
    warm = tmp / "warmup.log.gz"
    warm.write_bytes(gzip.compress(json.dumps(WARMUP_RECORD).encode() + b"\n"))
    name = f"{OBJECT_PREFIX}/20261101T094600Z_20261101T095300Z.0.log.gz"
    helper.call("put", name, str(warm))
    t0 = time.perf_counter()
    answer = server.invoke(object_created_event(ns, bucket, name, etag=""), deadline=datetime.now(UTC) + deadline)
    report["cold_invoke_s"] = round(time.perf_counter() - t0, 4)
    if answer.status != 200:
        report["error"] = f"warm-up invoke answered {answer.status}: {answer.text[:300]}"
        return False
    helper.call("stats")  # and reset the counters
    status = proc_status_kib(_server_pid(server))
    report["server_rss_after_warmup_kib"] = status["VmRSS"]
    report["server_hwm_after_warmup_kib"] = status["VmHWM"]
    return True


def run(
    path: Path, *, sink: str, warmup: bool, deadline_s: float, batch_max_bytes: int | None = None
) -> dict[str, Any]:
    from standins.fdkserver import FdkServer

    report: dict[str, Any] = {"ok": False, "file": str(path), "sink": sink}
    if batch_max_bytes is not None:
        report["batch_max_bytes"] = batch_max_bytes
    with tempfile.TemporaryDirectory(prefix="bench-fn-") as tmp:
        helper = Helper(Path(tmp) / "principal", sink)
        try:
            hello = helper.hello
            ns, bucket = hello["namespace"], hello["bucket"]
            name = f"{OBJECT_PREFIX}/20261101T095300Z_20261101T100000Z.0.log.gz"
            helper.call("put", name, str(path))
            config = {
                "input-bucket": bucket,
                "namespace": ns,
                "logzio-url": hello["listener"],
                "logzio-token": TOKEN,
                "objectstorage-endpoint": hello["objectstorage"],
                "monitoring-endpoint": hello["monitoring"],
            }
            if batch_max_bytes is not None:
                config["batch-max-bytes"] = str(batch_max_bytes)
            with FdkServer(config, principal_env=hello["principal_env"]) as server:
                pid = _server_pid(server)
                report["server_rss_at_start_kib"] = proc_status_kib(pid)["VmRSS"]
                deadline = timedelta(seconds=deadline_s)
                if warmup and not _warm_up(server, helper, Path(tmp), report, deadline):
                    return report
                cpu0, helper_cpu0 = proc_cpu_s(pid), proc_cpu_s(helper.proc.pid)
                t0 = time.perf_counter()
                answer = server.invoke(
                    object_created_event(ns, bucket, name, etag=""), deadline=datetime.now(UTC) + deadline
                )
                report["invoke_s"] = round(time.perf_counter() - t0, 4)
                report["server_cpu_s"] = round(proc_cpu_s(pid) - cpu0, 3)
                report["standins_cpu_s"] = round(proc_cpu_s(helper.proc.pid) - helper_cpu0, 3)
                status = proc_status_kib(pid)
                report["server_peak_rss_kib"] = status["VmHWM"]
                report["server_rss_after_kib"] = status["VmRSS"]
                report["status"] = answer.status
                report["answer"] = answer.text[:400]
                if answer.status != 200:
                    report["error"] = f"invoke answered {answer.status}: {answer.text[:300]}"
                    report["fdk_log_tail"] = server.logs()[-2000:]
                    return report
        finally:
            stats = helper.call("stats") if helper.proc.poll() is None else {}
            helper.close()
    report["listener"] = stats
    expected = _expected_records(path)
    report["expected_records"] = expected
    report["delivered_records"] = stats.get("accepted")
    if expected is not None and stats.get("accepted") != expected:
        report["error"] = f"listener accepted {stats.get('accepted')} records, the object has {expected}"
        return report
    report["ok"] = True
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.function_run", description=__doc__.split("\n\n")[0])
    p.add_argument("file", nargs="?", type=Path, help="a gzip'd audit object")
    p.add_argument("--json", action="store_true", help="print one JSON line (for python -m bench)")
    p.add_argument("--sink", choices=("standin", "count"), default="standin", help="listener: full stand-in or counter")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="time the first (cold) invocation")
    p.add_argument("--deadline", type=float, default=300.0, help="Fn-Deadline from now, seconds (default 300)")
    p.add_argument(
        "--batch-max-bytes",
        type=int,
        metavar="N",
        help="the function's batch-max-bytes config key (default: the function's default, 4000000)",
    )
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve, args.sink)
    if args.file is None:
        p.error("FILE is required")
    report = run(
        args.file, sink=args.sink, warmup=args.warmup, deadline_s=args.deadline, batch_max_bytes=args.batch_max_bytes
    )
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
