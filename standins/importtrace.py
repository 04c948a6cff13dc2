"""Run a Python script and write down every module it imports, with the file it came from.

``python importtrace.py OUT_DIR SCRIPT ARGS...`` runs SCRIPT as ``__main__`` (as ``python SCRIPT ARGS...`` would)
after putting a finder at the head of ``sys.meta_path`` that, for every module found, appends one line
``<module>\\t<origin>`` to ``OUT_DIR/imports-<pid>.txt`` at once. Written as they happen, not at exit, so a child
killed mid-invocation (as the lease tests do) still leaves its trace. A lazy import (``importlib.import_module``,
the oci SDK's ``__getattr__`` for services, an import inside a function) goes through the same finders, so it is
seen too.

The fdk harness (:class:`standins.fdkserver.FdkServer`) runs its child through this when ``FDK_IMPORT_TRACE`` is
set; ``deploy/image_tree.py trace`` gathers the files into the trace that decides what the image keeps. Only the
standard library is imported here, and only before the finder is installed.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import IO


class _Recorder(MetaPathFinder):
    """Asks the finders behind it, writes down what they found, and hands their answer on unchanged."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is not None:
                with self._lock:
                    self._out.write(f"{fullname}\t{spec.origin or ''}\n")
                    self._out.flush()
                return spec
        return None


def main(argv: list[str]) -> None:
    out_dir, script, *args = argv
    out = open(os.path.join(out_dir, f"imports-{os.getpid()}.txt"), "a", encoding="utf-8")  # noqa: SIM115
    sys.meta_path.insert(0, _Recorder(out))
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as ``python SCRIPT`` sets it, not this file's dir
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
