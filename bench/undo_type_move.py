"""Undo what shaping adds to a line that breaks no rule, so ``convert``'s output can be compared byte for byte with
the output of a version before the type move (issue 14): ``eventType`` back to ``type`` where it stands, and a
``forwarder`` object holding only a Logging entry's ``datetime`` dropped.

    python -m logzio_forwarder convert OBJECT | python -m bench.undo_type_move | sha256sum

Works on the raw bytes (the hot path writes ``…,"eventType":"<value>"}`` at the end of the line); a line it cannot
read that way is parsed and re-serialised, and counted on stderr, since its bytes may then differ for that reason.
"""

from __future__ import annotations

import re
import sys

import orjson

_TAIL = re.compile(rb',"forwarder":\{"datetime":-?[0-9]+\}\}$')
_TYPE = b',"eventType":"'


def undo(line: bytes) -> tuple[bytes, bool]:
    """The line as it was before the type move; and whether the bytes could be read without parsing."""
    tail = _TAIL.search(line)
    if tail is not None:
        line = line[: tail.start()] + b"}"
    cut = line.rfind(_TYPE)
    value = line[cut + len(_TYPE) : -2]
    if cut > 0 and line.endswith(b'"}') and b'"' not in value and b"\\" not in value:
        return line[:cut] + b',"type":' + line[cut + len(_TYPE) - 1 :], True
    parsed = orjson.loads(line)
    return orjson.dumps({("type" if k == "eventType" else k): v for k, v in parsed.items()}), False


def main() -> int:
    parsed = 0
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        undone, raw = undo(line.rstrip(b"\n"))
        parsed += not raw
        out.write(undone + b"\n")
    print(f"{parsed} lines were parsed to undo the move", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
