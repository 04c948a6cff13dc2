"""The seed PoC's transform, reimplemented faithfully on a local file: the baseline every runner is compared with.

``python -m bench.baseline SRC [-o OUT | --discard]``

Step for step what the seed's ``func.py`` did with the object (see ``/work/shared/seed``): hold the whole gzip
object in memory, ``gzip.GzipFile(...).read()`` all of it, decode UTF-8, wrap in ``[ ]``, rewrite ``\\n`` to
``\\n,`` and ``}{`` to ``},{``, ``json.loads`` the lot, then build the body with
``logzio_string += json.dumps(record) + '\\n'`` per record. Only two things differ:

* The trailing newline every object ends with is stripped first. The seed would turn it into ``\\n,]`` and crash
  on every real object; a baseline that always crashes measures nothing.
* The body is written to ``OUT`` (stdout by default) instead of being POSTed. Like ``requests`` with a ``str`` body,
  the string is encoded before it is written.

It still breaks exactly where the seed breaks: a record spread over several lines gets a comma after every line
(``JSONDecodeError``). Run it on a ``--layout poc-safe`` object (see ``bench.generate``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys


def transform(compressed: bytes) -> str:
    """The seed's transform: gzip object bytes in, the Logz.io bulk body (one ``json.dumps`` per line) out."""
    audit_bytesio = io.BytesIO(compressed)
    z = gzip.GzipFile(fileobj=audit_bytesio, mode="rb")
    audit_data_text = z.read()
    z.close()
    # The one fix: without it '...}\n' + ']' becomes '...}\n,]' and json.loads fails on every object.
    data_string = "[" + audit_data_text.decode("utf-8").rstrip("\n") + "]"
    data_string = data_string.replace("\n", "\n,")
    data_string = data_string.replace("}{", "},{")
    json_string = json.loads(data_string)
    logzio_string = ""
    for record in json_string:
        logzio_string += json.dumps(record) + "\n"
    return logzio_string


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="a gzip'd audit object (poc-safe layout)")
    p.add_argument("-o", "--output", help="write the body here (default: stdout)")
    p.add_argument("--discard", action="store_true", help="build the body but do not write it")
    args = p.parse_args(argv)
    with open(args.src, "rb") as f:
        content = f.read()  # the seed: audit_data.data.content -- the whole object in memory
    logzio_string = transform(content)
    if args.discard:
        return 0
    body = logzio_string.encode("utf-8")
    if args.output:
        with open(args.output, "wb") as out:
            out.write(body)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
