"""Subject matching as NATS does it, and the backoff schedule both buses use."""

from __future__ import annotations

import pytest

from silkway.exchange.bus.handling import RetryPolicy
from silkway.exchange.bus.ports import subject_for
from silkway.exchange.bus.subjects import check_filter, check_subject, subject_matches


@pytest.mark.parametrize(
    ("filter_subject", "subject", "expected"),
    [
        ("silkway.KZ.P_CP_01", "silkway.KZ.P_CP_01", True),
        ("silkway.KZ.P_CP_01", "silkway.KZ.P_CP_02", False),
        ("silkway.*.P_CP_01", "silkway.RU.P_CP_01", True),
        ("silkway.*.P_CP_01", "silkway.RU.P_CP_01.x", False),
        ("silkway.*", "silkway.RU.P_CP_01", False),
        ("silkway.>", "silkway.RU.P_CP_01", True),
        ("silkway.>", "silkway.RU", True),
        ("silkway.RU.>", "silkway.RU", False),
        ("silkway.RU.>", "silkway.RU.P_CP_01.a.b", True),
        ("silkway.*.>", "silkway.RU", False),
        ("silkway.*.*", "silkway.RU.x", True),
        ("silkway.KZ", "silkway.KZ.P_CP_01", False),
    ],
)
def test_subject_matching(filter_subject: str, subject: str, expected: bool) -> None:
    check_filter(filter_subject)
    check_subject(subject)
    assert subject_matches(filter_subject, subject) is expected


def test_subject_for_is_a_valid_subject() -> None:
    assert check_subject(subject_for("KZ", "P.CP.01")) == ["silkway", "KZ", "P_CP_01"]


@pytest.mark.parametrize("bad", ["silkway", "silkway.", "silkway.a b", "silkway.a*", "x.y"])
def test_bad_subjects(bad: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        check_subject(bad)


@pytest.mark.parametrize("bad", ["silkway.>.x", "silkway.a>", "silkway.**", "other.>"])
def test_bad_filters(bad: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        check_filter(bad)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=5.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(10_000) == 5.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_bad_backoff(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        RetryPolicy(base=base, cap=cap)
