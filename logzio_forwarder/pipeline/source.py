"""Stage 1 — source: the audit object's bytes, as a stream of chunks (never the whole object in memory)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1 << 20
"""Read size: large enough that per-chunk overhead vanishes, small enough that memory stays flat."""


@dataclass
class OpenedObject:
    """An object being read: its identity (the ETag ties progress to one version) and its byte stream."""

    name: str
    etag: str
    size: int | None
    chunks: Iterator[bytes]


class ObjectSource(Protocol):
    """Where audit objects come from: the bucket in the function, a local file in the command line."""

    def open(self, name: str) -> OpenedObject: ...


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """Chunks of a binary stream until it ends."""
    while chunk := stream.read(size):
        yield chunk


class LocalFiles:
    """Local files (or ``-`` for stdin) as a source, for ``convert`` and ``ship``."""

    def open(self, name: str) -> OpenedObject:
        if name == "-":
            return OpenedObject("-", "", None, read_chunks(sys.stdin.buffer))
        path = Path(name)
        stat = path.stat()
        return OpenedObject(name, f"{stat.st_mtime_ns:x}-{stat.st_size:x}", stat.st_size, _file_chunks(path))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        yield from read_chunks(stream)
