"""Properties of shaping under Logz.io's indexing rules, on random JSON objects (hypothesis):

* the shipped line keeps every rule (``indexable.breaks`` finds nothing; the listener stand-in checks the same
  rules its own way in the end-to-end tests);
* every value of the original is recoverable from the line: undoing what its ``forwarder`` object lists (parts
  joined, JSON text parsed, names renamed back, ``eventType`` back to ``type``) gives the record back exactly;
* a record that breaks no rule comes out unchanged apart from ``@timestamp`` and the ``type`` move;
* the raw-bytes screen (``indexable.screen``, compiled from ``native/screen.c``, and its Python twin) never calls a
  line clean that breaks a rule, and the compiled one agrees with the Python one wherever that rules a break out.

The records come with dots, colons, quotes, backslashes and brackets in names and strings, and now and then a
subtree too deep, too wide or too long, in the layouts the decoder meets (one line, spaced, pretty-printed, inside a
Logging entry). Example counts are modest and the examples fixed (derandomized: the suite's ``ci`` profile,
``tests/support.py``) so CI stays fast and deterministic; ``pytest --hypothesis-profile=long`` runs thousands of
random ones.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
import sysconfig
from pathlib import Path
from typing import Any

import orjson
from hypothesis import assume, example, given
from hypothesis import strategies as st

from logzio_forwarder.pipeline import indexable
from logzio_forwarder.pipeline.decode import Record, decode
from logzio_forwarder.pipeline.indexable import MAX_FIELDS, breaks, python_screen
from logzio_forwarder.pipeline.shape import MARKER, Shaping, shape
from tests.support import examples, json_scalars, json_values

PROFILE = examples(60)
LINE = 500_000
REGION = Shaping(region="eu-frankfurt-1")

_CHARS = list('ab.:"\\{}[]/~ _é日\n')
_NAMES = st.text(alphabet=st.sampled_from(_CHARS), max_size=6) | st.sampled_from(
    ["type", "time", "id", "data", "eventType", "forwarder", "@timestamp", "a.b", "a_b", "cost.center", "x.y:z", ""]
)
_TEXT = st.text(alphabet=st.sampled_from(_CHARS), max_size=10) | st.sampled_from(["}{", '"}{"', "1.2:3", "a.b"])


def _nested(levels: int) -> Any:
    node: Any = "bottom"
    for level in range(levels):
        node = {f"l{level}": node} if level % 3 else [node]
    return node


_SPECIAL = st.one_of(
    st.integers(8, 14).map(_nested),  # around the depth limit, arrays among the levels
    st.integers(MAX_FIELDS - 30, MAX_FIELDS + 40).map(
        lambda n: {f"tag.{i}" if i % 7 else f"t{i}": i for i in range(n)}
    ),
    st.sampled_from([32_699, 32_700, 32_701, 70_000]).map(lambda n: "x" * n),  # around the longest value
    st.just({"k" * 32_701: 1}),  # a name too long
)
_SCALARS = json_scalars(_TEXT)
_JSON = json_values(_SCALARS, _NAMES, width=4, leaves=24)
_VALUES = _JSON | _SPECIAL
_TIMES = st.sampled_from(["2026-11-01T09:55:01.800Z", "2026-11-01T09:55:01Z"]) | _SCALARS
RECORDS = st.builds(
    lambda time, kind, rest, special: {
        **({"time": time} if time is not None else {}),
        **rest,
        **({"type": kind} if kind is not None else {}),
        **special,
    },
    st.none() | _TIMES,
    st.none() | st.sampled_from(["com.oraclecloud.ComputeApi.UpdateInstance", ""]),
    st.dictionaries(_NAMES, _VALUES, max_size=5),
    st.dictionaries(st.sampled_from(["data", "stateChange", "z.z"]), _SPECIAL, max_size=1),
)
_PLAIN_NAMES = st.text(alphabet=st.sampled_from([c for c in _CHARS if c != "."]), max_size=6).filter(
    lambda name: name not in ("@timestamp", "eventType", "forwarder", "time", "type")
)
_PLAIN = json_values(_SCALARS, _PLAIN_NAMES, width=4, leaves=24)
CLEAN_RECORDS = st.builds(
    lambda time, rest, kind: {"time": time, **rest, **({"type": kind} if kind is not None else {})},
    st.sampled_from(["2026-11-01T09:55:01.800Z", "not a date", 'é}{\\"']),
    st.dictionaries(_PLAIN_NAMES, _PLAIN, max_size=5),
    st.none() | st.sampled_from(["com.oraclecloud.ComputeApi.UpdateInstance", 'a"b', ""]),
)
"""Records that break no rule but the missing @timestamp (depth aside, which ``assume`` checks)."""
LAYOUTS = st.sampled_from(["compact", "spaced", "indented", "entry", "entry-no-datetime"])


def encoded(record: dict[str, Any], layout: str) -> tuple[bytes, dict[str, Any] | None]:
    """The record as the decoder meets it, and the Logging entry around it (if any)."""
    entry: dict[str, Any] | None = None
    if layout == "entry":
        entry = {"datetime": 1_793_000_000_123, "logContent": record}
    elif layout == "entry-no-datetime":
        entry = {"logContent": record}
    value = entry if entry is not None else record
    if layout == "indented":
        return json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n", entry
    separators = (", ", ": ") if layout == "spaced" else (",", ":")
    return json.dumps(value, separators=separators, ensure_ascii=False).encode() + b"\n", entry


def shaped_record(record: dict[str, Any], layout: str) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
    """The line shaping makes of the record (parsed), its entry, and whether it counts as reshaped."""
    text, entry = encoded(record, layout)
    (item,) = decode([text])
    assert isinstance(item, Record)
    shaped = shape(item, LINE, REGION)
    assert not shaped.shortened
    line = json.loads(shaped.line)
    return line, entry, shaped.reshaped


# ----- undoing what the forwarder object lists --------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _holder(root: Any, tokens: list[str]) -> Any:
    node = root
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _replace(root: Any, pointer: str, change: Any) -> None:
    tokens = _tokens(pointer)
    holder, last = _holder(root, tokens), tokens[-1]
    key: Any = int(last) if isinstance(holder, list) else last
    holder[key] = change(holder[key])


def _rename(root: Any, pointer: str, name: str) -> None:
    tokens = _tokens(pointer)
    holder = _holder(root, tokens)
    items = list(holder.items())
    holder.clear()
    holder.update((name if key == tokens[-1] else key, value) for key, value in items)


def recovered(line: dict[str, Any], had_type: bool) -> dict[str, Any]:
    """The record, rebuilt from its line by undoing what the line's forwarder object lists."""
    line = copy.deepcopy(line)
    marker = line.pop(MARKER, {})
    assert "omitted" not in marker  # nothing dropped from the lists
    if marker.get("asText"):
        message = line["message"]
        rebuilt: dict[str, Any] = json.loads("".join(message) if isinstance(message, list) else message)
        return rebuilt
    for pointer in marker.get("split", []):
        _replace(line, pointer, "".join)
    for pointer in marker.get("stringified", []):
        _replace(line, pointer, json.loads)
    line.pop("@timestamp")
    renames = sorted(marker.get("renamed", []), key=lambda r: -len(_tokens(r["to"])))  # deepest first
    for renamed in renames:  # inside the record first: their pointers name the line's eventType
        if len(_tokens(renamed["to"])) > 1:
            _rename(line, renamed["to"], _tokens(renamed["from"])[-1])
    if had_type:
        _rename(line, "/eventType", "type")
    for renamed in renames:  # then the top level (an own eventType_1 back to eventType)
        if len(_tokens(renamed["to"])) == 1:
            _rename(line, renamed["to"], _tokens(renamed["from"])[-1])
    return line


def expected_back(record: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    """The record less an ``@timestamp`` of its own equal to the line's (shaping does not repeat it)."""
    own = record.get("@timestamp")
    return {k: v for k, v in record.items() if k != "@timestamp"} if own == line["@timestamp"] else record


# ----- the properties ---------------------------------------------------------------------------------------------


@PROFILE
@given(RECORDS, LAYOUTS)
@example({"type": {".": None}}, "compact")  # a renamed name inside the moved type: found by the long profile
def test_every_line_keeps_the_rules_and_gives_the_record_back(record: dict[str, Any], layout: str) -> None:
    line, entry, _ = shaped_record(record, layout)
    assert breaks(line) == []
    marker = line.get(MARKER, {})
    assume("omitted" not in marker)  # more than twenty changes of one kind: the list is capped
    if marker.get("asText"):
        assert recovered(line, "type" in record) == record
        return
    assert recovered(line, "type" in record) == expected_back(record, line)
    assert marker["region"] == "eu-frankfurt-1"
    if entry is not None and "datetime" in entry:
        assert marker["datetime"] == entry["datetime"]
    time = record.get("time")
    if isinstance(time, str) and len(time) <= 32_700:
        assert line["@timestamp"] == time


@PROFILE
@given(CLEAN_RECORDS, LAYOUTS)
def test_a_record_that_breaks_no_rule_changes_only_by_timestamp_and_the_type_move(
    record: dict[str, Any], layout: str
) -> None:
    assume(breaks({"@timestamp": "t", **record, MARKER: {"region": "r", "datetime": 1}}) == [])
    line, entry, reshaped = shaped_record(record, layout)
    moved = {("eventType" if k == "type" else k): v for k, v in record.items()}
    marker = {"region": "eu-frankfurt-1", **({"datetime": entry["datetime"]} if entry and "datetime" in entry else {})}
    assert line == {"@timestamp": record["time"], **moved, MARKER: marker}
    assert list(line) == ["@timestamp", *moved, MARKER]
    assert not reshaped


@PROFILE
@given(RECORDS, st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_the_byte_screen_never_calls_a_breaking_line_clean(
    record: dict[str, Any], separators: tuple[str, str], ascii_only: bool
) -> None:
    raw = json.dumps(record, separators=separators, ensure_ascii=ascii_only).encode()
    added = {MARKER: {"region": "r", "datetime": 1}}  # what shaping adds at most (a Logging entry's inner record)
    for verdict in (indexable.screen(raw), python_screen(raw)):
        if verdict >= 0:
            assert breaks({"@timestamp": "t", **record, **added}) == []


@PROFILE
@given(RECORDS, st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_the_compiled_screen_agrees_with_the_python_one(
    record: dict[str, Any], separators: tuple[str, str], ascii_only: bool
) -> None:
    """Where the Python screen rules a break out, the compiled one does too and finds the same ``type`` member; it
    may rule out more (it counts member names exactly, where the Python one counts conservatively)."""
    raw = json.dumps(record, separators=separators, ensure_ascii=ascii_only).encode()
    if python_screen(raw) >= 0:
        assert indexable.screen(raw) == python_screen(raw)


def test_the_compiled_screen_is_in_use_where_it_can_be_built() -> None:
    """`make venv` compiles native/screen.c, as the image's build stage does: where a C compiler and the Python
    headers are at hand (CI, the image build), the hot path must not run the Python screen by accident."""
    compiler = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc")[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    can_build = shutil.which(compiler) is not None and headers
    assert can_build == indexable.COMPILED, "`python deploy/image_tree.py native logzio_forwarder/pipeline` builds it"


def test_the_screen_finds_audit_records_clean() -> None:
    """The fast path is taken for what a real record looks like: nested, tagged, escaped, 3 KB."""
    from standins.demo import audit_records

    for record in audit_records():
        assert indexable.screen(orjson.dumps(record)) >= 0, record["id"]
