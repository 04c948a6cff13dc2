"""Coverage-guided fuzzing of the decoder with atheris: ``make fuzz`` (``FUZZ_SECONDS``, default 300).

``python -m tests.fuzz_decode [libFuzzer options] [corpus dir]``. Each input's first byte picks how the rest is cut
into chunks and the ``max_record_bytes`` of a third run; the rest is the object. For every input:

* decoding never raises, and what comes out loses nothing and makes nothing up (``check_items``);
* the items do not depend on the chunking;
* without the side budget (which only lines with thousands of ``}{`` reach): resuming after any item yields
  exactly the items after it, and up to 4 KiB the items are the rule's, written naively
  (``decode_reference.reference``);
* with a small ``max_record_bytes`` (limits change where fragments are cut) it still holds to ``check_items``.

A failed check raises, and libFuzzer saves the input as ``crash-*`` in the working directory.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

ORACLE_LIMIT = 4096
"""The reference is quadratic: compare with it on inputs up to this size."""


def check(blob: bytes) -> None:
    """Everything the decoder promises, for one fuzzer input."""
    from logzio_forwarder.pipeline import decode as module
    from tests.decode_reference import as_expected, check_items, reference
    from tests.support import chunked

    if not blob:
        return
    seed, data = blob[0], blob[1:]
    whole = list(module.decode([data]))
    check_items(data, whole)
    assert list(module.decode(chunked(data, 1 + seed % 97))) == whole
    check_items(data, list(_limited(module, data, 16 + seed * 16)))
    budget, module.SIDE_BUDGET = module.SIDE_BUDGET, 10**9
    try:
        whole = list(module.decode([data]))
        for index in range(0, len(whole), max(1, len(whole) // 4)):
            assert list(module.decode(chunked(data, 1 + seed % 97), skip=whole[index].end)) == whole[index + 1 :]
        if len(data) <= ORACLE_LIMIT:
            assert as_expected(data, whole) == reference(data)
    finally:
        module.SIDE_BUDGET = budget


def _limited(module: Any, data: bytes, limit: int) -> Iterator[Any]:
    from tests.support import chunked

    decoder = module.Decoder(max_record_bytes=limit)
    for chunk in chunked(data, 1 + limit % 97):
        yield from decoder.feed(chunk)
    yield from decoder.finish()


def main() -> None:
    atheris: Any = importlib.import_module("atheris")
    with atheris.instrument_imports():
        importlib.import_module("logzio_forwarder.pipeline.decode")
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
