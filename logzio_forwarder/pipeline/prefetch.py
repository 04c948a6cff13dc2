"""Overlap: run the byte-producing stages (download, inflate) in a thread, ahead of decoding.

Socket reads and ISA-L inflate release the GIL, so on two cores they proceed while the decoder parses. The queue
is bounded (``depth`` chunks of at most 1 MiB each), so memory stays flat however large the object.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import cast

_END = object()
_POLL = 0.1
"""How often a producer blocked on a full queue checks whether the consumer has gone away."""


def prefetch(chunks: Iterable[bytes], depth: int = 4) -> Iterator[bytes]:
    """Yield what ``chunks`` yields, produced in a background thread; its exception is re-raised here, in order
    (after every chunk produced before it). Closing this iterator early stops the producer."""
    slots: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if not _put(slots, chunk, stop):
                    return
            _put(slots, _END, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(slots, exc, stop)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None and stop.is_set():
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(bytes, item)  # only bytes, _END and exceptions are ever put
    finally:
        stop.set()
        worker.join()


def _put(slots: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put unless the consumer stopped; False when it did."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=_POLL)
        except queue.Full:
            continue
        return True
    return False
