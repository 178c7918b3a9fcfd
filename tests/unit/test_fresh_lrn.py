"""The fresh LRN each example declaration gets."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from silkway.examples import fresh_lrn
from silkway.transit.domain.declaration import TransitDeclaration

LRN_PATTERN = next(
    m.pattern
    for m in TransitDeclaration.model_fields["lrn"].metadata
    if getattr(m, "pattern", None)
)


def test_a_fresh_lrn_keeps_the_series_and_the_time_and_is_a_valid_lrn() -> None:
    at = datetime(2026, 12, 6, 21, 45, 19, tzinfo=UTC)
    lrn = fresh_lrn("SRF-WR-2026-0001", at)
    assert re.fullmatch(r"SRF-261206214519-[A-Z2-9]{3}", lrn), lrn
    # However long the example's series, the LRN stays one the declaration takes.
    for made in (lrn, fresh_lrn("A-VERY-LONG-SERIES-NAME-0001", at), fresh_lrn("", at)):
        assert 1 <= len(made) <= 22
        assert re.fullmatch(LRN_PATTERN, made), made
    assert fresh_lrn("", at).startswith("261206214519-")
    # The random suffix: fifty drawn in one second are not all one.
    assert len({fresh_lrn("SRF-WR-2026-0001", at) for _ in range(50)}) > 1
