"""RFC 8785 JSON Canonicalization Scheme (JCS): one JSON value, one byte string.

Theory of operation. An Agent Card signature covers canonical bytes (spec §8.4.1), so
signer and verifier must serialise the same JSON value to the same bytes whatever
library produced it. JCS fixes every choice JSON leaves open:

* **Objects**: members sorted by their names compared as arrays of UTF-16 code units
  (RFC 8785 §3.2.3). Comparing the big-endian UTF-16 encodings byte by byte gives
  exactly that order; sorting Python ``str`` (code points) does not, for names with
  characters above U+FFFF.
* **Strings** (§3.2.2.2): only ``"``, ``\\`` and the C0 controls are escaped; the
  controls use ``\\b \\t \\n \\f \\r`` where JSON has a short form and ``\\u00xx``
  (lowercase hex) otherwise. Everything else, non-ASCII included, is literal UTF-8.
* **Numbers** (§3.2.2.3): the ECMAScript ``Number.prototype.toString`` form of the
  IEEE 754 double, e.g. ``1e+30``, ``0.002``, ``333333333.3333333``; ``-0`` is ``0``.
  Python's ``repr`` already yields the shortest digit string that round-trips (the
  same digits ECMAScript picks); only their layout differs, so :func:`_number` re-lays
  the digits out by ECMA-262 §6.1.6.1.20.
* **Literals**: ``null``, ``true``, ``false``; no whitespace anywhere.

Inputs must be JSON that RFC 8785 §3.1 can canonicalise: no NaN or Infinity, valid
Unicode (no lone surrogates), string keys. An integer is the IEEE double a JSON parser
reads it as (the text ``100000000000000000000`` arrives in Python as an ``int`` but
is the double ``1e+20``), exactly as ECMAScript's ``JSON.parse`` treats it; integers
beyond ±(2**53 - 1) may therefore be rounded, which is why I-JSON (RFC 7493 §2.2)
advises against them. (The ``rfc8785`` package refuses them instead.)
Anything else raises :class:`ValueError` (or :class:`TypeError` for non-JSON types).

This module does no I/O and needs nothing beyond the standard library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "canonicalize"]

#: Largest integer a double holds exactly (I-JSON, RFC 7493 §2.2); integers beyond it
#: are canonicalised as the nearest double.
MAX_SAFE_INTEGER = 2**53 - 1
#: Deepest nesting of arrays/objects accepted. Card members such as
#: ``AgentExtension.params`` are free-form JSON chosen by whoever wrote the card; a
#: bound keeps a hostile card from exhausting the interpreter stack of a verifier.
MAX_DEPTH = 128

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    ``value`` is made of ``None``, ``bool``, ``int``, ``float``, ``str``, sequences
    (``list``/``tuple``) and mappings with ``str`` keys.

    Raises:
        ValueError: NaN/Infinity, an integer beyond the range of a double, a lone
            surrogate, or nesting deeper than :data:`MAX_DEPTH`.
        TypeError: a value or key of a non-JSON type.

    Example::

        >>> canonicalize({"b": [1.0, -0.0, 1e21], "a": "€"})
        b'{"a":"\\xe2\\x82\\xac","b":[1,0,1e+21]}'
    """
    out: list[str] = []
    _write(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("JCS input contains a lone surrogate (not Unicode)") from exc


def _write(value: Any, out: list[str], depth: int) -> None:
    # Order matters: bool is an int, str is a Sequence.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            out.append(str(int(value)))
        else:
            out.append(_big_integer(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        _check_depth(depth)
        members: list[tuple[bytes, str, Any]] = []
        for key, member in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"JSON object keys must be str, not {type(key).__name__}"
                )
            try:
                members.append((key.encode("utf-16-be"), key, member))
            except UnicodeEncodeError as exc:
                raise ValueError("object key contains a lone surrogate") from exc
        members.sort(key=lambda item: item[0])
        out.append("{")
        for index, (_, key, member) in enumerate(members):
            if index:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(member, out, depth + 1)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        _check_depth(depth)
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _big_integer(value: int) -> str:
    # JSON has one number type: a parser reads 100000000000000000000 (handed to Python
    # as an int) and 1e20 as the same IEEE double, and RFC 8785 serialises that
    # double. So does this, as ECMAScript's JSON.parse would: the nearest double.
    try:
        return _number(float(value))
    except OverflowError:
        raise ValueError(f"integer {value} is beyond the range of a double") from None


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ValueError(f"JSON nesting deeper than {MAX_DEPTH} levels")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _number(value: float) -> str:
    """ECMAScript ``Number::toString(value)`` (ECMA-262 §6.1.6.1.20, RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number (I-JSON has no NaN/Infinity)")
    if value == 0:
        return "0"  # both +0 and -0 (step 2)
    if value < 0:
        return "-" + _number(-value)
    # repr gives the shortest round-tripping digits: "1.5e-07", "123.45", "1e+16".
    mantissa, _, exp_text = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # value = 0.<digits> x 10**n (ECMAScript's s, k, n), before trimming zeros.
    n = len(whole) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:  # an integer: the digits then zeros
        return digits + "0" * (n - k)
    if 0 < n <= 21:  # a decimal point inside the digits
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:  # 0.000ddd
        return "0." + "0" * -n + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{head}e{sign}{abs(exponent)}"
