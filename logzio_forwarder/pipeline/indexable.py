"""What Logz.io indexes: its invalid-log rules, a screen on a line's raw bytes, and the smallest change that makes a
record obey them (beside stage 4, shape, which uses it).

Logz.io takes every line the listener accepts (HTTP 200), but files a line that breaks one of these rules as
``logzio-invalid-log``, flattened and tagged, out of the user's searches and rules (Logz.io docs, "Understanding
invalid log errors"): a line of at most 500,000 characters; a field name or value of at most 32,700 characters; at
most 10 nesting levels; at most 1,000 fields; ``@timestamp`` present; no ``.`` in a field name. How Logz.io counts
levels and fields is not documented, so both are counted conservatively: objects and arrays are levels (the top
object is level 1), and fields are distinct key paths with arrays transparent, object-valued keys included.

A record that breaks a rule is changed as little as possible, and every value stays recoverable:

* a name with a ``.`` gets ``_`` instead (``cost.center`` → ``cost_center``; a name already taken gets ``_1``,
  ``_2``…: never a silent overwrite);
* a container nested deeper than the limit is replaced by its compact JSON text, a string that parses back to
  exactly that subtree (the container one level up, when that text would itself be too long to split in place);
* while the record has more than 1,000 fields, the largest subtree that identifies nothing (``stateChange``,
  ``additionalDetails``, request and response headers, parameters, payload…) becomes JSON text; ``id``, ``time``,
  the event type, ``data.eventName``, ``data.identity``, ``data.compartmentName``, ``data.resourceId`` and
  ``data.request.action`` stay where they are;
* a string longer than 32,700 characters is split in place into an array of parts that join back to it (at the
  deepest level, where an array would be one level too many, the container above becomes text instead): nothing is
  cut.

What was done is listed in :class:`Notes`, which shaping puts into the line's ``forwarder`` object (JSON Pointers,
RFC 6901, into the shipped line; at most :data:`LISTED` of them, the rest counted).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_LINE_CHARS = 500_000
MAX_FIELD_CHARS = 32_700
"""Longest field name or value Logz.io indexes (characters)."""
MAX_DEPTH = 10
MAX_FIELDS = 1_000
FORWARDER_FIELDS = 20
"""Fields kept free for ``@timestamp`` and the ``forwarder`` object (region, notes, shortening, fragments): a
reshaped record keeps at most ``MAX_FIELDS - FORWARDER_FIELDS`` of its own."""
LISTED = 20
"""How many paths each note lists at most, so the ``forwarder`` object itself stays well inside the rules."""
POINTER_CHARS = 1_000
"""A listed path longer than this is cut (it names a field whose own name is enormous)."""
SPLIT_CHARS = MAX_FIELD_CHARS
ADDED_FIELDS = 4
"""Fields shaping adds to a record it splices: ``@timestamp``, ``forwarder``, ``forwarder.region`` and, for a
Logging entry's inner record, ``forwarder.datetime``."""

IDENTIFYING = (
    ("id",),
    ("time",),
    ("eventType",),
    ("data", "eventName"),
    ("data", "identity"),
    ("data", "compartmentName"),
    ("data", "resourceId"),
    ("data", "request", "action"),
)
"""Where an audit record keeps what identifies it (``eventType`` is its ``type``, renamed): never moved."""


def _compiled() -> Callable[[bytes, int], int] | None:
    """The screen compiled from ``native/screen.c`` (``deploy/image_tree.py native`` builds it), if it was built."""
    try:
        from ._screen import scan
    except ImportError:  # not built here (no C compiler): python_screen decides
        return None
    return scan


_native_scan = _compiled()
COMPILED = _native_scan is not None
"""Whether the hot path's screen is the compiled one (``make bench`` and the tests say so)."""

_STRUCTURE = b'{}[]".:'
_SKELETON = bytes(b for b in range(256) if b not in _STRUCTURE)
_LEVELS = bytes.maketrans(b"[]", b"{}")
_DOTTED_KEY = re.compile(rb'\.[^"]*":')


SHAPED_NAMES = ("@timestamp", "eventType", "forwarder")
"""Top-level names shaping writes itself (``eventType`` is the record's ``type``, renamed)."""
MAX_KEYS = MAX_FIELDS - ADDED_FIELDS
"""The most member names a record shaping splices may hold (a bound on the fields Logz.io counts)."""
_SHAPED_OR_ESCAPED = (*(b'"%s"' % name.encode() for name in SHAPED_NAMES), b"\\u")
"""What :func:`python_screen` looks for anywhere in a line: a name shaping writes, or a unicode escape (which could
spell one)."""
SHAPED = -2
""":func:`screen`: the record has a top-level name shaping writes (or an escaped top-level name): parse it."""
BREAKS = -1
""":func:`screen`: the record may break one of the rules: parse it."""


def screen(raw: bytes, max_keys: int = MAX_KEYS) -> int:
    """What the hot path needs to know of a record's single-line JSON ``raw`` (valid, one object), decided on the
    bytes without parsing: :data:`SHAPED` when it has a top-level member shaping writes itself (it is parsed, so
    both are kept); :data:`BREAKS` when it may break a rule once shaping adds its fields (:data:`ADDED_FIELDS`);
    otherwise where its ``type`` member starts when that is its last member, a plain string (``raw[n:]`` is
    ``,"type":"…"}``: what shaping renames in place), or 0.

    The screen compiled from ``native/screen.c`` decides it in one pass that skips string contents sixteen bytes at
    a time and allocates nothing; where it was not built (no C compiler), :func:`python_screen` decides, more
    cautiously.
    """
    if _native_scan is not None:
        return _native_scan(raw, max_keys)
    return python_screen(raw, max_keys)


def python_screen(raw: bytes, max_keys: int = MAX_KEYS) -> int:
    """:func:`screen` in Python, and the reference the compiled screen is tested against. It looks for the names
    shaping writes anywhere in the line, not only at its top, and takes any unicode escape for one."""
    if any(raw.find(name) >= 0 for name in _SHAPED_OR_ESCAPED):
        return SHAPED
    if not python_clean(raw, max_keys):
        return BREAKS
    return type_member(raw)


def type_member(raw: bytes) -> int:
    """Where ``,"type":"…"}`` starts when the object's last member is ``type`` with a plain string value (no quote
    or backslash inside), else 0. Then it is the top-level ``type``: the final ``}`` closes the object, and the
    string and key before it can be read backwards unambiguously. Audit records end so (their keys are sorted)."""
    if not raw.endswith(b'"}'):
        return 0
    cut = raw.rfind(b',"type":"')
    if cut < 0 or raw.find(b'"', cut + 9, len(raw) - 2) >= 0 or raw.find(b"\\", cut + 9, len(raw) - 2) >= 0:
        return 0
    return cut


def python_clean(raw: bytes, max_keys: int = MAX_KEYS) -> bool:
    """Whether ``raw`` certainly breaks no rule, decided in Python.

    One pass keeps only the structural characters and the ones the rules care about (``{}[]".:``, escapes removed
    first). On that skeleton a string is a key exactly when ``:`` follows its closing quote, so a ``.`` in a key
    shows as a ``.`` followed by ``":`` with no quote between; and once the strings that hold brackets are dropped,
    removing innermost ``{}`` pairs takes as many rounds as the object has levels. A line of at most
    ``5 * max_keys + 1`` bytes cannot hold more than ``max_keys`` names (each takes at least 5: ``"":0`` and a
    separator), and one under :data:`MAX_FIELD_CHARS` bytes no value or name too long.
    """
    size = len(raw)
    if size > MAX_FIELD_CHARS:
        return False
    if raw.find(b"\\") >= 0:  # escapes: drop them, so that every quote left delimits a string (find, not
        # `in`: bytes.__contains__ first tries the argument as an integer and raises and clears a TypeError)
        raw = _unescaped(raw)
    skeleton = raw.translate(None, _SKELETON)
    return _clean_skeleton(skeleton, max_keys if size > 5 * max_keys + 1 else None)  # None: cannot be too many


def _unescaped(raw: bytes) -> bytes:
    """``raw`` without its escape sequences' backslash and first character (``\\"``, ``\\\\``, ``\\n``, the
    ``u`` of ``\\u00e9``): split at each backslash, a piece after one starts with the escaped character, and an empty
    piece is the first half of an escaped backslash. (Faster here than a regex or ``replace``.)"""
    pieces = raw.split(b"\\")
    kept = [pieces[0]]
    rest = iter(pieces[1:])
    for piece in rest:
        kept.append(piece[1:] if piece else next(rest, b""))
    return b"".join(kept)


@functools.lru_cache(maxsize=4096)
def _clean_skeleton(skeleton: bytes, max_keys: int | None) -> bool:
    """The verdict on a skeleton: remembered, because records of one kind of event share theirs (the benchmark's
    objects: 2,400 skeletons among 16,000 records)."""
    if max_keys is not None and skeleton.count(b'":') > max_keys:
        return False
    if _DOTTED_KEY.search(skeleton):  # a '.' before '":' with no quote between: inside a key (or a false alarm)
        return False
    nesting = skeleton.translate(_LEVELS, b".:").replace(b'""', b"")
    if b'"' in nesting:  # brackets inside strings: keep only those outside (quotes still alternate open, close)
        nesting = b"".join(nesting.split(b'"')[::2])
    for _ in range(MAX_DEPTH):
        nesting = nesting.replace(b"{}", b"")
        if not nesting:
            return True
    return False


def fields_of(node: Any, into: set[tuple[str, ...]] | None = None, prefix: tuple[str, ...] = ()) -> int:
    """How many fields Logz.io counts in ``node``: distinct key paths, arrays transparent."""
    paths: set[tuple[str, ...]] = set() if into is None else into
    stack: list[tuple[Any, tuple[str, ...]]] = [(node, prefix)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                paths.add((*path, key))
                stack.append((child, (*path, key)))
        elif isinstance(value, list):
            stack.extend((child, path) for child in value)
    return len(paths)


def depth_of(node: Any) -> int:
    """Nesting levels of ``node``, objects and arrays alike (a scalar has 0, ``{}`` has 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


def breaks(line: dict[str, Any]) -> list[str]:
    """The rules a parsed line breaks, by Logz.io's tags (empty when it is indexed as it is)."""
    broken = []
    if "@timestamp" not in line:
        broken.append("FIELDS_MISSING")
    if depth_of(line) > MAX_DEPTH:
        broken.append("MAX_JSON_DEPTH")
    if fields_of(line) > MAX_FIELDS:
        broken.append("MAX_FIELDS_NUMBER")
    names, values = _names_and_strings(line)
    if any("." in name for name in names):
        broken.append("ARRAY_INDEX_OUT_OF_BOUNDS_EXCEPTION")
    if any(len(name) > MAX_FIELD_CHARS for name in names):
        broken.append("MAX_FIELD_KEY_SIZE")
    if any(len(value) > MAX_FIELD_CHARS for value in values):
        broken.append("INVALID_FIELD_VALUE_LENGTH")
    return broken


def _names_and_strings(node: Any) -> tuple[list[str], list[str]]:
    names: list[str] = []
    strings: list[str] = []
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            names.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            strings.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            strings.append(_number_text(value))
    return names, strings


def _number_text(value: int | float) -> str:
    try:
        return str(value)
    except ValueError:  # an int beyond the interpreter's digit limit for str()
        return "9" * (MAX_FIELD_CHARS + 1)


def pointer(path: Iterable[str | int]) -> str:
    """A path as a JSON Pointer (RFC 6901): ``("data", "freeformTags", "a/b")`` → ``/data/freeformTags/a~1b``."""
    text = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return text if len(text) <= POINTER_CHARS else text[: POINTER_CHARS - 1] + "…"


def compact(value: Any) -> str:
    """Compact JSON text of a subtree (what a stringified subtree becomes); exact for values orjson cannot write."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parts(text: str) -> list[str]:
    """``text`` in consecutive pieces of at most :data:`SPLIT_CHARS` characters (``"".join`` gives it back)."""
    return [text[i : i + SPLIT_CHARS] for i in range(0, len(text), SPLIT_CHARS)]


@dataclass
class Notes:
    """What reshaping did to one record, by JSON Pointer into the shipped line."""

    renamed: list[dict[str, str]] = field(default_factory=list)
    """``{"from": <the original name's pointer>, "to": <where the field is now>}``."""
    stringified: list[str] = field(default_factory=list)
    """Subtrees replaced by their compact JSON text."""
    split: list[str] = field(default_factory=list)
    """Strings replaced by an array of parts (joined, they give the string back)."""
    as_text: bool = False
    """The whole record could not be made to fit field by field and is shipped as text in ``message``."""

    def __bool__(self) -> bool:
        return bool(self.renamed or self.stringified or self.split or self.as_text)

    def forget_under(self, at: str) -> None:
        """Drop the notes about fields inside a subtree that has just become text."""
        inside = at + "/"
        self.renamed = [r for r in self.renamed if not r["to"].startswith(inside)]
        self.stringified = [p for p in self.stringified if not p.startswith(inside)]
        self.split = [p for p in self.split if not p.startswith(inside)]

    def marker(self) -> dict[str, Any]:
        """The notes as members of the line's ``forwarder`` object: each list capped, the rest counted."""
        out: dict[str, Any] = {}
        omitted = 0
        for name in ("renamed", "stringified", "split"):
            listed = getattr(self, name)
            if listed:
                out[name] = listed[:LISTED]
                omitted += max(0, len(listed) - LISTED)
        if omitted:
            out["omitted"] = omitted
        if self.as_text:
            out["asText"] = True
        return out


class Unfit(Exception):
    """The record cannot be made to fit field by field (an enormous name or too many fields at its top level)."""


class Reshaper:
    """Makes one parsed record obey the rules, recording what it did in :attr:`notes`.

    ``root`` is where the audit record sits in the line (``("logContent",)`` for a Logging entry shipped whole), so
    the identifying paths are found there.
    """

    def __init__(self, root: tuple[str, ...] = ()) -> None:
        self.notes = Notes()
        self._keep = [root + path for path in IDENTIFYING]
        self._origin: dict[tuple[str, ...], Any] = {}
        """Each container reached through object members only, by its path in the line: its original value."""

    def reshape(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record (top level as shaping prepared it) with every rule kept; raises :class:`Unfit` when only
        shipping it as text would do."""
        if any(len(key) > MAX_FIELD_CHARS for key in record):
            raise Unfit
        line: dict[str, Any] = self._object(record, 1, ())  # the top level is never turned into text
        self._fewer_fields(line)
        return line

    # ----- names, depth and long values, in one walk ------------------------------------------------------------

    def _value(self, value: Any, level: int, path: tuple[str | int, ...]) -> Any:
        """``value`` as it may be shipped, where ``level`` is the level it has if it is a container."""
        if isinstance(value, dict):
            return self._object(value, level, path) if level <= MAX_DEPTH else self._text(value, level, path)
        if isinstance(value, list):
            return self._array(value, level, path) if level <= MAX_DEPTH else self._text(value, level, path)
        if isinstance(value, str):
            return self._long(value, level, path) if len(value) > MAX_FIELD_CHARS else value
        if isinstance(value, int) and not isinstance(value, bool) and len(_number_text(value)) > MAX_FIELD_CHARS:
            return self._text(value, level, path)
        return value

    def _object(self, value: dict[str, Any], level: int, path: tuple[str | int, ...]) -> Any:
        if level > 1 and (any(len(key) > MAX_FIELD_CHARS for key in value) or self._too_deep_below(value, level)):
            return self._text(value, level, path)
        if all(isinstance(p, str) for p in path):
            self._origin[path] = value  # type: ignore[index]  # all str, checked
        out: dict[str, Any] = {}
        for key, child in value.items():
            name = key
            if "." in key:
                name = free_name(key.replace(".", "_"), value, out)
                self.notes.renamed.append({"from": pointer((*path, key)), "to": pointer((*path, name))})
            out[name] = self._value(child, level + 1, (*path, name))
        return out

    def _array(self, value: list[Any], level: int, path: tuple[str | int, ...]) -> Any:
        if self._too_deep_below(value, level):
            return self._text(value, level, path)
        if all(isinstance(p, str) for p in path):
            self._origin[path] = value  # type: ignore[index]  # all str, checked
        return [self._value(child, level + 1, (*path, index)) for index, child in enumerate(value)]

    @staticmethod
    def _too_deep_below(value: dict[str, Any] | list[Any], level: int) -> bool:
        """At the last level a container may have, a child container becomes text, and a long value could not be
        split (an array of parts would be one level too many): if a child would need that, this container becomes
        text instead (split in place, one level up), so nothing is ever cut."""
        if level != MAX_DEPTH:
            return False
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                size = len(compact(child))
            elif isinstance(child, str):
                size = len(child)
            elif isinstance(child, int) and not isinstance(child, bool):
                size = len(_number_text(child))
            else:
                continue
            if size > MAX_FIELD_CHARS:
                return True
        return False

    def _text(self, value: Any, level: int, path: tuple[str | int, ...]) -> Any:
        """A subtree as its compact JSON text (split into parts when long)."""
        self.notes.stringified.append(pointer(path))
        text = compact(value)
        return self._long(text, level, path) if len(text) > MAX_FIELD_CHARS else text

    def _long(self, text: str, level: int, path: tuple[str | int, ...]) -> list[str]:
        """A long string as an array of parts, where ``level`` is the array's (never over the limit: a container at
        the last level becomes text itself rather than hold a long value, see :meth:`_too_deep_below`)."""
        assert level <= MAX_DEPTH
        self.notes.split.append(pointer(path))
        return parts(text)

    # ----- too many fields ----------------------------------------------------------------------------------------

    def _fewer_fields(self, line: dict[str, Any]) -> None:
        """Turn the largest subtrees that identify nothing into text until the line has few enough fields."""
        budget = MAX_FIELDS - FORWARDER_FIELDS
        paths: set[tuple[str, ...]] = set()
        while fields_of(line, paths) > budget:
            best = self._largest(paths)
            if best is None:
                raise Unfit
            self._stringify_at(line, best)
            paths = set()

    def _largest(self, paths: set[tuple[str, ...]]) -> tuple[str, ...] | None:
        """The movable container holding the most fields (the deeper one on a tie), among those reached through
        object members; the identifying fields the record has, their ancestors and their insides are not movable."""
        sizes: dict[tuple[str, ...], int] = {}
        for path in paths:
            for cut in range(1, len(path)):
                sizes[path[:cut]] = sizes.get(path[:cut], 0) + 1
        kept = [keep for keep in self._keep if keep in paths]
        movable = [
            (size, len(path), path)
            for path, size in sizes.items()
            if path in self._origin and not any(_related(path, keep) for keep in kept)
        ]
        return max(movable)[2] if movable else None

    def _stringify_at(self, line: dict[str, Any], path: tuple[str, ...]) -> None:
        holder: Any = line
        for key in path[:-1]:
            holder = holder[key]
        at = pointer(path)
        self.notes.forget_under(at)
        self.notes.stringified = [p for p in self.notes.stringified if p != at]
        self.notes.split = [p for p in self.notes.split if p != at]
        holder[path[-1]] = self._text(self._origin[path], len(path) + 1, path)
        for inside in [p for p in self._origin if p[: len(path)] == path]:
            del self._origin[inside]


def _related(path: tuple[str, ...], keep: tuple[str, ...]) -> bool:
    """Whether ``path`` is ``keep``, inside it, or an ancestor of it."""
    shorter = min(len(path), len(keep))
    return path[:shorter] == keep[:shorter]


def free_name(name: str, *taken: dict[str, Any]) -> str:
    """``name``, or ``name_1``, ``name_2``… if any of ``taken`` already has (or will have) a field of that name."""
    if not any(name in t for t in taken):
        return name
    number = 1
    while any(f"{name}_{number}" in t for t in taken):
        number += 1
    return f"{name}_{number}"
