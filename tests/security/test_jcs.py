"""RFC 8785 canonicalisation: the RFC's vectors, and differential tests against the
``rfc8785`` package (an independent implementation) over arbitrary JSON values."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accord.security.jcs import MAX_DEPTH, MAX_SAFE_INTEGER, canonicalize

# --- RFC 8785 vectors ----------------------------------------------------------------

#: RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_appendix_b_numbers(bits: str, text: str) -> None:
    assert canonicalize(_double(bits)) == text.encode()


@pytest.mark.parametrize(
    "bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]
)
def test_appendix_b_nan_and_infinity_are_refused(bits: str) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        canonicalize(_double(bits))


def test_section_3_2_2_sample() -> None:
    # RFC 8785 §3.2.2: the sample input and its canonical form.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode()


def test_section_3_2_3_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonicalize(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # Code-point order would put the emoji last: the difference this rule makes.
    assert sorted(value)[-1] == "\U0001f600"


def test_string_escaping_is_minimal() -> None:
    text = "".join(chr(c) for c in range(0x20)) + '"\\/é€😀\u007f\u2028'
    out = canonicalize(text).decode()
    assert out == (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b'
        "\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
        '\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\"\\\\/é€😀\u007f\u2028"'
    )


def test_no_whitespace_and_literals() -> None:
    value: dict[str, Any] = {
        "b": [1, 2.5, None, True, False, [], {}],
        "a": {"z": -0.0, "y": ""},
    }
    assert (
        canonicalize(value) == b'{"a":{"y":"","z":0},"b":[1,2.5,null,true,false,[],{}]}'
    )


def test_tuples_are_arrays() -> None:
    assert canonicalize((1, ("a",))) == b'[1,["a"]]'


# --- refusals ------------------------------------------------------------------------


def test_integers_beyond_a_double_are_refused() -> None:
    with pytest.raises(ValueError, match="range of a double"):
        canonicalize(10**400)


@pytest.mark.parametrize(
    "number", [2**53, 2**53 + 1, -(2**60), 10**20, 10**21, 10**30 + 1, 10**300]
)
def test_big_integers_are_the_double_json_parsers_read(number: int) -> None:
    # JSON has one number type: 100000000000000000000 and 1e20 are the same value,
    # and ECMAScript's JSON.parse rounds 2**53 + 1 to 2**53.
    assert canonicalize(number) == canonicalize(float(number))


def test_rfc8785_package_refuses_big_integers_instead() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        rfc8785.dumps(2**53)


def test_largest_safe_integers_are_fine() -> None:
    assert (
        canonicalize([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
        == b"[9007199254740991,-9007199254740991]"
    )


@pytest.mark.parametrize("value", ["\ud800", {"\udfff": 1}, ["a\udc00b"]])
def test_lone_surrogates_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize(value)


@pytest.mark.parametrize("value", [{1: "a"}, b"bytes", {1.5}, object()])
def test_non_json_types_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        canonicalize(value)


def test_nesting_is_bounded() -> None:
    ok: Any = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert canonicalize(ok).startswith(b"[[")
    deep: Any = {}
    for _ in range(MAX_DEPTH):
        deep = {"a": deep}
    with pytest.raises(ValueError, match="nesting"):
        canonicalize(deep)


# --- differential: accord vs rfc8785 ----------------------------------------------------

_safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
_floats = st.floats(allow_nan=False, allow_infinity=False)
# Full Unicode including astral characters (UTF-16 surrogate pairs); lone surrogates
# are not Unicode scalar values and are tested above.
_text = st.text(st.characters(codec="utf-8"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | _safe_ints | _floats | _text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
@example({"\U0001f600": 1, "\ufb33": 2, "\uff61": 3})
@example([1e21, 1e-7, 1e-6, 123456789012345680000.0, 5e-324, -0.0])
def test_matches_rfc8785_package(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=1000, deadline=None)
@given(_floats)
def test_numbers_match_and_round_trip(number: float) -> None:
    text = canonicalize(number)
    assert text == rfc8785.dumps(number)
    assert float(text) == number or (number == 0 and float(text) == 0)
    assert not math.isnan(float(text))


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_canonical_form_is_a_fixed_point(value: Any) -> None:
    once = canonicalize(value)
    assert canonicalize(json.loads(once)) == once
