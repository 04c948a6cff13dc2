"""How fast could ``convert`` possibly be? Times the unavoidable steps one by one, in one process.

``python -m bench.floor [FILE] [--repeat 3] [--clock wall|cpu]`` (default FILE: ``bench/data/audit-50MB-ndjson.log.gz``,
generated if missing). Every figure is uncompressed MB (10^6 bytes of object text) per second, median of
``--repeat``, by the wall clock or (``--clock cpu``, for a busy machine: every step runs on one thread) by the
process's CPU time:

* gunzip: stdlib ``zlib`` vs ``isal.isal_zlib`` decompressobj fed 256 KiB chunks, and the file-like
  ``gzip.GzipFile`` / ``isal.igzip.GzipFile`` read in 1 MiB blocks;
* parse: ``orjson.loads`` per line (lines that are not one whole record are counted and skipped) vs ``json.loads``;
* serialise: ``orjson.dumps`` per record vs ``json.dumps``;
* gzip: the object's text cut into 4 MB bodies and each compressed as the shipper does (``isal.igzip.compress``
  level 1), against ISA-L level 0 and zlib level 1 (``zlib.compress``, gzip framing), each with the size it reaches;
* pipeline: streamed isal gunzip -> split lines -> ``orjson.loads`` -> ``orjson.dumps`` -> 4 MB batches dropped,
  with the process's peak RSS before anything else is loaded (so it is the streaming floor's memory, too).

The sum of the per-step times is a lower bound on one core; ``convert`` also has to find record boundaries that are
not newlines (``}{`` joins, pretty-printed records) and shape each record.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import resource
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from csimdjson import Parser as SimdParser
from isal import igzip, isal_zlib

from .generate import DATA_DIR, MB, generate

CHUNK = 256 * 1024


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _timed(fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def _stream(decompressobj: Callable[[], object], compressed: bytes) -> int:
    d = decompressobj()
    n = 0
    view = memoryview(compressed)
    for i in range(0, len(compressed), CHUNK):
        n += len(d.decompress(view[i : i + CHUNK]))  # type: ignore[attr-defined]
    n += len(d.flush())  # type: ignore[attr-defined]
    return n


def _filelike(opener: Callable[[str], object], path: str) -> int:
    n = 0
    with opener(path) as f:  # type: ignore[attr-defined]
        while block := f.read(1 << 20):
            n += len(block)
    return n


def pipeline(compressed: bytes, batch_bytes: int = 4_000_000) -> tuple[int, int, int]:
    """Streamed gunzip -> lines -> orjson.loads/dumps -> batches; returns (records, unparsed lines, batches)."""
    d = isal_zlib.decompressobj(wbits=31)
    loads, dumps = orjson.loads, orjson.dumps
    records = unparsed = batches = 0
    batch = bytearray()
    tail = b""
    view = memoryview(compressed)
    for i in range(0, len(compressed) + CHUNK, CHUNK):
        chunk = d.decompress(view[i : i + CHUNK]) if i < len(compressed) else d.flush()
        if not chunk:
            continue
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            try:
                rec = loads(line)
            except orjson.JSONDecodeError:
                unparsed += 1
                continue
            records += 1
            batch += dumps(rec)
            batch += b"\n"
            if len(batch) >= batch_bytes:
                batches += 1
                batch = bytearray()
    return records, unparsed, batches + (1 if batch else 0)


class Report:
    """Prints one line per measured step and keeps the rates for the summary."""

    def __init__(self, repeat: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.repeat = repeat
        self.clock = clock
        self.rates: dict[str, float] = {}

    def rate(self, name: str, seconds: float, mb: float) -> None:
        self.rates[name] = mb / seconds
        print(f"{name:<52} {mb / seconds:9.1f} MB/s   ({seconds * 1000:8.1f} ms)", flush=True)

    def timed(self, name: str, fn: Callable[[], object], mb: float, *, repeat: int | None = None) -> None:
        self.rate(name, _timed(fn, repeat or self.repeat, self.clock), mb)


def gunzips(r: Report, compressed: bytes, path: Path, mb: float) -> None:
    r.timed("gunzip zlib.decompressobj (256 KiB chunks)", lambda: _stream(_zlib_gunzip, compressed), mb)
    r.timed(GUNZIP_ISAL, lambda: _stream(_isal_gunzip, compressed), mb)
    r.timed("gunzip gzip.GzipFile.read(1 MiB)", lambda: _filelike(gzip.open, str(path)), mb)
    r.timed("gunzip isal.igzip.GzipFile.read(1 MiB)", lambda: _filelike(igzip.open, str(path)), mb)


def _zlib_gunzip() -> object:
    return zlib.decompressobj(wbits=31)


def _isal_gunzip() -> object:
    return isal_zlib.decompressobj(wbits=31)


GUNZIP_ISAL = "gunzip isal_zlib.decompressobj (256 KiB chunks)"


def parse_and_serialise(r: Report, data: bytes, mb: float) -> float:
    """Per-line parse and per-record serialise rates; returns the MB of whole-record lines they were timed on."""
    r.timed("split(b'\\n')", lambda: data.split(b"\n"), mb)
    lines = [line for line in data.split(b"\n") if line]
    whole: list[bytes] = []
    for line in lines:
        try:
            orjson.loads(line)
            whole.append(line)
        except orjson.JSONDecodeError:
            pass
    whole_mb = sum(len(x) + 1 for x in whole) / MB
    if len(whole) != len(lines):
        print(f"  ({len(lines) - len(whole)} of {len(lines)} lines are not one whole record; parse rates use the rest)")
    loads, dumps = orjson.loads, orjson.dumps

    def each(fn: Callable[[Any], object], items: list[Any]) -> None:
        for item in items:  # results are dropped at once, as in a streaming converter (no GC pressure)
            fn(item)

    r.timed("orjson.loads per line", lambda: each(loads, whole), whole_mb)
    validator = SimdParser()

    def validate(line: bytes) -> object:  # what the forwarder's hot path does: validate, read "time", drop
        doc = validator.parse(line)
        time = doc.get("time")
        del doc
        return time

    r.timed("simdjson validate + read time per line", lambda: each(validate, whole), whole_mb)
    r.timed("json.loads per line", lambda: each(json.loads, whole), whole_mb)
    r.timed("orjson.loads per line, results kept (GC pressure)", lambda: [loads(x) for x in whole], whole_mb, repeat=1)
    recs = [loads(x) for x in whole]
    r.timed("orjson.dumps per record", lambda: each(dumps, recs), whole_mb)
    r.timed("json.dumps per record (the seed's)", lambda: each(json.dumps, recs), whole_mb)
    r.timed("orjson.loads+dumps per line", lambda: each(lambda x: dumps(loads(x)), whole), whole_mb)
    return whole_mb


BODY = 4_000_000
"""The function's default ``batch-max-bytes``: the size of the bodies it compresses."""


def compressions(r: Report, data: bytes, mb: float) -> None:
    """gzip of 4 MB bodies as the shipper sends them, per codec and level, with the share of the text it leaves."""
    bodies = [data[i : i + BODY] for i in range(0, len(data), BODY)]
    codecs: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("gzip isal igzip.compress level 1 (4 MB bodies)", lambda b: igzip.compress(b, compresslevel=1)),
        ("gzip isal igzip.compress level 0 (4 MB bodies)", lambda b: igzip.compress(b, compresslevel=0)),
        ("gzip zlib.compress level 1 (4 MB bodies)", lambda b: zlib.compress(b, 1, wbits=31)),
    ]
    for name, compress in codecs:
        r.timed(name, functools.partial(_compressed_size, compress, bodies), mb)
        size = _compressed_size(compress, bodies)
        print(f"  compressed to {size / MB:.1f} MB, {size / len(data):.1%} of the text")


def _compressed_size(compress: Callable[[bytes], bytes], bodies: list[bytes]) -> int:
    return sum(len(compress(body)) for body in bodies)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    p.add_argument("file", nargs="?", type=Path, default=DATA_DIR / "audit-50MB-ndjson.log.gz")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="what to time by (default: wall)")
    args = p.parse_args(argv)
    path: Path = args.file
    if not path.exists() and path == DATA_DIR / "audit-50MB-ndjson.log.gz":
        generate(50, "ndjson")
    compressed = path.read_bytes()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = Report(args.repeat, CLOCKS[args.clock])
    t0 = r.clock()
    records, unparsed, batches = pipeline(compressed)
    t_pipe = r.clock() - t0
    rss_pipe = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mb = _stream(_zlib_gunzip, compressed) / MB
    print(f"{path.name}: {mb:.1f} MB uncompressed, {len(compressed) / MB:.1f} MB gzip, python {sys.version.split()[0]}")
    r.rate("pipeline isal->lines->orjson.loads->dumps->batches", t_pipe, mb)
    print(
        f"  {records} records, {unparsed} lines not a whole record, {batches} batches; peak RSS "
        f"{rss0 / 1024:.1f} MiB with the gzip bytes loaded -> {rss_pipe / 1024:.1f} MiB after the pipeline"
    )
    gunzips(r, compressed, path, mb)
    text = isal_zlib.decompress(compressed, wbits=31)
    whole_mb = parse_and_serialise(r, text, mb)
    compressions(r, text, mb)
    seconds = mb / r.rates[GUNZIP_ISAL] + whole_mb / r.rates["orjson.loads per line"]
    seconds += whole_mb / r.rates["orjson.dumps per record"]
    print(f"{'sum: isal decompressobj + orjson.loads + orjson.dumps':<52} {mb / seconds:9.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
