"""Stage 2 — decompress: gzip (one or several members) or plain bytes, decided by content, not by name.

Uses ISA-L through ``isal``: about twice zlib's inflate speed here (README "Dependencies").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from isal import isal_zlib as _zlib

from ..errors import DecompressError

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 31
_ZLIB_ERROR: type[Exception] = _zlib.error  # type: ignore[assignment]  # the stub types it as an instance
OUT_CHUNK = 1 << 20
"""Most bytes one inflate step may produce: bounds memory even for highly compressible input."""


class DecompressStats:
    """Bytes in and out, for the summary."""

    __slots__ = ("compressed", "decompressed", "gzip")

    def __init__(self) -> None:
        self.compressed = 0
        self.decompressed = 0
        self.gzip = False


def decompress(chunks: Iterable[bytes], stats: DecompressStats | None = None) -> Iterator[bytes]:
    """Yield the decompressed bytes of ``chunks``.

    A truncated or corrupt gzip stream raises :class:`DecompressError` *after* yielding everything that could be
    inflated before the damage, so the caller ships what was readable and then fails loudly.
    """
    stats = stats if stats is not None else DecompressStats()
    it = iter(chunks)
    head = b""
    for chunk in it:  # gather enough bytes to see the magic number
        stats.compressed += len(chunk)
        head += chunk
        if len(head) >= 2:
            break
    if head[:2] != GZIP_MAGIC:
        yield from _plain(head, it, stats)
    else:
        stats.gzip = True
        yield from _gunzip(head, it, stats)


def _plain(head: bytes, rest: Iterator[bytes], stats: DecompressStats) -> Iterator[bytes]:
    if head:
        stats.decompressed += len(head)
        yield head
    for chunk in rest:
        stats.compressed += len(chunk)
        stats.decompressed += len(chunk)
        yield chunk


def _gunzip(head: bytes, rest: Iterator[bytes], stats: DecompressStats) -> Iterator[bytes]:
    """Inflate member after member; output comes in pieces of at most ``OUT_CHUNK`` so memory stays flat."""
    inflater: Any = _zlib.decompressobj(_GZIP_WBITS)
    for chunk in _counted(head, rest, stats):
        data = chunk
        while data:
            if inflater.eof:
                data = _next_member(data, stats)
                if not data:
                    break
                inflater = _zlib.decompressobj(_GZIP_WBITS)
            try:
                out: bytes = inflater.decompress(data, OUT_CHUNK)
            except _ZLIB_ERROR as exc:
                raise DecompressError(
                    f"the gzip stream is corrupt within its first {stats.compressed} compressed bytes: {exc} "
                    f"({stats.decompressed} bytes inflated before it were processed)"
                ) from None
            if out:
                stats.decompressed += len(out)
                yield out
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    if not inflater.eof:
        raise DecompressError(
            f"the gzip stream is truncated: it ends inside a member after {stats.compressed} compressed bytes "
            f"({stats.decompressed} bytes inflated before it were processed)"
        )


def _counted(head: bytes, rest: Iterator[bytes], stats: DecompressStats) -> Iterator[bytes]:
    yield head
    for chunk in rest:
        stats.compressed += len(chunk)
        yield chunk


def _next_member(data: bytes, stats: DecompressStats) -> bytes:
    """What follows a finished member: another member, zero padding (ignored, as gzip(1) does), or garbage."""
    if not data.strip(b"\0"):
        return b""
    if not GZIP_MAGIC.startswith(data[:2]):
        raise DecompressError(
            f"unexpected bytes after the end of a gzip member (within the first {stats.compressed} compressed bytes)"
        )
    return data
