"""The wire types: what each one's JSON schema allows is exactly what it parses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from silkway.kernel import wire

DECIMALS = {"Money": wire.Money, "Percent": wire.Percent, "Quantity": wire.Quantity}


def _accepts(kind: Any, value: Any) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def _pattern(kind: Any) -> str:
    pattern = TypeAdapter(kind).json_schema()["pattern"]
    assert isinstance(pattern, str)
    return pattern


@pytest.mark.parametrize("name", sorted(DECIMALS))
@given(data=st.data())
def test_a_decimal_is_accepted_exactly_when_its_pattern_matches(name: str, data: Any) -> None:
    kind = DECIMALS[name]
    pattern = _pattern(kind)
    body = pattern.removeprefix("^").removesuffix("$")
    text = data.draw(st.one_of(st.from_regex(pattern, fullmatch=True), st.text(max_size=24)))
    assert _accepts(kind, text) == bool(re.fullmatch(body, text))


@pytest.mark.parametrize(
    ("kind", "value", "accepted"),
    [
        (wire.Money, "500000.00", True),
        (wire.Money, "12.5", True),
        (wire.Money, "", False),
        (wire.Money, "0.00", False),
        (wire.Money, "1.001", False),
        (wire.Money, "1e3", False),
        (wire.Money, 12.5, False),
        (wire.Money, Decimal("12.50"), True),
        (wire.Percent, "100", True),
        (wire.Percent, "100.01", False),
        (wire.Quantity, "-5", True),
        (wire.Date, "2026-12-01", True),
        (wire.Date, "2026-02-30", False),
        (wire.Date, 0, False),
        (wire.Date, "2026-12-01T00:00:00", False),
        (wire.Timestamp, "2026-12-01T08:00:00Z", True),
        (wire.Timestamp, "2026-12-01T08:00:00", False),
        (wire.Timestamp, "2026-12-01 08:00:00Z", False),
        (wire.Whole, 3.0, True),
        (wire.Whole, "3", False),
        (wire.Whole, True, False),
        (wire.Flag, 0, False),
        (wire.QueryFlag, "true", True),
        (wire.QueryFlag, "1", False),
    ],
)
def test_the_wire_forms(kind: Any, value: Any, accepted: bool) -> None:
    assert _accepts(kind, value) is accepted


def test_decimals_go_out_in_positional_notation() -> None:
    adapter = TypeAdapter(wire.Quantity)
    assert adapter.dump_json(adapter.validate_python("0.0000001")) == b'"0.0000001"'


def test_values_built_in_python_pass_unchanged() -> None:
    assert TypeAdapter(wire.Date).validate_python(date(2026, 12, 1)) == date(2026, 12, 1)
    moment = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert TypeAdapter(wire.Timestamp).validate_python(moment) == moment


@given(text=st.text(max_size=12))
def test_text_is_taken_as_written_not_blank_nor_padded(text: str) -> None:
    matches = re.fullmatch(wire.TEXT_PATTERN.removeprefix("^").removesuffix("$"), text)
    padded = text != text.strip(wire.WHITESPACE)
    # The control characters XML 1.0 cannot carry: no envelope could take such text.
    control = any(ord(c) < 32 and c not in "\t\n\r" for c in text)
    assert bool(matches) == (text != "" and not padded and not control)
    # Pydantic's own regular expressions (not Python's) read the pattern the same way.
    assert _accepts(Annotated[str, Field(pattern=wire.TEXT_PATTERN)], text) == bool(matches)
