"""Batches of locks over several guarantees, on SQLite and PostgreSQL, answer exactly as the
reference model does when it takes the same requests one after the other."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkway.guarantees.domain.guarantee import (
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    LedgerError,
    LedgerModel,
    Outcome,
)
from silkway.guarantees.ports import AccountKind, LockRequest, NewAccount
from silkway.node.db.engine import make_engine
from silkway.node.db.unit_of_work import SqlUnitOfWork

ON = date(2026, 6, 1)
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
_RUNS = itertools.count(1)

request = st.tuples(
    st.integers(min_value=0, max_value=4),  # which guarantee; 4 is not registered
    st.integers(min_value=-1, max_value=40_000).map(lambda c: Decimal(c).scaleb(-2)),
    st.sampled_from(["KZ", "RU", "BY"]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    references=st.lists(st.integers(min_value=100, max_value=100_000), min_size=4, max_size=4),
    batch=st.lists(request, min_size=2, max_size=24),
    assume_new=st.booleans(),
)
def test_a_batch_answers_as_the_requests_one_after_the_other(
    database_url: str,
    references: list[int],
    batch: list[tuple[int, Decimal, str]],
    assume_new: bool,
) -> None:
    run = next(_RUNS)
    grns = [f"B{run:04d}-{i}" for i in range(5)]
    scopes = [GuaranteeScope.GENERAL, GuaranteeScope.GENERAL, GuaranteeScope.SINGLE]
    scopes.append(GuaranteeScope.GENERAL)
    states = [{"KZ", "RU", "BY"}, {"KZ", "RU", "BY"}, {"KZ", "RU", "BY"}, {"KZ"}]
    model = LedgerModel()
    engine = make_engine(database_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            for grn, scope, valid, cents in zip(grns, scopes, states, references, strict=False):
                guarantee = Guarantee(
                    grn=grn,
                    method=GuaranteeMethod.CASH,
                    scope=scope,
                    status=GuaranteeStatus.ACTIVE,
                    reference_amount=Decimal(cents).scaleb(-2),
                    currency="EUR",
                    valid_from=date(2026, 1, 1),
                    valid_to=None,
                    valid_states=frozenset(valid),
                )
                model.register(guarantee)
                uow.guarantees.add_account(
                    NewAccount(guarantee, AccountKind.GUARANTEE, "G", "H", "x", "KZ", AT, "t")
                )
            uow.commit()
        requests = [
            LockRequest(f"{run}-{i}", grns[g], amount, "EUR", state, ON, AT, AT)
            for i, (g, amount, state) in enumerate(batch)
        ]
        expected: list[Outcome | LedgerError] = []
        for r in requests:
            try:
                expected.append(model.lock(r.key, grn=r.grn, amount=r.amount, state=r.state, on=ON))
            except LedgerError as exc:
                expected.append(exc)

        with SqlUnitOfWork(engine) as uow:
            got = uow.guarantees.lock_many(requests, assume_new=assume_new)
            uow.commit()

        for want, have in zip(expected, got, strict=True):
            if isinstance(want, LedgerError):
                assert type(have) is type(want), (want, have)
            else:
                assert have == want
        with SqlUnitOfWork(engine) as uow:
            for grn in grns[:4]:
                record = uow.guarantees.guarantee(grn)
                assert record is not None
                assert record.balance == model.balance(grn)
                assert record.locks_placed == len(model.locks(grn))
                assert uow.guarantees.history(grn)[-1].balance == record.balance
    finally:
        engine.dispose()
