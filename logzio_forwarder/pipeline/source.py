"""Stage 1 — source: the audit object's bytes, as a stream of chunks (never the whole object in memory)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import ForwarderError, SourceError

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
        try:
            stat = path.stat()
            stream = path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {name}: {exc.strerror or exc}") from None
        return OpenedObject(name, f"{stat.st_mtime_ns:x}-{stat.st_size:x}", stat.st_size, _file_chunks(stream))


def _file_chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        yield from read_chunks(stream)


class Guarded:
    """Iterates a stream until it fails, then stops cleanly and keeps the error.

    A truncated gzip or a broken download must not lose what was read before it: the records decoded so far are
    shipped, and the error is reported afterwards (the caller decides what becomes of an unfinished tail).
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.error: ForwarderError | None = None
        """The error that ended the stream, if one did."""

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except ForwarderError as exc:
            self.error = exc
