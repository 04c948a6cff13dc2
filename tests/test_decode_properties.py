"""Properties of the decoder on random records in random layouts with random damage (hypothesis).

* every record the damage did not touch is decoded exactly, at its place, in order;
* every byte other than whitespace between items is in a record or a fragment (``check_items``);
* the items are those of the rule written naively (``decode_reference.reference``), whatever the chunking;
* nothing raises.

Example counts are modest and the examples fixed (derandomized: the suite's ``ci`` profile, ``tests/support.py``) so
the suite stays fast and CI deterministic; ``pytest --hypothesis-profile=long`` runs thousands of random ones
(``make fuzz`` goes further).

The first property holds by the rule unless the damage itself makes a valid object that reaches over the next
record; nothing in the generated damage has done so in the long runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from logzio_forwarder.pipeline import decode as decode_module
from logzio_forwarder.pipeline.decode import BOM, Item, Record, decode
from tests.decode_reference import as_expected, check_items, reference
from tests.support import cut, examples, json_scalars, json_values

PROFILE = examples(60)

_TEXT = st.text(alphabet=st.sampled_from(list('{}[]"\\\n\r\t:,/ aé日🎉\x00\x1f')), max_size=10) | st.sampled_from(
    ["}{", '"}{"', '}{\\"x', "x}{y", "{}", '"}'],
)
_JSON = json_values(json_scalars(_TEXT), _TEXT, width=3, leaves=8)
_RECORDS = st.dictionaries(_TEXT, _JSON, max_size=4)
PATHOLOGICAL = {"s": '"}{' * 2000, "t": "}{" * 2000}
"""A record with thousands of ``}{`` inside its strings: joined or damaged, it must cost linear time (the explicit
examples below; ``python -m bench.pathological`` times it)."""
BRACE_HEAVY = {"s": '"}{' * 20, "t": "}{\\" * 20}

_STYLES: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "compact": lambda r: json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode(),
    "spaced": lambda r: json.dumps(r, ensure_ascii=False).encode(),
    "ascii": lambda r: json.dumps(r).encode(),
    "indented": lambda r: json.dumps(r, ensure_ascii=False, indent=2).encode(),
    "indented-crlf": lambda r: json.dumps(r, ensure_ascii=False, indent=1).replace("\n", "\r\n").encode(),
}
_SEPARATORS = st.sampled_from([b"", b"", b"\n", b"\n", b"\r\n", b" ", b"\t", b"\n\n", b" \r\n "])
_JUNK = st.sampled_from([b"\nGARBAGE\n", b"{", b"}", b'"', b"[", b",", b"\xff\xfe", b"GARBAGE", b"}{", b'{"', b"\n"])


@dataclass(frozen=True)
class Damage:
    """What happened to one record: ``junk`` inserted at ``at`` (a fraction of its length), or its tail lost."""

    junk: bytes | None
    at: float

    def apply(self, text: bytes) -> bytes:
        cut = 1 + int(self.at * (len(text) - 2))  # strictly inside the record
        if self.junk is None:  # a torn line: the rest of the record is gone, the line ends
            return text[:cut] + b"\n"
        return text[:cut] + self.junk + text[cut:]


_DAMAGE = st.builds(Damage, st.none() | _JUNK | st.binary(min_size=1, max_size=4), st.floats(0, 1))
_LAYOUT = st.lists(
    st.tuples(_RECORDS | st.just(BRACE_HEAVY), st.sampled_from(list(_STYLES)), _SEPARATORS, st.none() | _DAMAGE),
    max_size=8,
)


def _build(
    layout: list[tuple[dict[str, Any], str, bytes, Damage | None]], bom: bool
) -> tuple[bytes, list[tuple[dict[str, Any], int]]]:
    """The object's bytes and, for each record left intact, its value and where it ends."""
    data = bytearray(BOM if bom else b"")
    intact: list[tuple[dict[str, Any], int]] = []
    for record, style, separator, damage in layout:
        text = _STYLES[style](record)
        if damage is None:
            data += text
            intact.append((record, len(data)))
        else:
            data += damage.apply(text)
        data += separator
    return bytes(data), intact


def _assert_intact_records_decoded(found: list[Item], intact: list[tuple[dict[str, Any], int]]) -> None:
    by_end = {item.end: item for item in found if isinstance(item, Record)}
    for value, end in intact:
        assert end in by_end, f"the intact record ending at {end} is not a record: {value!r}"
        assert by_end[end].value == value


@PROFILE
@given(layout=_LAYOUT, bom=st.booleans(), cuts=st.lists(st.integers(1, 6000), max_size=8))
@example(layout=[(PATHOLOGICAL, "compact", b"", None)] * 3, bom=False, cuts=[])
@example(
    layout=[
        (PATHOLOGICAL, "compact", b"", Damage(b'"', 0.5)),
        (PATHOLOGICAL, "compact", b"", None),
        ({"a": 1}, "compact", b"\n", Damage(b"{", 0.5)),
        ({"b": [1, {"c": "}{"}]}, "indented-crlf", b"", None),
    ],
    bom=False,
    cuts=[100, 7000],
)
def test_damage_costs_only_what_it_touched(
    layout: list[tuple[dict[str, Any], str, bytes, Damage | None]], bom: bool, cuts: list[int]
) -> None:
    data, intact = _build(layout, bom)
    found = list(decode(cut(data, cuts)))
    check_items(data, found)
    _assert_intact_records_decoded(found, intact)
    assert found == list(decode([data]))


@PROFILE
@given(layout=_LAYOUT, bom=st.booleans(), cuts=st.lists(st.integers(1, 6000), max_size=8))
def test_the_items_are_the_rules_whatever_the_chunking(
    layout: list[tuple[dict[str, Any], str, bytes, Damage | None]], bom: bool, cuts: list[int]
) -> None:
    data, _ = _build(layout, bom)
    with mock.patch.object(decode_module, "SIDE_BUDGET", 10**9):  # the rule has no budget
        found = list(decode(cut(data, cuts)))
    assert as_expected(data, found) == reference(data)


_TOKENS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b" ", b"\n", b"\r\n", b"1", b"a", b'"k"', b"\xff", b"}{"]
)
_SOUP = st.lists(_TOKENS | st.builds(lambda r: json.dumps(r).encode(), _RECORDS), max_size=40).map(b"".join)


@PROFILE
@given(data=_SOUP, cuts=st.lists(st.integers(1, 2000), max_size=6))
def test_any_bytes_decode_by_the_rule_and_resume_where_an_item_ended(data: bytes, cuts: list[int]) -> None:
    with mock.patch.object(decode_module, "SIDE_BUDGET", 10**9):
        found = list(decode(cut(data, cuts)))
        check_items(data, found)
        assert as_expected(data, found) == reference(data)
        for index in range(0, len(found), max(1, len(found) // 3)):
            assert list(decode(cut(data, cuts), skip=found[index].end)) == found[index + 1 :]
