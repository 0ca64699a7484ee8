"""Numeric ids as JavaScript prints them (ECMA-262 Number::toString), against JavaScript's documented output;
which numbers the lake can store."""

from decimal import Decimal

import pytest

from lakehouse.core.contract.limits import MAX_NUMBER_CHARS
from lakehouse.core.contract.numbers import js_float_text, js_number_text, storable_number

# value -> String(value) in JavaScript: examples from MDN (Number.prototype.toString, toExponential notes)
# and ECMA-262's rules (fixed notation for exponents -7 < e < 21, exponent notation beyond)
JAVASCRIPT = [
    (4243.0, "4243"),
    (0.5, "0.5"),
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (123e-20, "1.23e-18"),
    (0.000001, "0.000001"),
    (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"),
    (0.1 + 0.2, "0.30000000000000004"),
    (-0.0, "0"),
    (-1.5, "-1.5"),
    (255.0, "255"),
    (123.456, "123.456"),
    (2.0**53, "9007199254740992"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (5e-324, "5e-324"),
    (1.2345678901234567e21, "1.2345678901234568e+21"),
    (123456789012345680000.0, "123456789012345680000"),
]


@pytest.mark.parametrize(("value", "text"), JAVASCRIPT, ids=[t for _, t in JAVASCRIPT])
def test_floats_print_as_javascript_prints_them(value: float, text: str) -> None:
    assert js_float_text(value) == text


def test_decimals_are_read_as_the_javascript_number_they_denote() -> None:
    # a JSON parser in JavaScript turns the text into the nearest double, then String() prints it
    assert js_number_text(Decimal("4243.000")) == "4243"
    assert js_number_text(Decimal("1E+21")) == "1e+21"
    assert js_number_text(Decimal("0.50")) == "0.5"
    assert js_number_text(Decimal("9007199254740993.0")) == "9007199254740992"  # above 2**53: rounded, as in JS


def test_integers_keep_every_digit() -> None:
    """Beyond 2**53 JavaScript would round (2**53 + 1 prints as ...992) and merge two ids: the digits stay."""
    assert js_number_text(42) == "42"
    assert js_number_text(2**53 + 1) == "9007199254740993"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_non_finite_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="finite"):
        js_number_text(value)  # type: ignore[arg-type]


STORABLE = [
    (10**(MAX_NUMBER_CHARS - 1), True),  # 100 digits
    (-(10**(MAX_NUMBER_CHARS - 2)), True),  # the sign counts: 100 characters
    (10**MAX_NUMBER_CHARS, False),
    (-(10**(MAX_NUMBER_CHARS - 1)), False),
    (10**5000, False),  # past Python's 4,300-digit str() limit: judged without printing it
    (Decimal("1." + "1" * (MAX_NUMBER_CHARS - 2)), True),
    (Decimal("1." + "1" * (MAX_NUMBER_CHARS - 1)), False),
    (Decimal("1." + "0" * 999 + "1"), False),
    (Decimal("0." + "0" * 998 + "1"), True),  # written 1E-999: short, and a double reads it (as 0)
    (Decimal("1.7976931348623157E+308"), True),
    (Decimal("1E+309"), False),  # a double reads it as Infinity
    (Decimal("-1E+400"), False),
    (Decimal("NaN"), False),
    (1e308, True),
    (float("inf"), False),
    (True, True),
]


@pytest.mark.parametrize(("value", "storable"), STORABLE, ids=[f"case{i}" for i in range(len(STORABLE))])
def test_storable_numbers_are_short_and_within_a_doubles_range(value: object, storable: bool) -> None:
    assert storable_number(value) is storable  # type: ignore[arg-type]
