"""Time the decoder on inputs built to make it quadratic, at doubling sizes: the cost per KB must stay flat.

``python -m bench.pathological [--sizes 1000,2000,4000,8000] [--runs 3]``

Each shape is decoded in one process (CPU time, best of ``--runs``) at every size; the table shows microseconds
per KB of input, which stays flat when the work is linear and doubles with the size when it is quadratic.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from logzio_forwarder.pipeline.decode import decode


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _intact(n: int) -> bytes:
    """Three records joined on one line, the middle one with ``n`` ``}{`` (and quotes) inside two strings."""
    return _compact({"a": 1}) + _compact({"s": '"}{' * n, "t": "}{" * n}) + _compact({"b": 2}) + b"\n"


def _damaged(n: int) -> bytes:
    """The same string in a torn record, then in one with a stray ``{``, each followed by intact records."""
    big = _compact({"s": '"}{' * n})
    return big[:-5] + b"\n" + big + b"{" + big + b"\n" + big + _compact({"z": 1}) + b"\n"


def _alternating(n: int) -> bytes:
    """One line of ``n`` damaged records, each followed by a good one with ``}{`` in a string."""
    return (b'{"bad":x}' + b'{"ok":1,"s":"}{"}') * n + b"\n"


def _stray_braces(n: int) -> bytes:
    """``n`` lines that each open an object and never close it, between good records."""
    return b'{"a":{\n{"ok":1}\n' * n


SHAPES: dict[str, Callable[[int], bytes]] = {
    "joined, thousands of }{ in one string": _intact,
    "damaged, thousands of }{ in one string": _damaged,
    "damaged and good records alternating on one line": _alternating,
    "a never-closed { on every other line": _stray_braces,
}


def cpu_seconds(data: bytes, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for _ in decode([data]):
            pass
        best = min(best, time.process_time() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pathological", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,2000,4000,8000", help="values of n, doubling (default 1000..8000)")
    p.add_argument("--runs", type=int, default=3, help="runs per case; the best is kept (default 3)")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print("| shape | " + " | ".join(f"n={n}" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name, build in SHAPES.items():
        cells = []
        for n in sizes:
            data = build(n)
            seconds = cpu_seconds(data, args.runs)
            cells.append(f"{len(data) / 1000:.0f} KB: {seconds * 1e6 / (len(data) / 1000):.1f} µs/KB")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
