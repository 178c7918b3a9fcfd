"""How decimals, dates, times and free text travel in JSON: exactly as their schema says.

Every type here is a pydantic annotation whose JSON schema and whose parser agree: what the
schema allows is accepted, and nothing else is. Pydantic's own lax parsing would take a date
from the number ``0``, a decimal from a float or from ``"1e3"``, and strip whitespace before
counting characters, none of which a schema can say; so each type checks the wire form itself
(ASCII digits, ``[0-9]``, never ``\\d``, which means more in Python than in a JSON Schema) and
then builds the value. Values built in Python (a ``Decimal``, a ``date``) pass unchanged, so the
domain keeps constructing its models directly.

Decimals are strings ("12.50"): a JSON number could not carry every digit, and a string pattern
says exactly which are allowed. They are written back in positional notation, never "1E+2".
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, StrictBool, WithJsonSchema
from pydantic_core import PydanticCustomError

_DIGITS = "[0-9]"
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Every character with Unicode's White_Space property, spelled out so that every regular
expression engine (the schema's, the test generator's, the parser's) reads the same class."""


def _anchored(body: str) -> str:
    return f"^{body}$"


def decimal_pattern(
    *, integer_digits: int | None = None, places: int | None = None, signed: bool = False
) -> str:
    """The body (unanchored) of a plain decimal: digits, optionally a point and more digits."""
    integer = f"{_DIGITS}{{1,{integer_digits}}}" if integer_digits else f"{_DIGITS}+"
    fraction = f"{_DIGITS}{{1,{places}}}" if places else f"{_DIGITS}+"
    return ("-?" if signed else "") + f"{integer}(\\.{fraction})?"


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _decimal_parser(body: str, description: str) -> BeforeValidator:
    compiled = re.compile(body)

    def parse(value: Any) -> Any:
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str) and compiled.fullmatch(value):
            return Decimal(value)
        raise _fail("decimal_string", f"expected {description}, as a string")

    return BeforeValidator(parse)


def _decimal_schema(body: str, description: str, examples: list[str]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": _anchored(body),
            "description": f"{description[0].upper()}{description[1:]}.",
            "examples": examples,
        },
        mode="validation",
    )


_POSITIONAL = PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
"""Decimals go out as digits and a point, never in exponent notation."""
_DECIMAL_OUT = WithJsonSchema(
    {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}, mode="serialization"
)

_QUANTITY = decimal_pattern(signed=True)
_QUANTITY_SAYS = "a decimal number: digits, optionally a point and more digits"
Quantity = Annotated[
    Decimal,
    _decimal_parser(_QUANTITY, _QUANTITY_SAYS),
    _POSITIONAL,
    _decimal_schema(_QUANTITY, _QUANTITY_SAYS, ["8900.0", "52000.00"]),
    _DECIMAL_OUT,
]
"""A mass, a value, a supplementary quantity of a declaration (whether it may be negative or
zero is a declaration rule, reported with the rule's own code)."""

_MONEY = r"(?!0*(\.0*)?$)" + decimal_pattern(integer_digits=16, places=2)
_MONEY_SAYS = "an amount above zero: up to 16 digits, optionally a point and 1 or 2 more"
Money = Annotated[
    Decimal,
    _decimal_parser(_MONEY, _MONEY_SAYS),
    _POSITIONAL,
    _decimal_schema(_MONEY, _MONEY_SAYS, ["500000.00", "12.5"]),
    _DECIMAL_OUT,
]
"""An amount of money above zero, to the cent."""

_PERCENT = r"(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)"
_PERCENT_SAYS = "a percentage from 0 to 100 with at most 2 decimal places"
Percent = Annotated[
    Decimal,
    _decimal_parser(_PERCENT, _PERCENT_SAYS),
    _POSITIONAL,
    _decimal_schema(_PERCENT, _PERCENT_SAYS, ["0", "50", "12.25"]),
    _DECIMAL_OUT,
]
"""A percentage from 0 to 100, to two decimal places."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _parse_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail("date_string", "expected a date as a string YYYY-MM-DD")


def _parse_datetime(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    found = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    if found:
        day, clock, fraction, offset = found.groups()
        fraction = (fraction or "")[:7]
        offset = "+00:00" if offset in ("Z", "z") else offset
        try:
            return datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
        except ValueError:
            pass
    raise _fail(
        "datetime_string", "expected a time as a string YYYY-MM-DDThh:mm:ss with Z or ±hh:mm"
    )


Date = Annotated[
    date,
    BeforeValidator(_parse_date),
    WithJsonSchema({"type": "string", "format": "date"}, mode="validation"),
]
"""A calendar date as RFC 3339 writes it, ``2026-12-01``. (RFC 3339 also allows the year 0000,
which no calendar of Python's has; no client of a customs system will send it.)"""

Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_datetime),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="validation"),
]
"""An instant with its UTC offset as RFC 3339 writes it, ``2026-12-01T08:00:00Z``; fractions of
a second beyond the microsecond are cut."""


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer, and neither "3" nor true.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _fail("int_type", "expected an integer")


JSON_INTEGER = BeforeValidator(_json_integer)
"""Put last in ``Annotated[int, Field(ge=…), JSON_INTEGER]``, so that the bounds stay in the
schema: an integer in a JSON body is a number without a fraction (``3`` or ``3.0``), never a
string or a boolean."""

Whole = Annotated[int, JSON_INTEGER]
"""An integer in a JSON body, without bounds."""

Flag = StrictBool
"""A boolean in a JSON body: ``true`` or ``false``, never ``0`` or ``"yes"``."""


def _query_flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _fail("bool_parsing", "expected true or false")


QueryFlag = Annotated[bool, BeforeValidator(_query_flag)]
"""A boolean query parameter, ``true`` or ``false`` as OpenAPI writes them (not ``1`` or ``on``)."""

XML_FORBIDDEN = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f"
"""The control characters XML 1.0 cannot carry (a character-class range): text holding one
could never travel to another state in an envelope, so it is refused where it enters."""
_EDGE = f"[^{WHITESPACE}{XML_FORBIDDEN}]"
TEXT_PATTERN = _anchored(f"{_EDGE}([^{XML_FORBIDDEN}]*{_EDGE})?")
"""Free text that is not blank, neither starts nor ends with whitespace, and holds no
control character but tab, line feed and carriage return."""
