"""Stage 2 — decompress: gzip (one or many members) or plain bytes, streamed, failing loudly after the good part."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from logzio_forwarder.errors import DecompressError
from logzio_forwarder.pipeline.decompress import OUT_CHUNK, DecompressStats, decompress
from tests.support import chunked


def payload(size: int, seed: int = 1) -> bytes:
    """JSON-ish text that compresses like audit logs (repetitive, with some noise)."""
    rng = random.Random(seed)
    lines = []
    total = 0
    n = 0
    while total < size:
        line = f'{{"id":"{n}","noise":"{rng.getrandbits(64):x}","type":"com.oraclecloud.ComputeApi.Get"}}\n'
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines).encode()[:size]


def inflate(chunks: list[bytes], stats: DecompressStats | None = None) -> bytes:
    return b"".join(decompress(chunks, stats))


def inflate_until_error(chunks: list[bytes]) -> tuple[bytes, DecompressError]:
    """What was yielded before the error, and the error."""
    out = bytearray()

    def drain() -> None:
        for piece in decompress(chunks):
            out.extend(piece)

    with pytest.raises(DecompressError) as caught:
        drain()
    return bytes(out), caught.value


DATA = payload(200_000)
GZ = gzip.compress(DATA)


def test_plain_bytes_pass_through_unchanged() -> None:
    chunks = chunked(DATA, 4096)
    stats = DecompressStats()
    assert list(decompress(chunks, stats)) == chunks
    assert (stats.gzip, stats.compressed, stats.decompressed) == (False, len(DATA), len(DATA))


@pytest.mark.parametrize("data", [b"", b"\x1f", b"{", b"\x1f{}", b"\x8b\x1f"])
def test_short_or_magic_like_plain_input_passes_through(data: bytes) -> None:
    assert inflate(chunked(data, 1)) == data


def test_gzip_is_inflated_and_counted() -> None:
    stats = DecompressStats()
    assert inflate([GZ], stats) == DATA
    assert (stats.gzip, stats.compressed, stats.decompressed) == (True, len(GZ), len(DATA))


def test_gzip_is_recognised_by_content_not_by_name_or_level() -> None:
    for level in (1, 6, 9):
        assert inflate([gzip.compress(DATA, compresslevel=level)]) == DATA


def test_concatenated_members_are_all_inflated() -> None:
    parts = [payload(30_000, seed) for seed in range(4)] + [b""]
    blob = b"".join(gzip.compress(p) for p in parts)
    assert inflate(chunked(blob, 10_000)) == b"".join(parts)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096])
def test_chunking_does_not_change_the_output(size: int) -> None:
    blob = gzip.compress(DATA[:20_000]) + gzip.compress(DATA[20_000:40_000]) + b"\0" * 5
    assert inflate(chunked(blob, size)) == DATA[:40_000]


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_gzip_raises_after_yielding_everything_before_the_damage(fraction: float) -> None:
    cut = GZ[: int(len(GZ) * fraction)]
    good, error = inflate_until_error(chunked(cut, 1000))
    assert "truncated" in str(error)
    assert len(good) > 0
    assert good == DATA[: len(good)]
    # everything zlib itself can inflate from the damaged stream reached the caller before the error
    assert good == zlib.decompressobj(31).decompress(cut)


def test_truncated_inside_the_trailer_still_yields_all_data() -> None:
    good, error = inflate_until_error([GZ[:-4]])
    assert good == DATA
    assert "truncated" in str(error)


def test_only_a_header_is_truncated() -> None:
    good, error = inflate_until_error([GZ[:10]])
    assert good == b""
    assert "truncated" in str(error)


def test_truncated_second_member() -> None:
    first = gzip.compress(b"first member\n")
    good, error = inflate_until_error([first + GZ[:5]])
    assert good == b"first member\n"
    assert "truncated" in str(error)


def test_corrupt_deflate_data_raises() -> None:
    damaged = bytearray(GZ)
    for i in range(40, 80):
        damaged[i] ^= 0x5A
    _, error = inflate_until_error([bytes(damaged)])
    assert "corrupt" in str(error)


def test_checksum_mismatch_raises() -> None:
    damaged = bytearray(GZ)
    damaged[-8] ^= 0xFF  # CRC32 in the trailer
    _, error = inflate_until_error([bytes(damaged)])
    assert "corrupt" in str(error)


def test_bad_header_after_magic_raises() -> None:
    _, error = inflate_until_error([b"\x1f\x8b\xff\xff garbage that is not a gzip header"])
    assert "corrupt" in str(error)


@pytest.mark.parametrize("size", [1, 3, len(GZ) + 512])
def test_trailing_zero_padding_is_ignored(size: int) -> None:
    assert inflate(chunked(GZ + b"\0" * 512, size)) == DATA


@pytest.mark.parametrize("garbage", [b"garbage", b"\0\0\0x", b"\x1f\x00", b"PK\x03\x04"])
def test_garbage_after_a_member_raises_after_the_member(garbage: bytes) -> None:
    good, error = inflate_until_error([GZ + garbage])
    assert good == DATA
    assert "after the end of a gzip member" in str(error)


def test_highly_compressible_member_is_yielded_in_bounded_pieces() -> None:
    zeros = bytes(12 * OUT_CHUNK + 17)
    blob = gzip.compress(zeros, compresslevel=9)
    assert len(blob) < 50_000
    for chunks in ([blob], chunked(blob, 4096)):
        pieces = list(decompress(chunks))
        assert max(len(p) for p in pieces) <= OUT_CHUNK
        assert b"".join(pieces) == zeros
