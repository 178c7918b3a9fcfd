"""The one table from domain errors to HTTP statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import AmountInvalid, InsufficientFunds, LedgerError
from silkway.kernel.errors import DomainError, MovementBusy
from silkway.seals import service as seals
from silkway.transit import service as transit
from silkway.web.error_table import TABLE, problem_extra, problem_kind
from silkway.web.problems import domain_problem

UNTIL = datetime(2026, 12, 1, 8, 15, tzinfo=UTC)


def _types(row: type[DomainError] | tuple[type[DomainError], ...]) -> tuple[type, ...]:
    return row if isinstance(row, tuple) else (row,)


def test_no_row_is_shadowed_by_an_earlier_one() -> None:
    # The first matching row wins, so a type placed after one of its bases would never be used.
    for index, (types, _kind) in enumerate(TABLE):
        for earlier, _ in TABLE[:index]:
            for kind in _types(types):
                assert not issubclass(kind, _types(earlier)), (kind, earlier)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MovementBusy("changed meanwhile"), 409),
        (transit.MovementNotFound("no such movement"), 404),
        (transit.LrnConflict("LRN used"), 409),
        (transit.OfficeOfAnotherState("BY office", [], office_state="BY"), 422),
        (guarantees.AccessCodeLocked("locked", [], locked_until=UNTIL), 429),
        (InsufficientFunds(Decimal("10.00"), Decimal("2.50")), 409),
        (AmountInvalid("negative"), 422),
        (LedgerError("store contention"), 503),
        (guarantees.RegistryBusy("busy"), 503),
        (seals.SealExists("seal exists"), 409),
        (seals.IncidentNotFound("no incident"), 404),
        (DomainError("anything else"), 422),
    ],
)
def test_each_error_has_one_status(error: DomainError, status: int) -> None:
    assert problem_kind(error).status == status


def test_a_lockout_says_until_when() -> None:
    extra = problem_extra(guarantees.AccessCodeLocked("locked", [], locked_until=UNTIL))
    assert extra == {"locked_until": "2026-12-01T08:15:00+00:00"}


def test_a_problem_names_the_error_and_points_where_told() -> None:
    problem = domain_problem(MovementBusy("changed meanwhile"), "/reference")
    assert (problem.status, problem.code, problem.title) == (
        409,
        "movement-busy",
        "Concurrent change",
    )
    assert [(v.code, v.pointer) for v in problem.errors] == [("movement-busy", "/reference")]


def test_a_refused_lock_carries_its_amounts() -> None:
    extra = problem_extra(InsufficientFunds(Decimal("10.00"), Decimal("2.50")))
    assert extra == {"requested": "10.00", "available": "2.50"}


def test_an_office_of_another_state_names_the_node_to_go_to() -> None:
    error = transit.OfficeOfAnotherState("06614 is BY's", [], office_state="BY")
    problem = domain_problem(error, "/office")
    assert (problem.status, problem.code) == (422, "office-other-state")
    assert problem.extra == {"office_state": "BY"}
