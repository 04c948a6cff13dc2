"""A loopback Logz.io bulk listener that keeps the documented contract, so shipping code is tested against it.

Contract (docs.logz.io "Shipping with HTTP"): ``POST /?token=T&type=X`` (any path) with
newline-separated JSON objects, optionally ``Content-Encoding: gzip``. Missing token → 401 "Logging token is
missing"; wrong token → 401 "Logging token is not valid"; body over 10,485,760 bytes (uncompressed) → 413; any
empty, oversized (> 500,000 bytes) or non-object line → 400 with the counts document, the good lines still being
accepted; otherwise 200 with an empty body. The answer texts are read from ``tests/fixtures/listener/`` so the
stand-in and the tests share one copy.

Each accepted line is filed as Logz.io files it (docs.logz.io "Shipping with HTTP", limitations; "Understanding
invalid log errors"): under its own top-level ``type`` when it has one (it overrides the request's ``type``), and
as ``logzio-invalid-log`` when it breaks one of the indexing rules: at most 500,000 characters, a field name or
value of at most 32,700 characters, at most 10 nesting levels (objects and arrays, the top object level 1), at most
1,000 fields (distinct key paths, arrays transparent), ``@timestamp`` present, no ``.`` in a field name. Such a line
is still answered 200, as Logz.io does; :attr:`Accepted.invalid` names the rules it broke by Logz.io's tags.

The limits are this module's own constants on purpose: sharing them with the code under test would let a wrong
constant pass its own tests.

Failure injection: :meth:`LogzioListenerStandin.script` queues answers consulted before normal processing — an
int status, ``"drop"`` (close without answering), ``"slow:<seconds>"`` (process normally after a delay), or an
:class:`Answer`; :meth:`fail_always` / :meth:`heal`; :meth:`fail_after`; :meth:`hold_after` / :meth:`release` keep
requests in flight (for killing the sender mid-batch), and :meth:`wait_for` blocks until requests arrived.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from csimdjson import Object as SimdObject
from csimdjson import Parser as SimdParser
from isal import isal_zlib

from . import LoopbackServer, OwnedHandler

__all__ = [
    "FIXTURES",
    "MAX_BODY_BYTES",
    "MAX_LINE_BYTES",
    "Accepted",
    "Answer",
    "ListenerRequest",
    "LogzioListenerStandin",
    "ScriptItem",
]

MAX_BODY_BYTES = 10_485_760
MAX_LINE_BYTES = 500_000
DEFAULT_TYPE = "http-bulk"
INVALID_TYPE = "logzio-invalid-log"
MAX_LINE_CHARS = 500_000
MAX_FIELD_CHARS = 32_700
MAX_DEPTH = 10
MAX_FIELDS = 1_000
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "listener"
"""Where the documented answer texts live (shared with the unit tests)."""


def _fixture(name: str, fallback: str) -> str:
    """A documented answer text; the fallback keeps the stand-in usable outside a source checkout."""
    path = FIXTURES / name
    return path.read_text().strip() if path.exists() else fallback


TOKEN_MISSING = _fixture("401-token-missing.txt", "Logging token is missing")
TOKEN_INVALID = _fixture("401-token-invalid.txt", "Logging token is not valid")
COUNT_KEYS: tuple[str, ...] = tuple(
    json.loads(
        _fixture("400-bad-lines.json", '{"malformedLines":0,"successfulLines":0,"oversizedLines":0,"emptyLogLines":0}')
    )
)
"""Keys of the 400 counts document, in the listener's order."""


@dataclass(frozen=True)
class Answer:
    """A scripted answer. ``status=None`` means "process normally" (after ``delay_s``)."""

    status: int | None = None
    body: bytes = b""
    retry_after: int | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    """Read the request, then close the connection without answering."""

    @property
    def label(self) -> str:
        """How the request log names this answer."""
        if self.drop:
            return "drop"
        if self.status is None:
            return f"slow:{self.delay_s:g}" if self.delay_s else "normal"
        return f"scripted:{self.status}"


ScriptItem = int | str | Answer
"""``503``, ``"drop"``, ``"slow:2.5"`` or an :class:`Answer`."""


def _as_answer(item: ScriptItem) -> Answer:
    """Normalise a script item; bad items fail at :meth:`script` time, not inside the server thread."""
    if isinstance(item, Answer):
        return item
    if isinstance(item, int):
        return Answer(status=item)
    if item == "drop":
        return Answer(drop=True)
    if item.startswith("slow:"):
        return Answer(delay_s=float(item.removeprefix("slow:")))
    raise ValueError(f"script item {item!r} is not a status, 'drop', 'slow:<seconds>' or an Answer")


@dataclass(frozen=True)
class Accepted:
    """One log line the listener accepted, and how Logz.io would file it."""

    type: str
    """The line's own top-level ``type``, else the request's; ``logzio-invalid-log`` if it breaks a rule."""
    record: dict[str, Any]
    raw: bytes
    invalid: tuple[str, ...] = ()
    """The indexing rules the line breaks, by Logz.io's tags (empty: indexed as it is)."""


@dataclass(frozen=True)
class ListenerRequest:
    """One request as the listener saw it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Request headers, names lower-cased."""
    status: int | None
    """The status answered; ``None`` when the connection was dropped."""
    compressed_size: int
    """Body bytes on the wire."""
    uncompressed_size: int | None
    """Body bytes after gunzip (``None`` if it would not decompress; capped at ``max_body + 1``)."""
    answer: str
    """``normal``, ``slow:<s>``, ``drop``, ``scripted:<status>``, ``fail-always``, ``fail-after``."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """The per-line counts (``successfulLines``...) of a normally processed request."""

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def content_encoding(self) -> str | None:
        return self.headers.get("content-encoding")

    @property
    def token(self) -> str | None:
        """The token the request carried (tests assert it never appears anywhere else)."""
        return self.query.get("token")


def _gunzip(body: bytes, limit: int) -> bytes | None:
    """Decompress every gzip member, stopping just past ``limit`` so a bomb cannot exhaust memory."""
    out = bytearray()
    data = body
    while data:
        inflater = isal_zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except isal_zlib.error:  # type: ignore[misc]  # the stub types it as an instance
            return None
        if len(out) > limit:
            return bytes(out)
        if not inflater.eof:
            return None
        data = inflater.unused_data
    return bytes(out)


def _split_lines(body: bytes) -> list[bytes]:
    """Lines of an NDJSON body; the newline ending the last line does not make one more (empty) line."""
    lines = body.split(b"\n")
    if len(lines) > 1 and lines[-1] == b"":
        lines.pop()
    return lines


_DIGIT_MAP = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_LONG_DIGIT_RUN = b"1" * 19


def _classify(line: bytes, max_line: int, validator: Any) -> str:
    """Which counter a line lands in. ``validator`` (simdjson) checks it strictly without building objects, so the
    stand-in takes little CPU from the function it measures; integers beyond 64 bits are valid JSON too."""
    if not line.strip():
        return "emptyLogLines"
    if len(line) > max_line:
        return "oversizedLines"
    try:
        doc = validator.parse(line)
    except RuntimeError:  # BIGINT_ERROR: valid JSON that simdjson cannot hold
        return "successfulLines" if line.lstrip().startswith(b"{") and _parses(line) else "malformedLines"
    except ValueError:
        return "malformedLines"
    is_object = isinstance(doc, SimdObject)
    del doc  # a parser holds one document at a time
    return "successfulLines" if is_object else "malformedLines"


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def invalid_because(record: dict[str, Any], line: bytes) -> tuple[str, ...]:
    """The indexing rules a line breaks, by the tags Logz.io puts on an invalid log."""
    broken: list[str] = []
    if len(line.decode("utf-8", "replace")) > MAX_LINE_CHARS:
        broken.append("MAX_LOG_LINE_LENGTH")
    if "@timestamp" not in record:
        broken.append("FIELDS_MISSING")
    paths: set[tuple[str, ...]] = set()
    deepest = 0
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(record, 1, ())]
    while stack:
        value, level, path = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, level)
            for key, child in value.items():
                paths.add((*path, key))
                if "." in key and "ARRAY_INDEX_OUT_OF_BOUNDS_EXCEPTION" not in broken:
                    broken.append("ARRAY_INDEX_OUT_OF_BOUNDS_EXCEPTION")
                if len(key) > MAX_FIELD_CHARS and "MAX_FIELD_KEY_SIZE" not in broken:
                    broken.append("MAX_FIELD_KEY_SIZE")
                stack.append((child, level + 1, (*path, key)))
        elif isinstance(value, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1, path) for child in value)
        elif isinstance(value, str) and len(value) > MAX_FIELD_CHARS and "INVALID_FIELD_VALUE_LENGTH" not in broken:
            broken.append("INVALID_FIELD_VALUE_LENGTH")
    if deepest > MAX_DEPTH:
        broken.append("MAX_JSON_DEPTH")
    if len(paths) > MAX_FIELDS:
        broken.append("MAX_FIELDS_NUMBER")
    return tuple(broken)


def filed_as(record: dict[str, Any], request_type: str, invalid: tuple[str, ...]) -> str:
    """The type Logz.io files a line under."""
    if invalid:
        return INVALID_TYPE
    own = record.get("type")
    return request_type if own is None else str(own)


def _record(line: bytes) -> dict[str, Any]:
    """An accepted line as a dict, integers exact (orjson would turn those beyond 64 bits into floats)."""
    if _LONG_DIGIT_RUN in line.translate(_DIGIT_MAP):
        value: dict[str, Any] = json.loads(line)
        return value
    parsed: dict[str, Any] = orjson.loads(line)
    return parsed


class _Handler(OwnedHandler["LogzioListenerStandin"]):
    """Reads the whole request first (so the connection stays in step), then lets the stand-in decide."""

    def do_POST(self) -> None:
        self.owner.serve(self)

    def do_GET(self) -> None:
        self.read_body()
        self.send_bytes(405, b"", {"Allow": "POST"})

    do_PUT = do_GET


class LogzioListenerStandin(LoopbackServer):
    """The bulk listener on loopback. ``url`` is what ``logzio-url`` should be set to."""

    handler_class = _Handler

    def __init__(
        self,
        token: str,
        *,
        max_body: int = MAX_BODY_BYTES,
        max_line: int = MAX_LINE_BYTES,
        keep_records: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.max_body = max_body
        self.max_line = max_line
        self.keep_records = keep_records
        """Benchmarks may turn this off: counts are still kept, records and raw lines are not."""
        self._lock = threading.Lock()
        self._script: deque[Answer] = deque()
        self._always: Answer | None = None
        self._after: tuple[int, Answer] | None = None
        self._requests: list[ListenerRequest] = []
        self._accepted: list[Accepted] = []
        self._accepted_count = 0
        self._generation = 0
        self._interrupt = threading.Event()
        """Set by :meth:`reset`/:meth:`stop` to cut slow answers short (a fresh one replaces it on reset)."""
        self._changed = threading.Condition(self._lock)
        """Notified whenever a request arrives or is recorded (for :meth:`wait_for`)."""
        self._arrived = 0
        self._hold_after: int | None = None
        self._gate = threading.Event()
        self._gate.set()

    # ----- failure injection ----------------------------------------------------------------------------------

    def script(self, *answers: ScriptItem) -> None:
        """Queue answers for the next requests, first in first out, e.g. ``script(503, 429, "drop")``."""
        parsed = [_as_answer(a) for a in answers]
        with self._lock:
            self._script.extend(parsed)

    def fail_always(self, status: int, *, retry_after: int | str | None = None, body: bytes = b"") -> None:
        """Answer every request with ``status`` (after any script) until :meth:`heal`."""
        with self._lock:
            self._always = Answer(status=status, retry_after=retry_after, body=body)

    def fail_after(self, n_requests: int, status: int) -> None:
        """Process the next ``n_requests`` normally, then answer every later one with ``status``."""
        with self._lock:
            self._after = (n_requests, Answer(status=status))

    def hold_after(self, n_requests: int) -> None:
        """Answer the next ``n_requests`` as usual, then hold every later one unanswered (its body received: a
        batch in flight) until :meth:`release`, which lets the held ones through to normal processing."""
        with self._lock:
            self._hold_after = self._arrived + n_requests
            self._gate.clear()

    def release(self) -> None:
        """Let held requests (and every later one) through."""
        with self._lock:
            self._hold_after = None
        self._gate.set()

    def wait_for(self, *, arrived: int = 0, recorded: int = 0, timeout_s: float = 30.0) -> None:
        """Block until at least ``arrived`` requests came in (bodies read) and ``recorded`` were answered and
        recorded; raises ``TimeoutError`` naming the counts otherwise."""
        with self._changed:
            ok = self._changed.wait_for(lambda: self._arrived >= arrived and len(self._requests) >= recorded, timeout_s)
            if not ok:
                raise TimeoutError(
                    f"listener: {self._arrived} requests arrived (wanted {arrived}), "
                    f"{len(self._requests)} recorded (wanted {recorded})"
                )

    def heal(self) -> None:
        """Drop the script and every standing failure."""
        with self._lock:
            self._script.clear()
            self._always = None
            self._after = None

    def reset(self) -> None:
        """:meth:`heal` and forget every request and record; requests still in a slow answer are dropped unrecorded,
        so they cannot leak into the next test."""
        self.heal()
        with self._lock:
            self._requests.clear()
            self._accepted.clear()
            self._accepted_count = 0
            self._arrived = 0
            self._generation += 1
            interrupt, self._interrupt = self._interrupt, threading.Event()
        interrupt.set()
        self.release()

    def stop(self) -> None:
        """Cut slow answers short, then stop serving."""
        self._interrupt.set()
        self._gate.set()
        super().stop()
        self._interrupt = threading.Event()

    # ----- what tests read ------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ListenerRequest]:
        """Every request, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[Accepted]:
        """Every accepted line with its ``type``, in arrival order (a copy)."""
        with self._lock:
            return list(self._accepted)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The accepted records, in arrival order."""
        return [a.record for a in self.accepted]

    @property
    def lines(self) -> list[bytes]:
        """The accepted raw lines, in arrival order."""
        return [a.raw for a in self.accepted]

    @property
    def arrived(self) -> int:
        """How many requests came in (bodies read), answered or not."""
        with self._lock:
            return self._arrived

    @property
    def accepted_count(self) -> int:
        """How many lines were accepted (kept even when ``keep_records`` is off)."""
        with self._lock:
            return self._accepted_count

    # ----- request processing (server threads) ----------------------------------------------------------------

    def _next_override(self) -> tuple[Answer | None, str]:
        """The answer that pre-empts normal processing, if any: script, then fail_always, then fail_after."""
        with self._lock:
            if self._script:
                answer = self._script.popleft()
                return answer, answer.label
            if self._always is not None:
                return self._always, "fail-always"
            if self._after is not None:
                remaining, answer = self._after
                if remaining <= 0:
                    return answer, "fail-after"
                self._after = (remaining - 1, answer)
        return None, "normal"

    def serve(self, handler: OwnedHandler[LogzioListenerStandin]) -> None:
        """Answer one POST: scripted override or the documented contract; record it either way."""
        body = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query, keep_blank_values=True).items()}
        gzipped = "gzip" in headers.get("content-encoding", "").lower()
        plain = _gunzip(body, self.max_body) if gzipped else body
        with self._changed:
            generation, interrupt = self._generation, self._interrupt
            self._arrived += 1
            held = self._hold_after is not None and self._arrived > self._hold_after
            self._changed.notify_all()
        if held and not self._wait_released(interrupt):
            handler.close_connection = True  # reset or stopping while held
            return
        answer, label = self._next_override()
        if answer is not None and answer.delay_s and interrupt.wait(answer.delay_s):
            handler.close_connection = True  # reset or stopping: do not hold them up, and do not record
            return

        def record(status: int | None, counts: Mapping[str, int] | None = None) -> None:
            size = len(plain) if plain is not None else None
            seen = ListenerRequest(
                handler.command, handler.path, query, headers, status, len(body), size, label, dict(counts or {})
            )
            with self._changed:
                if generation == self._generation:
                    self._requests.append(seen)
                self._changed.notify_all()

        if answer is not None and answer.drop:
            handler.close_connection = True
            record(None)
            return
        if answer is not None and answer.status is not None:
            extra = dict(answer.headers)
            if answer.retry_after is not None:
                extra["Retry-After"] = str(answer.retry_after)
            record(answer.status)
            handler.send_bytes(answer.status, answer.body, extra)
            return
        status, reply, counts = self._process(plain, query)
        record(status, counts)
        handler.send_bytes(status, reply, {"Content-Type": "application/json"} if status == 400 else {})

    def _wait_released(self, interrupt: threading.Event) -> bool:
        """Wait at the gate; False when a reset or stop came first."""
        while not self._gate.wait(0.05):
            if interrupt.is_set():
                return False
        return not interrupt.is_set()

    def _process(self, body: bytes | None, query: Mapping[str, str]) -> tuple[int, bytes, dict[str, int]]:
        """The documented contract: token, then size, then per-line checks. Returns status, body and counts."""
        if not query.get("token"):
            return 401, TOKEN_MISSING.encode(), {}
        if query["token"] != self.token:
            return 401, TOKEN_INVALID.encode(), {}
        if body is None:
            return 400, b"Malformed gzip body", {}
        if len(body) > self.max_body:
            return 413, b"", {}
        counts = self._accept(body, query.get("type") or DEFAULT_TYPE)
        if counts["successfulLines"] == sum(counts.values()):
            return 200, b"", counts
        return 400, json.dumps({k: counts[k] for k in COUNT_KEYS}).encode(), counts

    def _accept(self, body: bytes, log_type: str) -> dict[str, int]:
        """Classify every line, keep the good ones in order, and count all of them."""
        counts = dict.fromkeys(COUNT_KEYS, 0)
        good: list[Accepted] = []
        validator = SimdParser()
        for line in _split_lines(body):
            kind = _classify(line, self.max_line, validator)
            counts[kind] += 1
            if kind == "successfulLines" and self.keep_records:
                record = _record(line)
                invalid = invalid_because(record, line)
                good.append(Accepted(filed_as(record, log_type, invalid), record, line, invalid))
        with self._lock:
            self._accepted.extend(good)
            self._accepted_count += counts["successfulLines"]
        return counts
