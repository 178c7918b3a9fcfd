"""``silkway`` commands for Guarantees.

Every command prints JSON; a refusal prints ``{"error", "message", "errors"}`` and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import typer

from silkway.entrypoints.cli_output import emit as _emit
from silkway.entrypoints.cli_output import fail as _fail
from silkway.entrypoints.cli_output import refused as _refused
from silkway.guarantees.domain.guarantee import (
    GuaranteeMethod,
    GuaranteeScope,
    Guarantor,
    GuarantorKind,
    Holder,
    RegistryInvalid,
)
from silkway.identity.cli import operator
from silkway.kernel.errors import DomainError
from silkway.reference.model import MEMBER_STATES

guarantee_app = typer.Typer(
    help="Guarantees: registry, balance, ledger history, claims.", no_args_is_help=True
)
claims_app = typer.Typer(help="Claims on guarantees and duty distribution.", no_args_is_help=True)

T = TypeVar("T")

NodeOption = Annotated[
    str | None,
    typer.Option("--node", "--state", help="Node: AM BY KZ KG RU (default: the GRN's state)."),
]
UrlOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="SILKWAY_DATABASE_URL", help="Node database URL."),
]


def _state(node: str | None, grn: str | None = None) -> str:
    state = (node or (grn[2:4] if grn and len(grn) >= 4 else "")).upper()
    if state not in MEMBER_STATES:
        _fail("node-unknown", "name the member state's node with --node (AM BY KZ KG RU)")
    return state


def _amount(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail("amount-invalid", f"{option} must be a decimal number, got {text!r}")
    if not value.is_finite():
        _fail("amount-invalid", f"{option} must be finite, got {text!r}")
    return value


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail("date-invalid", f"{option} must be a date YYYY-MM-DD, got {text!r}")


@contextmanager
def _node(state: str, database_url: str | None) -> Iterator[Any]:
    from silkway.bootstrap import build_node

    built = build_node(state, database_url=database_url, create=False)
    try:
        yield built
    finally:
        built.dispose()


def _run(work: Callable[[], T]) -> T:
    try:
        return work()
    except DomainError as exc:
        _refused(exc)


def _money(value: Decimal) -> str:
    return str(value)


@guarantee_app.command("register")
def register(
    amount: Annotated[str, typer.Option(help="Reference amount, e.g. 500000.00.")],
    holder: Annotated[str, typer.Option(help="The holder's identification (as declarant).")],
    node: NodeOption = None,
    currency: Annotated[str, typer.Option(help="Currency of the reference amount.")] = "EUR",
    method: Annotated[GuaranteeMethod, typer.Option(help="How it is given.")] = (
        GuaranteeMethod.BANK_GUARANTEE
    ),
    scope: Annotated[GuaranteeScope, typer.Option(help="single or general.")] = (
        GuaranteeScope.GENERAL
    ),
    holder_name: Annotated[
        str | None, typer.Option(help="Registers or renames the holder.")
    ] = None,
    holder_country: Annotated[str | None, typer.Option(help="The holder's country.")] = None,
    qualified: Annotated[
        bool, typer.Option(help="The holder has a record of general security (20% less).")
    ] = False,
    guarantor_id: Annotated[str | None, typer.Option(help="A registered guarantor.")] = None,
    guarantor_name: Annotated[str | None, typer.Option(help="Registers a guarantor.")] = None,
    guarantor_kind: Annotated[GuarantorKind, typer.Option(help="bank, insurer, surety.")] = (
        GuarantorKind.BANK
    ),
    national_pct: Annotated[
        str | None, typer.Option(help="National guarantor's reduction, 10-100 (percent).")
    ] = None,
    valid_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default today.")] = None,
    valid_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default open-ended.")] = None,
    states: Annotated[
        str, typer.Option(help="Member states where it is valid, comma-separated.")
    ] = ",".join(MEMBER_STATES),
    grn: Annotated[str | None, typer.Option(help="Take over an existing GRN.")] = None,
    access_code: Annotated[str | None, typer.Option(help="Its access code.")] = None,
    database_url: UrlOption = None,
) -> None:
    """Register a guarantee; prints its GRN and, once, the holder's access code."""
    from silkway.guarantees import service as guarantees

    state = _state(node, grn)
    reference_amount = _amount(amount, "--amount")
    first_day = _day(valid_from, "--valid-from")
    last_day = _day(valid_to, "--valid-to")
    if guarantor_id is None and guarantor_name is None:
        _fail("guarantor-missing", "give --guarantor-id, or --guarantor-name to register one")
    with _node(state, database_url) as n:
        actor = operator(n.identity, "guarantee register").actor
        ctx = n.guarantees
        if guarantor_id is None:
            pct = _amount(national_pct, "--national-pct") if national_pct else Decimal(0)
            guarantor: Guarantor = _run(
                lambda: guarantees.register_guarantor(
                    ctx,
                    name=str(guarantor_name),
                    kind=guarantor_kind,
                    country=state,
                    national_guarantor=national_pct is not None,
                    reduction_pct=pct,
                    actor=actor,
                )
            )
            guarantor_id = guarantor.guarantor_id
        if holder_name is not None:
            try:
                record = Holder(holder, holder_name, holder_country or state, qualified)
            except RegistryInvalid as exc:
                _refused(exc)
            _run(lambda: guarantees.register_holder(ctx, record, actor=actor))
        application = guarantees.GuaranteeApplication(
            method=method,
            scope=scope,
            reference_amount=reference_amount,
            currency=currency.upper(),
            guarantor_id=guarantor_id,
            holder_id=holder,
            valid_from=first_day,
            valid_to=last_day,
            valid_states=frozenset(s.strip().upper() for s in states.split(",") if s.strip()),
            grn=grn,
            access_code=access_code,
        )
        done = _run(lambda: guarantees.register_guarantee(ctx, application, actor=actor))
    _emit(
        {
            "grn": done.record.grn,
            "access_code": done.access_code,
            "guarantor_id": guarantor_id,
            "holder_id": holder,
            "reference_amount": _money(done.record.balance.reference_amount),
            "currency": done.record.guarantee.currency,
        }
    )


@guarantee_app.command("show")
def show(
    grn: Annotated[str, typer.Argument(help="The guarantee reference number.")],
    node: NodeOption = None,
    database_url: UrlOption = None,
) -> None:
    """A guarantee: its registry record, guarantor, holder, authorisations and balance."""
    from silkway.guarantees import service as guarantees

    with _node(_state(node, grn), database_url) as n:
        view = _run(lambda: guarantees.get_guarantee(n.guarantees, grn))
    r = view.record
    gt = r.guarantee
    _emit(
        {
            "grn": gt.grn,
            "account_kind": r.account_kind.value,
            "method": gt.method.value,
            "scope": gt.scope.value,
            "status": gt.status.value,
            "status_reason": r.status_reason,
            "currency": gt.currency,
            "valid_from": gt.valid_from.isoformat(),
            "valid_to": gt.valid_to.isoformat() if gt.valid_to else None,
            "valid_states": sorted(gt.valid_states),
            "guarantor": None
            if view.guarantor is None
            else {
                "guarantor_id": view.guarantor.guarantor_id,
                "name": view.guarantor.name,
                "kind": view.guarantor.kind.value,
                "national_guarantor": view.guarantor.national_guarantor,
                "reduction_pct": str(view.guarantor.reduction_pct),
            },
            "holder": None
            if view.holder is None
            else {
                "holder_id": view.holder.holder_id,
                "name": view.holder.name,
                "qualified": view.holder.qualified,
            },
            "authorised_holders": view.authorised_holders,
            "balance": _balance(r.balance),
        }
    )


def _balance(b: Any) -> dict[str, str]:
    return {
        "reference_amount": _money(b.reference_amount),
        "locked": _money(b.locked),
        "posted": _money(b.posted),
        "available": _money(b.available),
    }


@guarantee_app.command("balance")
def balance(
    grn: Annotated[str, typer.Argument(help="The guarantee reference number.")],
    node: NodeOption = None,
    database_url: UrlOption = None,
) -> None:
    """Reference amount, locked, posted, available, and what each movement holds."""
    from silkway.guarantees import service as guarantees

    with _node(_state(node, grn), database_url) as n:
        view = _run(lambda: guarantees.balance(n.guarantees, grn))
    _emit(
        {
            "grn": grn,
            "status": view.record.guarantee.status.value,
            "currency": view.record.guarantee.currency,
            **_balance(view.record.balance),
            "usages": [
                {
                    "lock_id": u.lock.lock_id,
                    "movement_reference": u.movement_reference,
                    "state": u.lock.state,
                    "held": _money(u.lock.held),
                    "deadline": u.deadline.isoformat(),
                }
                for u in view.usages
            ],
        }
    )


@guarantee_app.command("history")
def history(
    grn: Annotated[str, typer.Argument(help="The guarantee reference number.")],
    node: NodeOption = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    database_url: UrlOption = None,
) -> None:
    """The guarantee's append-only history, each entry with the balance right after it."""
    from silkway.guarantees import service as guarantees

    with _node(_state(node, grn), database_url) as n:
        entries = _run(lambda: guarantees.history(n.guarantees, grn, offset=offset, limit=limit))
    _emit(
        [
            {
                "seq": e.seq,
                "kind": e.kind,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "key": e.key,
                "lock_id": e.lock_id,
                "movement_reference": e.movement_reference,
                "amount": None if e.amount is None else _money(e.amount),
                **_balance(e.balance),
            }
            for e in entries
        ]
    )


@claims_app.command("problems")
def problems(
    node: NodeOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    database_url: UrlOption = None,
) -> None:
    """What the ledger could not do and an operator must settle, newest first, with the count."""
    from silkway.guarantees import service as guarantees

    with _node(_state(node), database_url) as n:
        total, found = guarantees.list_problems(n.guarantees, limit=limit)
    _emit(
        {
            "total": total,
            "problems": [
                {
                    "kind": p.kind,
                    "at": p.at.isoformat(),
                    "grn": p.grn,
                    "lock_id": p.lock_id,
                    "movement_reference": p.movement_reference,
                    "message": p.message,
                }
                for p in found
            ],
        }
    )


@claims_app.command("report")
def report(
    node: NodeOption = None,
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    database_url: UrlOption = None,
) -> None:
    """What each state received from guarantors' payments in a period, per tax (to the cent)."""
    from silkway.guarantees import claims as guarantee_claims

    state = _state(node)
    with _node(state, database_url) as n:
        today = n.transit.clock.now().date()
        first = _day(start, "--from") or today.replace(day=1)
        last = _day(end, "--to") or today
        found = _run(lambda: guarantee_claims.distribution_report(n.guarantees, first, last))
    _emit(
        {
            "node": state,
            "from": found.start.isoformat(),
            "to": found.end.isoformat(),
            "lines": [
                {"state": x.state, "tax": x.tax, "currency": x.currency, "amount": _money(x.amount)}
                for x in found.lines
            ],
            "by_state": [
                {"state": s, "currency": c, "amount": _money(a)}
                for (s, c), a in sorted(found.by_state.items())
            ],
            "totals": {k: _money(v) for k, v in found.totals.items()},
            "recovered": {k: _money(v) for k, v in found.recovered.items()},
            "balanced": found.balanced,
        }
    )
