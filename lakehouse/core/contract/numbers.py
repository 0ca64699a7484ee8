"""Numbers as JavaScript prints them: how Segment's libraries turn a numeric id into text.

Segment's clients (analytics.js, analytics-node, the server libraries behind the HTTP API) treat a ``userId``
sent as the JSON number ``4243.0`` as the string ``"4243"``: the id becomes ``String(value)``, i.e. ECMAScript's
``Number::toString`` (ECMA-262, section "Number::toString(x)"). :func:`js_number_text` implements that algorithm
so one customer is not split into "4243" and "4243.0".
"""

from __future__ import annotations

import math
from decimal import Decimal

from lakehouse.core.contract.limits import MAX_NUMBER_CHARS

#: why a number is refused (:func:`storable_number`)
UNREADABLE_NUMBER = (f"must be a finite number (not NaN or Infinity) within a double's range (about ±1.8e308), "
                     f"at most {MAX_NUMBER_CHARS} characters long: the lake's JSON readers cannot read it back")

#: integers up to 2**53 are exact as JavaScript numbers and print the same in both languages
_EXACT_INT = 2**53


def _shortest_digits(value: float) -> tuple[str, int]:
    """(digits, n) with value == 0.digits x 10**n and digits as short as possible (no trailing zero).

    Python's ``repr`` of a float is the shortest text that reads back as the same float, which is what
    ECMA-262 asks for ("k is as small as possible").
    """
    _sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    return digits, int(exponent) + len(digits)


def js_float_text(value: float) -> str:
    """``String(value)`` in JavaScript for a finite float (ECMA-262 Number::toString with radix 10).

    Raises ``ValueError`` for NaN and infinities (never valid ids).

    Examples: ``4243.0 -> "4243"``, ``1e21 -> "1e+21"``, ``1e-7 -> "1e-7"``, ``0.000001 -> "0.000001"``,
    ``-0.0 -> "0"``.
    """
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    if value == 0:
        return "0"  # +0 and -0 alike
    if value < 0:
        return "-" + js_float_text(-value)
    digits, n = _shortest_digits(value)
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"


def js_number_text(value: int | float | Decimal) -> str:
    """The text of a numeric id as Segment's JavaScript libraries make it.

    Floats and Decimals (a JSON number with a fraction or an exponent) are read as a JavaScript number (the
    nearest double) and printed by :func:`js_float_text`. Integers print as their digits; beyond 2**53, where
    JavaScript would round them (and merge distinct ids), the exact digits are kept. Raises ``ValueError``
    for a number that is not finite.
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("must be a finite number")
        if value == value.to_integral_value() and abs(value) < _EXACT_INT:
            return str(int(value))
        value = float(value)
    return js_float_text(value)


def storable_number(value: int | float | Decimal) -> bool:
    """Whether JSON readers downstream can read ``value`` back: finite, within a double's range (about
    ±1.8e308; readers turn larger numbers into Infinity) and written in at most :data:`MAX_NUMBER_CHARS`
    characters (``str(value)``, the text :func:`lakehouse.core.contract.record.dumps_record` writes).

    Booleans count as storable (JSON writes them as ``true``/``false``). Never raises: integers too long for
    ``str`` (Python's 4,300-digit limit) are judged by their bit length.
    """
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value.bit_length() <= 4 * MAX_NUMBER_CHARS and len(str(value)) <= MAX_NUMBER_CHARS
    if isinstance(value, Decimal):
        return (value.is_finite() and len(str(value)) <= MAX_NUMBER_CHARS
                and not math.isinf(float(value)))
    return math.isfinite(value)
