"""Stage 3 — decode: concatenated OCI JSON into records, and undecodable bytes into fragments (never dropped)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logzio_forwarder.pipeline import decode as decode_module
from logzio_forwarder.pipeline.decode import BOM, Decoder, Fragment, Item, Record, decode
from logzio_forwarder.pipeline.shape import shape
from tests.decode_reference import as_expected, check_items, reference
from tests.support import chunked, cut, examples

CHUNK_SIZES = (1, 2, 3, 7, 64)


def random_chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 12))) if len(data) > 1 else []
    return cut(data, cuts)


def items(data: bytes, skip: int = 0) -> list[Item]:
    return list(decode([data], skip=skip))


def values(found: list[Item]) -> list[dict[str, Any]]:
    assert all(isinstance(i, Record) for i in found), found
    return [i.value for i in found if isinstance(i, Record)]


def fragments(found: list[Item]) -> list[Fragment]:
    return [i for i in found if isinstance(i, Fragment)]


def assert_chunking_invariant(data: bytes) -> list[Item]:
    """Decode in one piece, in fixed-size pieces and in random pieces: the items must be identical."""
    whole = list(decode([data]))
    for size in CHUNK_SIZES:
        assert list(decode(chunked(data, size))) == whole, f"chunks of {size} bytes"
    for seed in range(5):
        assert list(decode(random_chunks(data, seed))) == whole, f"random chunks, seed {seed}"
    return whole


# --- records that decode -----------------------------------------------------------------------------------------


def test_one_record_per_line() -> None:
    data = b'{"a":1}\n{"b":"two"}\n'
    assert items(data) == [Record({"a": 1}, b'{"a":1}', 7), Record({"b": "two"}, b'{"b":"two"}', 19)]


def test_records_joined_without_separator() -> None:
    data = b'{"a":1}{"b":2}{"c":3}\n'
    found = items(data)
    assert values(found) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [i.end for i in found] == [7, 14, 21]


@pytest.mark.parametrize("separator", [b" ", b"\t", b"\n", b"\r\n", b"\n\n\n", b" \t \r\n  "])
def test_records_separated_by_any_whitespace(separator: bytes) -> None:
    data = separator.join([b'{"a":1}', b'{"b":2}', b'{"c":3}'])
    found = assert_chunking_invariant(data)
    assert values(found) == [{"a": 1}, {"b": 2}, {"c": 3}]
    for item in found:
        assert data[item.end - 1 : item.end] == b"}"


def test_pretty_printed_records_spanning_many_lines() -> None:
    records = [
        {"id": "1", "data": {"request": {"headers": {"X": ["a", "b"]}}, "list": [1, {"k": None}]}},
        {"id": "2", "empty": {}, "nested": [[], [{}]]},
    ]
    data = b"\n".join(json.dumps(r, indent=2).encode() for r in records) + b"\n"
    assert data.count(b"\n") > 20
    found = assert_chunking_invariant(data)
    assert values(found) == records
    assert all(isinstance(i, Record) and i.raw is None for i in found)


def test_crlf_line_endings() -> None:
    data = b'{"a":1}\r\n{"b":2}\r\n'
    found = assert_chunking_invariant(data)
    assert found == [Record({"a": 1}, b'{"a":1}', 7), Record({"b": 2}, b'{"b":2}', 16)]


def test_crlf_inside_pretty_printed_record() -> None:
    data = b'{\r\n  "a": 1,\r\n  "b": [\r\n    2\r\n  ]\r\n}\r\n{"c":3}\r\n'
    assert values(assert_chunking_invariant(data)) == [{"a": 1, "b": [2]}, {"c": 3}]


def test_utf8_bom_is_skipped_and_counted_in_offsets() -> None:
    data = BOM + b'{"a":1}\n{"b":2}\n'
    found = assert_chunking_invariant(data)
    assert found == [Record({"a": 1}, b'{"a":1}', 10), Record({"b": 2}, b'{"b":2}', 18)]


def test_non_ascii_text() -> None:
    record = {"msg": "héllo wörld · 日本語 🎉", "ключ": "значение"}
    line = json.dumps(record, ensure_ascii=False).encode()
    found = assert_chunking_invariant(line + b"\n" + line)
    assert values(found) == [record, record]
    assert isinstance(found[0], Record)
    assert found[0].raw == line
    assert found[0].end == len(line)  # offsets count bytes, not characters


def test_escaped_quotes_and_braces_inside_strings() -> None:
    data = rb'{"q":"say \"hi\" {not a brace}"}{"r":"\"}{\""}' + b"\n"
    assert values(assert_chunking_invariant(data)) == [{"q": 'say "hi" {not a brace}'}, {"r": '"}{"'}]


def test_brace_pair_inside_string_values_does_not_split_records() -> None:
    data = b'{"s":"}{"}{"t":"a}{b","u":"}}}{{{"}\n{"v":"}\\n{"}\n'
    found = assert_chunking_invariant(data)
    assert values(found) == [{"s": "}{"}, {"t": "a}{b", "u": "}}}{{{"}, {"v": "}\n{"}]


def test_escaped_newline_inside_string_stays_one_single_line_record() -> None:
    line = b'{"msg":"line1\\nline2\\r\\n\\tend"}'
    found = assert_chunking_invariant(line + b"\n")
    assert found == [Record({"msg": "line1\nline2\r\n\tend"}, line, len(line))]


def test_escaped_backslash_before_closing_quote() -> None:
    data = b'{"path":"C:\\\\"}{"next":"\\\\\\""}\n'
    assert values(assert_chunking_invariant(data)) == [{"path": "C:\\"}, {"next": '\\"'}]


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n", b"\n\n  \n"])
def test_trailing_newline_or_none(ending: bytes) -> None:
    data = b'{"a":1}\n{"b":2}' + ending
    found = assert_chunking_invariant(data)
    assert found == [Record({"a": 1}, b'{"a":1}', 7), Record({"b": 2}, b'{"b":2}', 15)]


def test_empty_objects() -> None:
    assert items(b"{}\n") == [Record({}, b"{}", 2)]
    assert values(assert_chunking_invariant(b"{}{}\n{ }\n{\n}")) == [{}, {}, {}, {}]


@pytest.mark.parametrize("data", [b"", b" ", b"\n", b"\r\n\r\n", b" \t\n \t \r\n", BOM, BOM + b"\n"])
def test_empty_and_whitespace_only_input_yields_nothing(data: bytes) -> None:
    assert assert_chunking_invariant(data) == []


def test_no_chunks_at_all_yields_nothing() -> None:
    assert list(decode([])) == []


def test_64_bit_integer_extremes_keep_their_exact_value() -> None:
    data = b'{"max":18446744073709551615,"min":-9223372036854775808}\n'
    assert values(items(data)) == [{"max": 2**64 - 1, "min": -(2**63)}]


@pytest.mark.parametrize("layout", ["single-line", "multi-line"])
def test_integers_beyond_64_bits_keep_their_exact_value(layout: str) -> None:
    line = b'{"big":123456789012345678901234567890,"neg":-98765432109876543211}'
    data = line + b"\n" if layout == "single-line" else line.replace(b",", b",\n") + b"\n"
    (record,) = items(data)
    assert isinstance(record, Record)
    exact = record.value  # what shaping re-serialises when it must
    assert exact == {"big": 123456789012345678901234567890, "neg": -98765432109876543211}
    assert all(type(v) is int for v in exact.values())
    shipped = json.loads(shape(record, 500_000).line)  # and what is shipped keeps every digit
    assert {k: v for k, v in shipped.items() if k not in ("@timestamp", "forwarder")} == exact


def test_escaped_surrogate_pair_decodes_to_one_character() -> None:
    found = items(b'{"e":"\\ud83d\\ude00"}\n')
    assert values(found) == [{"e": "😀"}]


def test_escaped_lone_surrogate_is_still_a_record() -> None:
    found = items(b'{"e":"\\ud800x"}\n{"f":1}\n')
    assert values(found) == [{"e": "\ud800x"}, {"f": 1}]


# --- Record.raw and Record.end -----------------------------------------------------------------------------------


def test_raw_is_the_exact_line_for_single_line_records() -> None:
    lines = [b'{ "a" : 1 ,  "b" : [ 1 , 2 ] }', b'{"time":"2026-11-01T10:00:00.000Z","x":"y"}']
    found = assert_chunking_invariant(b"\n".join(lines) + b"\n")
    assert [i.raw for i in found if isinstance(i, Record)] == lines


def test_raw_excludes_trailing_whitespace_and_carriage_return() -> None:
    found = items(b'{"a":1}  \t\r\n')
    assert found == [Record({"a": 1}, b'{"a":1}', 7)]


def test_raw_is_none_for_multi_line_records() -> None:
    found = items(b'{"a":1}\n{\n"b":2}\n{"c":3}\n')
    assert [i.raw for i in found if isinstance(i, Record)] == [b'{"a":1}', None, b'{"c":3}']


def test_record_end_points_just_past_each_record() -> None:
    data = b'{"a":1}  {"b":\n2}\r\n\n{"c":3}'
    found = assert_chunking_invariant(data)
    assert [i.end for i in found] == [7, 17, 27]
    start = 0
    for item in found:
        assert isinstance(item, Record)
        assert orjson.loads(data[start : item.end]) == item.value
        start = item.end


# --- undecodable bytes become fragments --------------------------------------------------------------------------


def test_garbage_line_becomes_a_fragment_and_decoding_resumes() -> None:
    data = b'{"a":1}\nthis is not json\n{"b":2}\n'
    found = assert_chunking_invariant(data)
    assert values([found[0], found[2]]) == [{"a": 1}, {"b": 2}]
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (b"this is not json", 8, 2)
    assert frag.end == 24
    assert frag.reason


def test_truncated_record_followed_by_good_records() -> None:
    data = b'{"a":1}\n{"b":"cut off in the mid\n{"c":3}\n{"d":4}\n'
    found = assert_chunking_invariant(data)
    assert len(found) == 4
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (b'{"b":"cut off in the mid', 8, 2)
    assert values([found[0], *found[2:]]) == [{"a": 1}, {"c": 3}, {"d": 4}]


def test_truncated_record_outside_a_string_followed_by_good_records() -> None:
    data = b'{"a":1}\n{"b": 2, "x": [1,\n{"c":3}\n{"d":4}\n'
    found = assert_chunking_invariant(data)
    assert len(found) == 4
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (b'{"b": 2, "x": [1,', 8, 2)
    assert values([found[0], *found[2:]]) == [{"a": 1}, {"c": 3}, {"d": 4}]


def test_balanced_but_invalid_json_spanning_lines_is_one_fragment() -> None:
    data = b'{"a": oops\n "b": 1}\n{"c":3}\n'
    found = assert_chunking_invariant(data)
    texts = [(f.text, f.offset, f.line, f.reason) for f in fragments(found)]
    assert texts == [(b'{"a": oops\n "b": 1}', 0, 1, "invalid JSON")]
    assert [i.value for i in found if isinstance(i, Record)] == [{"c": 3}]


@pytest.mark.parametrize(
    "line", [b"[1, 2, 3]", b'[{"a":1}]', b'"just a string"', b"42", b"-1.5e3", b"true", b"null", b"}", b"]"]
)
def test_top_level_non_objects_become_fragments(line: bytes) -> None:
    data = b'{"a":1}\n' + line + b'\n{"b":2}\n'
    found = assert_chunking_invariant(data)
    assert len(found) == 3
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (line, 8, 2)
    assert values([found[0], found[2]]) == [{"a": 1}, {"b": 2}]


def test_invalid_utf8_inside_a_record_becomes_a_fragment_with_the_exact_bytes() -> None:
    bad = b'{"a":"\xff\xfe caf\xe9"}'
    data = b'{"ok":1}\n' + bad + b'\n{"ok":2}\n'
    found = assert_chunking_invariant(data)
    assert len(found) == 3
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (bad, 9, 2)
    assert values([found[0], found[2]]) == [{"ok": 1}, {"ok": 2}]


def test_invalid_utf8_line_becomes_a_fragment() -> None:
    data = b"\xff\xfe\xfd\x80\n" + b'{"ok":1}'
    found = assert_chunking_invariant(data)
    assert isinstance(found[0], Fragment)
    assert (found[0].text, found[0].offset, found[0].line) == (b"\xff\xfe\xfd\x80", 0, 1)
    assert values(found[1:]) == [{"ok": 1}]


@pytest.mark.parametrize("tail", [b'{"b":"unterminated', b'{"b":"unterminated"', b'{"b":{"c":1}', b"{"])
def test_unterminated_record_at_end_of_data(tail: bytes) -> None:
    data = b'{"a":1}\n' + tail
    found = assert_chunking_invariant(data)
    assert len(found) == 2
    frag = found[1]
    assert isinstance(frag, Fragment)
    assert (frag.text, frag.offset, frag.line) == (tail, 8, 2)
    assert frag.end == len(data)


def test_unterminated_record_at_end_of_data_with_trailing_newline() -> None:
    data = b'{"a":1}\n\n{"b": [1, 2,\n'
    found = assert_chunking_invariant(data)
    assert isinstance(found[1], Fragment)
    assert (found[1].text, found[1].offset, found[1].line) == (b'{"b": [1, 2,', 9, 3)


def test_no_undecodable_byte_is_dropped() -> None:
    """Every non-whitespace byte ends up inside a record span or a fragment."""
    data = b'junk before\n{"a":1}}{"b":2} trailing junk\n[1,2]\n{"c": "x\n  {"d":\n 4}\n\xff\xff\n"str"\n{"e":5}{"f":'
    found = assert_chunking_invariant(data)
    covered = bytearray(len(data))
    start = 0
    for item in found:
        if isinstance(item, Fragment):
            assert data[item.offset : item.offset + len(item.text)] == item.text
            covered[item.offset : item.offset + len(item.text)] = b"\x01" * len(item.text)
        else:
            begin = data.index(b"{", start)
            assert orjson.loads(data[begin : item.end]) == item.value
            covered[begin : item.end] = b"\x01" * (item.end - begin)
        start = item.end
    uncovered = bytes(b for b, c in zip(data, covered, strict=True) if not c)
    assert uncovered.strip(b" \t\r\n") == b"", uncovered
    assert values([i for i in found if isinstance(i, Record)]) == [{"a": 1}, {"b": 2}, {"d": 4}, {"e": 5}]
    # damage costs only itself: the stray "}" is one fragment, the record joined after it is a record
    assert [f.text for f in fragments(found)] == [
        b"junk before",
        b"}",
        b'trailing junk\n[1,2]\n{"c": "x',
        b'\xff\xff\n"str"',
        b'{"f":',
    ]


def test_fragment_line_numbers_count_multi_line_records_crlf_and_bom() -> None:
    data = BOM + b'{\r\n  "a": 1\r\n}\r\n\r\ngarbage one\r\n{"b":\n2}\ngarbage two'
    found = assert_chunking_invariant(data)
    frags = fragments(found)
    assert [(f.text, f.line) for f in frags] == [(b"garbage one", 5), (b"garbage two", 8)]
    assert [f.offset for f in frags] == [data.index(b"garbage one"), data.index(b"garbage two")]


def test_fragment_offsets_count_bytes_of_non_ascii_text() -> None:
    data = '{"é":"日本"}\nnot ok ✗\n'.encode()
    frag = fragments(items(data))[0]
    assert frag.offset == data.index(b"not ok")
    assert frag.text == "not ok ✗".encode()


def test_an_unclosed_brace_does_not_hold_back_the_rest_of_a_long_stream() -> None:
    """Past max_record_bytes a pending record is given up as a fragment, so later records are not held in memory."""
    decoder = Decoder(max_record_bytes=64)
    early = list(decoder.feed(b'{"broken": [1,\n' + b'{"n":1}\n' * 20))
    assert isinstance(early[0], Fragment)
    assert early[0].text == b'{"broken": [1,'
    assert [i.value for i in early[1:] if isinstance(i, Record)] == [{"n": 1}] * 20
    assert list(decoder.finish()) == []


def test_an_object_open_past_many_later_records_is_given_up_so_they_are_not_held_back() -> None:
    """After damage, a "{" that stays open while MAX_PENDING later candidates are read counts as too large, so
    what the decoder remembers while waiting stays small (max_record_bytes bounds the same wait in bytes)."""
    decoder = Decoder()
    with mock.patch.object(decode_module, "MAX_PENDING", 8):
        early = list(decoder.feed(b'{"broken": [1,\n' + b'{"n":1}\n' * 50))
    assert isinstance(early[0], Fragment)
    assert (early[0].text, early[0].reason) == (b'{"broken": [1,', "object too large")
    assert [i.value for i in early[1:] if isinstance(i, Record)] == [{"n": 1}] * 50
    assert list(decoder.finish()) == []


def test_a_long_non_json_stretch_is_shipped_in_fragments_cut_at_line_starts() -> None:
    """So that no fragment is long enough for shaping to shorten it: a CSV put in the bucket loses nothing."""
    lines = [b"csv,line,%04d,text" % i for i in range(40)]
    data = b"\n".join(lines) + b'\n{"ok":1}\n'
    with mock.patch.object(decode_module, "FRAGMENT_BYTES", 100):
        found = assert_chunking_invariant(data)
    texts = [f.text for f in fragments(found)]
    assert len(texts) > 5
    assert all(len(text) <= 100 + len(lines[0]) for text in texts)
    assert b"\n".join(texts) == b"\n".join(lines)
    assert all(f.reason == "not a JSON object" for f in fragments(found))
    assert values(found[len(texts) :]) == [{"ok": 1}]


def test_a_damaged_stretch_cut_for_memory_at_a_blank_line_gives_no_empty_fragment() -> None:
    data = b'}{{"{"a":1}}{\\" \\x}{"}{ xx{"a":1}}{[x\\\n\n""{"a":1}"\n'
    decoder = Decoder(max_record_bytes=48)
    found = [item for chunk in chunked(data, 48) for item in decoder.feed(chunk)] + list(decoder.finish())
    assert all(f.text for f in fragments(found))
    check_items(data, found)


BUSY_LINE = bytes.fromhex(
    "007b0a7b7d0a7b0a0a7bfb227b5c61f2757d7b1b1b1b0200007b7d00ff200a0a7b7d00ff200a0a7dfb7b020a0a7b227b"
    "5c006109757d7b7d7b007b00ff007b00ff5c6109757d7b7d7b007b00ff7b7d7b00ff7d7b7b7b7d7b00ff7d7b7d7b00ff"
    "7d7b7b7b7d7b00ff7d7b7d7b7d1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b7b7cfffe757d7b7d7b070707"
    "7d7b00fb00027b5c61757d7b7d7b7d7d7b000e7d7b7b7d7b7d7d0a"
)
"""Found by fuzzing: many ``}{`` around damage on one line, where a too-small budget for checking candidates
made the items after a resume differ from the whole decode's."""


def test_a_busy_damaged_line_decodes_by_the_rule_and_resumes_after_any_item() -> None:
    whole = list(decode([BUSY_LINE]))
    assert as_expected(BUSY_LINE, whole) == reference(BUSY_LINE)
    for index, item in enumerate(whole):
        assert list(decode(chunked(BUSY_LINE, 7), skip=item.end)) == whole[index + 1 :]


# --- resume --------------------------------------------------------------------------------------------------------


MIXED = b'{"a":1}\n{"b":2}{"c":3}\n{\n  "d": 4\n}\ngarbage\n{"e":"x}{y"}\r\n[1]\n{"f": "cut\n{"g":7}\n\xff\n{"h":8}'


def test_mixed_stream_is_chunking_invariant() -> None:
    found = assert_chunking_invariant(MIXED)
    assert [type(i).__name__ for i in found] == [
        "Record",
        "Record",
        "Record",
        "Record",
        "Fragment",
        "Record",
        "Fragment",  # "[1]" and the cut record after it: damaged bytes up to the next object are one fragment
        "Record",
        "Fragment",
        "Record",
    ]


@pytest.mark.parametrize("size", [1, 3, 64, len(MIXED)])
def test_resume_after_any_record_yields_exactly_what_follows(size: int) -> None:
    full = items(MIXED)
    for index, item in enumerate(full):
        resumed = list(decode(chunked(MIXED, size), skip=item.end))
        assert resumed == full[index + 1 :], f"resume after item {index} (offset {item.end})"


def test_resume_keeps_line_numbers_and_offsets_of_later_fragments() -> None:
    full = items(MIXED)
    skip = full[3].end  # after the pretty-printed record
    later = fragments(list(decode(chunked(MIXED, 2), skip=skip)))
    assert [(f.text, f.offset, f.line) for f in later] == [
        (b"garbage", MIXED.index(b"garbage"), 6),
        (b'[1]\n{"f": "cut', MIXED.index(b"[1]"), 8),
        (b"\xff", MIXED.index(b"\xff"), 11),
    ]


def test_resume_at_the_end_yields_nothing() -> None:
    assert list(decode(chunked(MIXED, 5), skip=len(MIXED))) == []


# --- property: any layout of any records round-trips ------------------------------------------------------------

_TRICKY = st.text(alphabet=st.sampled_from(list('{}[]"\\\n\r\t:,/ab é日🎉\x00\x1f')), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _TRICKY | st.text(max_size=8)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=8,
)
_RECORDS = st.dictionaries(_TRICKY, _JSON, max_size=5)
_STYLES = st.sampled_from(["compact", "spaced", "indented", "ascii"])
_SEPARATORS = st.sampled_from(["", "", "\n", "\n", "\r\n", " ", "\t", "\n\n", " \n "])


def _serialise(record: dict[str, Any], style: str) -> bytes:
    if style == "compact":
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    if style == "spaced":
        return json.dumps(record, ensure_ascii=False).encode()
    if style == "indented":
        return json.dumps(record, ensure_ascii=False, indent=2).encode()
    return json.dumps(record).encode()


@examples(150)
@given(
    layout=st.lists(st.tuples(_RECORDS, _STYLES, _SEPARATORS), max_size=8),
    bom=st.booleans(),
    ending=st.sampled_from(["", "\n", "\r\n"]),
    cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=10),
)
def test_any_layout_round_trips_whatever_the_chunking(
    layout: list[tuple[dict[str, Any], str, str]], bom: bool, ending: str, cuts: list[int]
) -> None:
    data = bytearray(BOM if bom else b"")
    expected: list[tuple[dict[str, Any], bytes, int]] = []
    for record, style, separator in layout:
        text = _serialise(record, style)
        data += text
        expected.append((record, text, len(data)))
        data += separator.encode()
    data += ending.encode()
    blob = bytes(data)

    chunks = cut(blob, cuts)
    found = list(decode(chunks))

    assert values(found) == [r for r, _, _ in expected]
    ends = [i.end for i in found]
    assert ends == [end for _, _, end in expected]
    assert all(a < b for a, b in itertools.pairwise(ends))
    for item, (_, text, _) in zip(found, expected, strict=True):
        assert isinstance(item, Record)
        if b"\n" in text:
            assert item.raw is None
        if item.raw is not None:
            assert item.raw == text
    if expected:
        middle = len(found) // 2
        assert list(decode(chunks, skip=found[middle].end)) == found[middle + 1 :]


# --- resynchronisation: damage costs only the damaged record ------------------------------------------------------

AUDIT = [
    {"id": f"r{i}", "time": f"2026-11-01T10:00:0{i}.000Z", "ua": "cli/1 ext/{tf}{9}", "p": ['{"a":1}{"b":2}']}
    for i in range(5)
]
"""Records that, like real ones, carry ``}{`` inside string values."""


def _compact(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def _laid_out(texts: list[bytes], layout: str) -> bytes:
    if layout == "one-per-line":
        return b"".join(t + b"\n" for t in texts)
    if layout == "joined":
        return b"".join(texts) + b"\n"
    return b"".join(t + b"\r\n" for t in texts)


def _texts(layout: str) -> list[bytes]:
    if layout == "multi-line-crlf":
        return [json.dumps(r, indent=2).replace("\n", "\r\n").encode() for r in AUDIT]
    return [_compact(r) for r in AUDIT]


def _before(text: bytes, insert: bytes, where: bytes) -> bytes:
    at = text.index(where)
    return text[:at] + insert + text[at:]


LAYOUT_NAMES = ["one-per-line", "joined", "crlf", "multi-line-crlf"]
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "torn-by-a-garbage-line": lambda text: text[: len(text) // 2] + b"\nGARBAGE\n" + text[len(text) // 2 :],
    "stray-open-brace": lambda text: _before(text, b"{", b'"cli'),
    "stray-quote": lambda text: _before(text, b'"', b'"ua"'),
    "cut-short": lambda text: text[: len(text) // 2] + b"\n",
}


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_costs_exactly_the_damaged_record(layout: str, damage: str) -> None:
    texts = _texts(layout)
    texts[2] = DAMAGE[damage](texts[2])
    data = _laid_out(texts, layout)
    found = assert_chunking_invariant(data)
    assert values([i for i in found if isinstance(i, Record)]) == [AUDIT[0], AUDIT[1], AUDIT[3], AUDIT[4]]
    (fragment,) = fragments(found)
    assert fragment.text == data[fragment.offset : fragment.end]
    assert fragment.offset == data.index(texts[2])
    assert texts[2].startswith(fragment.text) or damage == "torn-by-a-garbage-line"
    assert fragment.reason


def test_a_brace_at_a_line_start_inside_a_damaged_record_starts_an_object() -> None:
    """The rule: after damage, a "{" at the start of a line whose object parses is where decoding resumes, even
    when it is the damaged record's own tail. Its bytes are kept either way, and the next record is intact."""
    text = json.dumps(AUDIT[2], indent=2).encode()
    at = text.index(b'"ua"')
    data = text[:at] + b"{" + text[at:] + b"\n" + _compact(AUDIT[3]) + b"\n"
    found = assert_chunking_invariant(data)
    tail = data[at : data.index(b"\n}", at) + 2]
    assert [type(i).__name__ for i in found] == ["Fragment", "Record", "Record"]
    assert isinstance(found[0], Fragment)
    assert found[0].text == text[:at].rstrip()
    assert values(found[1:]) == [orjson.loads(tail), AUDIT[3]]


def test_the_damaged_record_is_one_fragment_with_its_garbage_line() -> None:
    text = _compact(AUDIT[2])
    data = _compact(AUDIT[1]) + b"\n" + text[:30] + b"\nGARBAGE\n" + text[30:] + _compact(AUDIT[3]) + b"\n"
    found = assert_chunking_invariant(data)
    assert [type(i).__name__ for i in found] == ["Record", "Fragment", "Record"]
    fragment = found[1]
    assert isinstance(fragment, Fragment)
    assert fragment.text == text[:30] + b"\nGARBAGE\n" + text[30:]
    assert (fragment.offset, fragment.line, fragment.reason) == (len(_compact(AUDIT[1])) + 1, 2, "unterminated string")


def test_a_stray_closing_brace_costs_only_itself() -> None:
    data = b'{"a":1}}{"b":2}\n'
    found = assert_chunking_invariant(data)
    assert found[0] == Record({"a": 1}, b'{"a":1}', 7)
    assert isinstance(found[1], Fragment)
    assert (found[1].text, found[1].offset, found[1].end) == (b"}", 7, 8)
    assert found[2] == Record({"b": 2}, b'{"b":2}', 15)


def test_an_open_quote_does_not_hide_the_record_joined_after_it() -> None:
    # from the damaged record's start, the next record's "{" lies inside a string: it is judged on its own
    data = b'{"ua":"x}{y","n":"oops}{"next":2}\n{"last":3}\n'
    found = assert_chunking_invariant(data)
    assert values([i for i in found if isinstance(i, Record)]) == [{"next": 2}, {"last": 3}]
    assert [f.text for f in fragments(found)] == [b'{"ua":"x}{y","n":"oops}']


def test_a_multi_line_record_joined_after_damage_is_found() -> None:
    data = b'{"a":"p}{q","z":"x"y"}{\n  "b": 1\n}\n{"c":2}\n'
    found = assert_chunking_invariant(data)
    assert values([i for i in found if isinstance(i, Record)]) == [{"b": 1}, {"c": 2}]
    assert [f.text for f in fragments(found)] == [b'{"a":"p}{q","z":"x"y"}']


def test_damage_inside_a_pretty_printed_record_resumes_at_the_next_record() -> None:
    pretty = json.dumps({"a": 1, "b": {"c": [1, 2]}, "d": "x"}, indent=2).encode()
    damaged = pretty.replace(b'"c"', b'"c" oops')
    data = damaged + b"\n" + b'{"next":1}\n'
    found = assert_chunking_invariant(data)
    assert [(type(i).__name__) for i in found] == ["Fragment", "Record"]
    assert isinstance(found[0], Fragment)
    assert found[0].text == damaged
    assert found[0].reason == "invalid JSON"


PATHOLOGICAL = '"}{' * 3000  # a value with thousands of "}{" (and quotes) inside one string


def test_a_string_with_thousands_of_brace_pairs_stays_one_record_when_joined() -> None:
    records: list[dict[str, Any]] = [{"a": 1}, {"s": PATHOLOGICAL, "t": "}{" * 3000}, {"b": 2}]
    data = b"".join(_compact(r) for r in records) + b"\n"
    found = items(data)
    assert values(found) == records
    assert all(isinstance(i, Record) and i.raw is not None for i in found)


def test_damage_next_to_a_string_with_thousands_of_brace_pairs_costs_only_itself() -> None:
    big = _compact({"s": PATHOLOGICAL})
    data = big[:-5] + b"\n" + big + b"{" + big + b"\n" + big + _compact({"z": 1}) + b"\n"
    found = items(data)
    assert values([i for i in found if isinstance(i, Record)]) == [{"s": PATHOLOGICAL}, {"s": PATHOLOGICAL}, {"z": 1}]
    assert [f.text for f in fragments(found)] == [big[:-5], b"{" + big]


def test_a_long_line_of_alternating_damaged_and_good_records_keeps_every_good_one() -> None:
    good, bad = b'{"ok":1,"s":"}{"}', b'{"bad":x}'
    data = (bad + good) * 500 + b"\n"
    found = items(data)
    assert [i.value for i in found if isinstance(i, Record)] == [{"ok": 1, "s": "}{"}] * 500
    assert [f.text for f in fragments(found)] == [bad] * 500
    assert all(f.reason == "invalid JSON" for f in fragments(found))


def test_records_separated_by_spaces_on_one_long_line() -> None:
    data = b" ".join([b'{"n":1}'] * 3000) + b"\n"
    assert values(items(data)) == [{"n": 1}] * 3000


# --- records printed over many lines, taken whole ------------------------------------------------------------------


def test_a_pretty_printed_record_and_a_record_joined_to_its_last_line_are_both_records() -> None:
    first = {"id": "a", "time": "2026-11-01T10:00:00Z", "data": {"nested": {"x": [1, {"y": "}{"}]}}}
    second = {"id": "b", "data": {"message": "x}{"}}
    data = json.dumps(first, indent=2).encode() + orjson.dumps(second) + b"\n" + orjson.dumps(second) + b"\n"
    found = assert_chunking_invariant(data)
    assert values(found) == [first, second, second]
    assert isinstance(found[0], Record)
    assert found[0].end == data.index(b"\n}") + 2


def test_a_record_whose_inner_object_closes_at_the_line_start_is_still_one_record() -> None:
    """The first line starting with ``}`` closes an inner object: that span is not the record, the scanner finds
    its end."""
    data = b'{\n"a": {\n"b": "}{"\n},\n"time": "2026-11-01T10:00:00Z"\n}\n{"id": 2}\n'
    assert values(assert_chunking_invariant(data)) == [{"a": {"b": "}{"}, "time": "2026-11-01T10:00:00Z"}, {"id": 2}]


def test_a_damaged_pretty_printed_record_costs_only_itself() -> None:
    good = {"id": "good", "data": {"k": [1, 2]}}
    damaged = b'{\n  "id": "broken",\n  "data": [\n}\n'
    data = json.dumps(good, indent=2).encode() + b"\n" + damaged + json.dumps(good, indent=2).encode() + b"\n"
    found = assert_chunking_invariant(data)
    assert [i.value for i in found if isinstance(i, Record)] == [good, good]
    (fragment,) = fragments(found)
    assert fragment.text == damaged.rstrip(b"\n")
