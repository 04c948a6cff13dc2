"""Where the command line writes: result lines on stdout, messages on stderr, and a progress bar that never runs
into either.

The bar is drawn only when stderr is a terminal, as one line at the bottom of stderr, redrawn in place (``\\r``).
Every other line is written above it: the bar is wiped first and drawn again after, so on a terminal that shows
stdout and stderr together a result line is never split by the bar. It moves with the bytes read (the download
thread reports each chunk), not only when an object is finished.

No third-party bar (tqdm, rich): the package is also the function's image, where a CLI-only dependency would be
shipped and never used, and what is needed here is a few lines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TextIO

from .pipeline.source import ObjectSource, OpenedObject

_WIPE = "\r\x1b[K"
"""Back to the start of the line and clear it (ECMA-48 EL), what every terminal emulator understands."""
_CELLS = 24
_MB = 1e6


class Terminal:
    """stdout and stderr of one command, with an optional progress bar over objects and bytes. Thread-safe."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out, self._err = out, err
        self._lock = threading.RLock()
        self._tty = err.isatty()
        self._shown = False
        self._objects = self._done_objects = 0
        self._size: int | None = None
        self._done_bytes = self._current = 0
        """Bytes of the finished objects (their listed sizes), and bytes read of the current one."""

    # ----- lines ----------------------------------------------------------------------------------------------

    def out(self, line: str) -> None:
        """A result line on stdout, above the bar."""
        self._line(self._out, line)

    def err(self, line: str) -> None:
        """A message line on stderr, above the bar."""
        self._line(self._err, line)

    def _line(self, stream: TextIO, line: str) -> None:
        with self._lock:
            self._wipe()
            print(line, file=stream, flush=True)
            self._draw()

    # ----- the bar --------------------------------------------------------------------------------------------

    def begin(self, objects: int, size: int | None) -> None:
        """Show the bar (on a terminal) for ``objects`` objects of ``size`` bytes in all (None: not known)."""
        with self._lock:
            self._objects, self._size = objects, size
            self._shown = self._tty
            self._draw()

    def read(self, n: int) -> None:
        """``n`` more bytes of the current object were read (called from the download thread)."""
        with self._lock:
            self._current += n
            self._draw()

    def finished(self, size: int | None) -> None:
        """The current object is done (forwarded, skipped or failed): it counts with its whole ``size``."""
        with self._lock:
            self._done_objects += 1
            self._done_bytes += size if size is not None else self._current
            self._current = 0
            self._draw()

    def close(self) -> None:
        """Leave the bar as it last was and end its line, so what follows starts on a line of its own."""
        with self._lock:
            if self._shown:
                self._shown = False
                print(file=self._err, flush=True)

    def counted(self, source: ObjectSource) -> ObjectSource:
        """``source`` with every chunk read reported to the bar."""
        return _Counted(source, self)

    def _wipe(self) -> None:
        if self._shown:
            self._err.write(_WIPE)

    def _draw(self) -> None:
        if not self._shown:
            return
        self._err.write("\r" + self._text()[: _columns(self._err) - 1] + "\x1b[K")
        self._err.flush()

    def _text(self) -> str:
        done = self._done_bytes + self._current
        objects = f"{self._done_objects}/{self._objects} object{'s' if self._objects != 1 else ''}"
        if not self._size:
            return f"{done / _MB:.1f} MB read, {objects}"
        share = min(done / self._size, 1.0)
        bar = "#" * int(share * _CELLS)
        return f"[{bar:<{_CELLS}}] {share:4.0%}  {done / _MB:.1f}/{self._size / _MB:.1f} MB, {objects}"


def _columns(stream: TextIO) -> int:
    """The terminal's width: a bar longer than the line would wrap, and ``\\r`` would then redraw only its tail."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError):
        return 80


class _Counted:
    """An :class:`ObjectSource` whose objects report each chunk to a :class:`Terminal` as it is read."""

    def __init__(self, source: ObjectSource, terminal: Terminal) -> None:
        self._source, self._terminal = source, terminal

    def open(self, name: str) -> OpenedObject:
        opened = self._source.open(name)
        return replace(opened, chunks=self._count(opened.chunks))

    def _count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            for chunk in chunks:
                self._terminal.read(len(chunk))
                yield chunk
        finally:  # closing this stream closes the download under it
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
