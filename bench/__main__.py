"""``python -m bench`` (``make bench``): the seed's PoC vs ``convert`` vs the whole function, as whole processes.

For every size it generates (once, cached under ``bench/data``) a ``poc-safe``, a ``mixed``, a ``joined-braces`` and a
``joined-lines`` object, then
runs the cases round-robin -- baseline, convert, convert, function, baseline, ... -- so drift on the machine
(thermal, other tenants) spreads over all runners alike. Each run is a fresh child process:

* ``baseline``: ``python -m bench.baseline FILE`` (the seed's transform) on the poc-safe object, stdout to
  /dev/null; wall time and peak RSS from ``os.wait4``'s rusage of that child;
* ``convert``: ``python -m logzio_forwarder convert FILE`` on every object, stdout to /dev/null; same measures;
* ``function``: ``python -m bench.function_run FILE --json`` on the mixed and joined-braces objects: the real fdk
  server, invoked over its unix socket with an Object-Create event, fetching from the Object Storage stand-in and
  shipping to the listener stand-in (both in a separate helper process); wall time of the invoke and the fdk
  server's own VmHWM.

Throughput is uncompressed object MB (10^6 bytes) per wall second; the table shows medians over the runs. Results
go to stdout, ``bench/out/results.md`` (+ ``results.json`` with every run), and between the
``<!-- bench-results:start/end -->`` markers of ``docs/performance.md`` (a tracked file: commit it or
``git checkout`` it after a run; ``--no-readme`` leaves it alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
README = ROOT / "docs" / "performance.md"
MB = 1_000_000
RUNNERS = ("baseline", "convert", "function")
LAYOUTS = ("poc-safe", "mixed", "joined-braces", "joined-lines", "wrapped")
"""Layouts ``convert`` runs on by default (``bench.generate`` says what each is)."""
FUNCTION_LAYOUTS = ("mixed", "joined-braces")
IMPORT_PACKAGES = ("oci", "fdk", "requests", "orjson", "isal", "logzio_forwarder")
LAZY_OCI = "oci.auth.signers, oci.object_storage"
"""What the forwarder imports from oci inside functions, i.e. on the first invocation rather than at import."""
MARK_START = "<!-- bench-results:start -->"
MARK_END = "<!-- bench-results:end -->"
BIG_MB = 100


@dataclass(frozen=True)
class Case:
    size_mb: int
    layout: str
    runner: str


@dataclass(frozen=True)
class Obj:
    path: Path
    uncompressed_bytes: int
    note: str


@dataclass
class Run:
    case: Case
    round: int
    ok: bool
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_kib: int = 0
    child_maxrss_kib: int = 0
    uncompressed_bytes: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mb_s(self) -> float:
        return self.uncompressed_bytes / MB / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_mb_s(self) -> float:
        return self.uncompressed_bytes / MB / self.cpu_s if self.cpu_s else 0.0


@dataclass
class Row:
    case: Case
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    @property
    def mb_s(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.mb_s for r in ok) if ok else None

    @property
    def cpu_mb_s(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.cpu_mb_s for r in ok) if ok else None

    @property
    def rss_mib(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.peak_rss_kib for r in ok) / 1024 if ok else None

    @property
    def spread(self) -> float | None:
        ok = self.ok_runs
        median = self.mb_s
        if len(ok) < 2 or not median:
            return None
        rates = [r.mb_s for r in ok]
        return (max(rates) - min(rates)) / median

    def extra_median(self, key: str) -> float | None:
        values = [float(r.extra[key]) for r in self.ok_runs if r.extra.get(key) is not None]
        return statistics.median(values) if values else None


# ----------------------------------------------------------------------------------------------------------------
# Running children
# ----------------------------------------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


@dataclass
class Measured:
    code: int
    wall_s: float
    cpu_s: float
    """User + system CPU of the child (``ru_utime + ru_stime``): unlike wall time, barely moved by other load."""
    maxrss_kib: int
    stdout: bytes
    stderr: str


def measure(argv: list[str], *, timeout: float, capture: bool = False) -> Measured:
    """Run ``argv`` as a child of this (small) process and take its own rusage from ``os.wait4``.

    ``os.wait4`` gives the child's own rusage. Linux carries the parent's high-water RSS into a child across
    ``exec``, so this driver imports nothing heavy and keeps no data: its own peak is printed as the floor.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=err,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        killer = threading.Timer(timeout, kill)
        killer.start()
        out = proc.stdout.read() if proc.stdout is not None else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdout is not None:
            proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if timed_out.is_set():
        stderr += f"\n[killed after {timeout:.0f} s]"
    return Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss), out, stderr)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run_case(case: Case, obj: Obj, round_: int, timeout: float, sink: str) -> Run:
    py = sys.executable
    if case.runner == "baseline":
        argv = [py, "-m", "bench.baseline", str(obj.path)]
    elif case.runner == "convert":
        argv = [py, "-m", "logzio_forwarder", "convert", str(obj.path)]
    else:
        argv = [py, "-m", "bench.function_run", str(obj.path), "--json", "--sink", sink]
    m = measure(argv, timeout=timeout, capture=case.runner == "function")
    code, err = m.code, m.stderr
    run = Run(case, round_, code == 0, m.wall_s, m.cpu_s, m.maxrss_kib, m.maxrss_kib, obj.uncompressed_bytes)
    if case.runner == "function":
        try:
            report = json.loads(m.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            run.ok, run.error = False, f"exit {code}, no JSON report: {_last_line(err)}"
            return run
        run.extra = report
        if not report.get("ok", False):
            run.ok, run.error = False, str(report.get("error", "function reported failure"))[:200]
            return run
        run.wall_s = float(report["invoke_s"])
        run.cpu_s = float(report["server_cpu_s"])
        run.peak_rss_kib = int(report["server_peak_rss_kib"])
    if code != 0:
        run.ok, run.error = False, f"exit {code}: {_last_line(err)}"
    return run


# ----------------------------------------------------------------------------------------------------------------
# Machine, cold start
# ----------------------------------------------------------------------------------------------------------------

_VERSIONS = """
import importlib.metadata as m
for p in ("orjson", "isal", "oci", "fdk", "requests"):
    try:
        print(p, m.version(p))
    except m.PackageNotFoundError:
        print(p, "missing")
"""


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, str]:
    info: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    info["cpu"] = m.group(1).strip() if m else platform.processor() or "?"
    info["cores"] = f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}"
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    info["memory"] = f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?"
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    versions = measure([sys.executable, "-c", _VERSIONS], timeout=60, capture=True)
    lines = versions.stdout.decode().splitlines()
    info["packages"] = ", ".join(" ".join(x.split()) for x in lines) if versions.code == 0 else "?"
    head = _git("rev-parse", "--short", "HEAD") or "(no commit yet)"
    info["commit"] = head + (" + uncommitted changes" if _git("status", "--porcelain") else "")
    return info


def parse_importtime(stderr: str) -> tuple[int, dict[str, int]]:
    """(total self µs, µs attributed to each of :data:`IMPORT_PACKAGES` and ``other``).

    ``-X importtime`` prints one line per module in post-order, nesting shown by indentation. A module's self time
    goes to the nearest enclosing module (itself included) of a tracked package: ``cryptography`` pulled in by
    ``oci`` counts for oci, ``urllib3`` under ``requests`` for requests, a stdlib module first imported by
    ``logzio_forwarder`` for logzio_forwarder, anything outside all of them for ``other``.
    """
    nodes: list[tuple[str, int, list[int]]] = []  # name, self µs, children (indices)
    stack: list[tuple[int, int]] = []  # (depth, node index) still waiting for a parent
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", line)
        if not m:
            continue
        depth = (len(m.group(2)) - 1) // 2
        children: list[int] = []
        while stack and stack[-1][0] > depth:
            children.append(stack.pop()[1])
        nodes.append((m.group(3), int(m.group(1)), children))
        stack.append((depth, len(nodes) - 1))
    totals: dict[str, int] = dict.fromkeys((*IMPORT_PACKAGES, "other"), 0)
    pending = [(index, "other") for _, index in stack]
    while pending:
        index, owner = pending.pop()
        name, self_us, children = nodes[index]
        top = name.split(".")[0]
        owner = top if top in IMPORT_PACKAGES else owner
        totals[owner] += self_us
        pending.extend((child, owner) for child in children)
    return sum(n[1] for n in nodes), totals


def cold_start(statement: str, runs: int) -> dict[str, Any]:
    """``python -X importtime -c STATEMENT`` from the repo root, ``runs`` times; medians."""
    totals: list[int] = []
    per_pkg: dict[str, list[int]] = {p: [] for p in (*IMPORT_PACKAGES, "other")}
    walls: list[float] = []
    rss: list[int] = []
    for _ in range(runs):
        m = measure([sys.executable, "-X", "importtime", "-c", statement], timeout=120)
        if m.code != 0:
            return {"statement": statement, "error": _last_line(m.stderr)}
        total, by_pkg = parse_importtime(m.stderr)
        totals.append(total)
        walls.append(m.wall_s)
        rss.append(m.maxrss_kib)
        for p, values in per_pkg.items():
            values.append(by_pkg[p])
    return {
        "statement": statement,
        "runs": runs,
        "total_ms": statistics.median(totals) / 1000,
        "process_wall_ms": statistics.median(walls) * 1000,
        "peak_rss_mib": statistics.median(rss) / 1024,
        "package_ms": {p: statistics.median(v) / 1000 for p, v in per_pkg.items()},
    }


# ----------------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def baselines(rows: list[Row], *, cpu: bool = False) -> dict[int, float]:
    out: dict[int, float] = {}
    for r in rows:
        rate = r.cpu_mb_s if cpu else r.mb_s
        if r.case.runner == "baseline" and rate:
            out[r.case.size_mb] = rate
    return out


def table(rows: list[Row]) -> list[str]:
    out = [
        "| size | layout | runner | runs | MB/s (median) | x baseline | peak RSS MiB (median) | spread "
        "| MB per CPU-s | x baseline (CPU) | note |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base, cpu_base = baselines(rows), baselines(rows, cpu=True)
    for row in rows:
        c = row.case
        rate, cpu_rate = row.mb_s, row.cpu_mb_s
        ratio = rate / base[c.size_mb] if rate and c.size_mb in base else None
        cpu_ratio = cpu_rate / cpu_base[c.size_mb] if cpu_rate and c.size_mb in cpu_base else None
        errors = sorted({r.error for r in row.runs if not r.ok})
        note = "; ".join(filter(None, [row.note, *errors]))[:160].replace("|", "/")
        spread = None if row.spread is None else row.spread * 100
        out.append(
            f"| {c.size_mb} MB | {c.layout} | {c.runner} | {len(row.ok_runs)}/{len(row.runs)} | {_fmt(rate, '.1f')} "
            f"| {_fmt(ratio, '.2f')} | {_fmt(row.rss_mib, '.1f')} | {_fmt(spread, '.0f', '%')} "
            f"| {_fmt(cpu_rate, '.1f')} | {_fmt(cpu_ratio, '.2f')} | {note} |"
        )
    return out


def function_details(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        if row.case.runner != "function" or not row.ok_runs:
            continue
        invoke = row.extra_median("invoke_s")
        cpu = row.extra_median("server_cpu_s")
        standins = row.extra_median("standins_cpu_s")
        cold = row.extra_median("cold_invoke_s")
        warm = row.extra_median("server_hwm_after_warmup_kib")
        share = cpu / invoke * 100 if cpu is not None and invoke else None
        warm_mib = None if warm is None else warm / 1024
        requests = row.ok_runs[0].extra.get("listener", {}).get("requests")
        out.append(
            f"- function, {row.case.size_mb} MB {row.case.layout} (medians): invoke {_fmt(invoke, '.2f')} s, "
            f"fdk server CPU {_fmt(cpu, '.2f')} s ({_fmt(share, '.0f')} % of the invoke), "
            f"stand-ins CPU {_fmt(standins, '.2f')} s, "
            f"{requests} POSTs; fdk server peak after the warm-up invoke {_fmt(warm_mib, '.1f')} MiB; "
            f"first (cold) invoke, 1-record object: {_fmt(cold, '.2f')} s"
        )
    return out


def targets(rows: list[Row], colds: list[dict[str, Any]]) -> list[str]:
    def find(size: int, layout: str, runner: str) -> Row | None:
        return next((r for r in rows if r.case == Case(size, layout, runner)), None)

    base = baselines(rows)
    lines: list[str] = []
    for layout in LAYOUTS:
        conv50 = find(50, layout, "convert")
        if conv50 is not None and conv50.mb_s and 50 in base:
            ratio = conv50.mb_s / base[50]
            verdict = "met" if ratio >= 7 else "NOT met"
            lines.append(f"convert >= 7x baseline at 50 MB ({layout}): {ratio:.2f}x: {verdict}")
        else:
            lines.append(f"convert >= 7x baseline at 50 MB ({layout}): not measured")
    for runner, layout in (("convert", "poc-safe"), ("convert", "mixed"), ("function", "mixed")):
        row = find(500, layout, runner)
        if row is not None and row.ok_runs:
            peak = max(r.peak_rss_kib for r in row.ok_runs) / 1024
            verdict = "met" if peak <= 80 else "NOT met"
            lines.append(f"peak RSS <= 80 MiB at 500 MB, {runner} ({layout}): max {peak:.1f} MiB: {verdict}")
    for size in sorted({r.case.size_mb for r in rows}):
        fn, conv = find(size, "mixed", "function"), find(size, "mixed", "convert")
        if fn is not None and conv is not None and fn.mb_s and conv.mb_s:
            share = fn.mb_s / conv.mb_s
            verdict = "met" if share >= 0.8 else "NOT met"
            lines.append(f"function >= 80 % of convert at {size} MB (mixed): {share * 100:.0f} %: {verdict}")
        lines.extend(_cpu_ratio(find(size, layout, "function"), find(size, layout, "convert")) for layout in LAYOUTS)
    lines.extend(
        f"cold start `{c['statement']}`: {c['total_ms']:.0f} ms of imports (tracked, no numeric target)"
        for c in colds
        if "total_ms" in c
    )
    lines.extend(
        f"the image's /python <= 150 MB: {c['tree_mb']:.1f} MB: {'met' if c['tree_mb'] <= 150 else 'NOT met'}"
        for c in colds
        if c.get("kind") == "pruned"
    )
    return lines


def _cpu_ratio(fn: Row | None, conv: Row | None) -> str:
    """The function's own CPU for an object against convert's: the cost of shipping on top of decoding."""
    if fn is None or conv is None or not fn.cpu_mb_s or not conv.cpu_mb_s:
        return ""
    ratio = conv.cpu_mb_s / fn.cpu_mb_s
    verdict = "met" if ratio <= 1.35 else "NOT met"
    c = fn.case
    return f"function CPU <= 1.35x convert CPU at {c.size_mb} MB ({c.layout}): {ratio:.2f}x: {verdict}"


def cold_lines(colds: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in colds:
        if "kind" in c:
            out.append(_first_answer_line(c))
            continue
        if "error" in c:
            out.append(f"- `python -X importtime -c '{c['statement']}'`: failed: {c['error']}")
            continue
        total = c["total_ms"]
        parts = ", ".join(f"{p} {ms:.0f}" for p, ms in c["package_ms"].items())
        oci_share = c["package_ms"]["oci"] / total * 100 if total else 0.0
        out.append(
            f"- `python -X importtime -c '{c['statement']}'` (median of {c['runs']}): {total:.0f} ms of imports, "
            f"oci {oci_share:.0f} % of it (process wall {c['process_wall_ms']:.0f} ms, peak RSS "
            f"{c['peak_rss_mib']:.1f} MiB). ms by package, each with what it pulled in first: {parts}"
        )
    return out


def _first_answer_line(c: dict[str, Any]) -> str:
    what = {"pruned": "the image's pruned /python", "full": "a full install of requirements.lock"}[c["kind"]]
    head = f"- fdk process start -> first answer, 1-record object, from {what} ({c['tree_mb']:.1f} MB, python3 -S)"
    if "error" in c:
        return f"{head}: failed: {c['error']}"
    return (
        f"{head} (`python -m bench.cold_start`, median of {c['runs']}): {c['total_s']:.2f} s (socket open after "
        f"{c['ready_s']:.2f} s, first invocation {c['first_invoke_s']:.2f} s), fdk process CPU {c['cpu_s']:.2f} s"
    )


def first_answer(kind: str, root: Path, runs: int) -> dict[str, Any]:
    """:mod:`bench.cold_start` on an image root (``ROOT/python``, ``ROOT/function``), in a child process."""
    tree = root / "python"
    result: dict[str, Any] = {"kind": kind, "root": str(root)}
    if not (tree / "bin" / "fdk").is_file():
        result.update(tree_mb=0.0, error=f"no tree at {tree} (make bench builds it)")
        return result
    result["tree_mb"] = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file()) / MB
    m = measure(
        [sys.executable, "-m", "bench.cold_start", "--image", str(root), "--runs", str(runs), "--json"],
        timeout=600,
        capture=True,
    )
    try:
        result.update(json.loads(m.stdout.decode().strip().splitlines()[-1]))
    except (ValueError, IndexError):
        result["error"] = f"exit {m.code}: {_last_line(m.stderr)}"
    return result


def render(
    rows: list[Row],
    *,
    info: dict[str, str],
    command: str,
    colds: list[dict[str, Any]],
    floor_kib: int,
    objects: dict[str, str],
    load: str,
) -> str:
    out = [
        f"Command: `{command}`  ",
        f"Run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, commit {info.get('commit', '?')}  ",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM, {info['os']}, {info['python']}  ",
        f"Packages: {info['packages']}",
        "",
        *table(rows),
        "",
        "MB = 10^6 bytes of uncompressed object text; MB/s = object size / wall seconds of the child process (for "
        "`function`: of the warm invoke, from the POST to fdk's answer). x baseline = vs the seed's transform on "
        "the same size's poc-safe object. Peak RSS = `ru_maxrss` of the child (for `function`: VmHWM of the fdk "
        "server process). Spread = (max - min) / median of MB/s. MB per CPU-s = object size / (user + system CPU "
        "seconds of the child; for `function`: of the fdk server during the invoke): the cost, nearly unmoved by "
        "other load on the machine. This driver's own peak RSS, which Linux carries into each child across exec as "
        f"a floor: {floor_kib / 1024:.1f} MiB. Load average before / after the runs: {load}.",
    ]
    details = function_details(rows)
    if details:
        out += ["", *details]
    if objects:
        out += ["", "Objects:", *(f"- {name}: {note}" for name, note in objects.items())]
    out += ["", "Targets:", *(f"- {line}" for line in targets(rows, colds) if line)]
    if colds:
        out += ["", "Cold start:", *cold_lines(colds)]
    return "\n".join(out) + "\n"


def update_readme(readme: Path, block: str) -> bool:
    if not readme.exists():
        return False
    text = readme.read_text()
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[: start + len(MARK_START)] + "\n" + block + text[end:])
    return True


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _mem_available_kib() -> int:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    m = re.search(r"^MemAvailable:\s*(\d+) kB", meminfo, re.M)
    return int(m.group(1)) if m else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="5,50,500", help="object sizes in MB, uncompressed (default 5,50,500)")
    p.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    p.add_argument("--only", default=",".join(RUNNERS), help="runners to run (default baseline,convert,function)")
    p.add_argument("--layouts", default=",".join(LAYOUTS), help=f"layouts for convert (default {','.join(LAYOUTS)})")
    p.add_argument(
        "--function-layouts",
        default=",".join(FUNCTION_LAYOUTS),
        help=f"layouts for function (default {','.join(FUNCTION_LAYOUTS)})",
    )
    p.add_argument(
        "--big-baseline-runs",
        type=int,
        default=1,
        help=f"runs of the baseline on objects over {BIG_MB} MB (default 1: ~25 s and ~3.5 GB each at 500 MB)",
    )
    p.add_argument("--sink", choices=("standin", "count"), default="standin", help="listener for `function`")
    p.add_argument("--timeout", type=float, default=600, help="seconds before a child is killed")
    p.add_argument("--cold-runs", type=int, default=5, help="runs of each cold-start measurement (0: skip)")
    p.add_argument("--image", type=Path, help="an image root (make image-tree + stage) for the cold start")
    p.add_argument("--full-image", type=Path, help="the same with an unpruned /python, to compare")
    p.add_argument("--out", type=Path, default=OUT, help="directory for results.md/results.json (default bench/out)")
    p.add_argument(
        "--readme", type=Path, default=README, help="page whose results block to rewrite (default: docs/performance.md)"
    )
    p.add_argument("--no-readme", action="store_true", help="do not touch docs/performance.md")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.only = [r for r in args.only.split(",") if r]
    args.layouts = [x for x in args.layouts.split(",") if x]
    args.function_layouts = [x for x in args.function_layouts.split(",") if x]
    bad = set(args.only) - set(RUNNERS)
    if bad:
        p.error(f"unknown runner(s) {', '.join(sorted(bad))}; choose from {', '.join(RUNNERS)}")
    args.command = " ".join(["python -m bench", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    return args


def plan(args: argparse.Namespace) -> list[Case]:
    cases: list[Case] = []
    for size in args.sizes:
        if "baseline" in args.only:
            cases.append(Case(size, "poc-safe", "baseline"))
        if "convert" in args.only:
            cases.extend(Case(size, layout, "convert") for layout in args.layouts)
        if "function" in args.only:
            cases.extend(Case(size, layout, "function") for layout in args.function_layouts)
    return cases


def prepare(cases: list[Case]) -> dict[tuple[int, str], Obj]:
    """Generate missing objects -- in a child, so this driver's RSS stays small (see :func:`measure`)."""
    need = sorted({(c.size_mb, c.layout) for c in cases})
    for layout in sorted({layout for _, layout in need}):
        sizes = ",".join(str(s) for s, lay in need if lay == layout)
        print(f"objects ({layout}): {sizes} MB", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.generate", "--sizes", sizes, "--layout", layout],
            cwd=ROOT,
            env=child_env(),
            check=True,
        )
    objects: dict[tuple[int, str], Obj] = {}
    for size, layout in need:
        suffix = "" if layout == "mixed" else f"-{layout}"
        path = BENCH / "data" / f"audit-{size}MB{suffix}.log.gz"
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        note = f"{meta['compressed_bytes'] / MB:.1f} MB gzip, {meta['records']} records, units {meta['units']}"
        objects[(size, layout)] = Obj(path, int(meta["uncompressed_bytes"]), note)
    return objects


def execute(cases: list[Case], objects: dict[tuple[int, str], Obj], args: argparse.Namespace) -> list[Row]:
    rows = {c: Row(c) for c in cases}
    rss_per_mb: float | None = None  # the baseline's, to predict whether a bigger object fits in memory
    started = time.perf_counter()
    for round_ in range(1, args.runs + 1):
        for case in cases:
            row = rows[case]
            if case.runner == "baseline":
                if row.note or (case.size_mb > BIG_MB and round_ > args.big_baseline_runs):
                    continue
                need_kib = (rss_per_mb or 8 * 1024) * case.size_mb
                if need_kib > _mem_available_kib() * 0.8:
                    row.note = f"skipped (needs ~{need_kib / 1024 / 1024:.1f} GB)"
                    print(f"{case.size_mb} MB baseline: {row.note}", flush=True)
                    continue
            run = run_case(case, objects[(case.size_mb, case.layout)], round_, args.timeout, args.sink)
            row.runs.append(run)
            if case.runner == "baseline" and run.ok:
                rss_per_mb = max(rss_per_mb or 0.0, run.peak_rss_kib / case.size_mb)
            result = f"{run.mb_s:8.1f} MB/s {run.peak_rss_kib / 1024:8.1f} MiB" if run.ok else f"FAILED {run.error}"
            print(
                f"round {round_}/{args.runs} {case.size_mb:>4} MB {case.layout:<8} {case.runner:<8} "
                f"{run.wall_s:7.2f} s {result}",
                flush=True,
            )
    print(f"runs took {time.perf_counter() - started:.0f} s", flush=True)
    return list(rows.values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = plan(args)
    objects = prepare(cases)
    load_before = _loadavg()
    rows = execute(cases, objects, args)
    colds: list[dict[str, Any]] = []
    if args.cold_runs > 0:
        colds = [cold_start("import func", args.cold_runs), cold_start(f"import func, {LAZY_OCI}", args.cold_runs)]
        images = (("pruned", args.image), ("full", args.full_image))
        colds += [first_answer(kind, root, args.cold_runs) for kind, root in images if root is not None]
    info = machine_info()
    floor_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    notes = {o.path.name: o.note for o in objects.values()}
    load = f"{load_before} / {_loadavg()}"
    report = render(rows, info=info, command=args.command, colds=colds, floor_kib=floor_kib, objects=notes, load=load)
    print()
    print(report)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("# Benchmark results\n\n" + report)
    dump = {
        "command": args.command,
        "machine": info,
        "cold_start": colds,
        "runs": [asdict(r) for row in rows for r in row.runs],
        "notes": {f"{r.case.size_mb}/{r.case.layout}/{r.case.runner}": r.note for r in rows if r.note},
    }
    (out / "results.json").write_text(json.dumps(dump, indent=2, default=str) + "\n")
    print(f"wrote {out / 'results.md'} and results.json")
    if not args.no_readme and update_readme(args.readme, report):
        print(f"updated the results block in {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
