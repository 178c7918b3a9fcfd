"""The embedded demo's accounts: one per role and node, all with one published password.

Only ``silkway run`` (the embedded demo) makes them; a production node starts with no account
and its administrator adds them with ``silkway users add`` and ``silkway clients add``.
Declarants act for the declarants of the example declarations, the guarantor for the demo
surety, the seal operator for the node's operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from silkway.bootstrap import Node
from silkway.examples import example_declaration, example_names
from silkway.guarantees import service as guarantees
from silkway.identity import service as identity
from silkway.identity.domain.principal import Role
from silkway.reference.model import COMMISSION, ReferenceData

__all__ = [
    "DEMO_PASSWORD",
    "DemoAccount",
    "administrator",
    "declarants",
    "demo_accounts",
    "ensure_demo_accounts",
    "officer",
    "seal_operator",
]

DEMO_PASSWORD = "silkway-demo-password"
"""Published in the README and printed at start: the demo's accounts protect nothing real."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    state: str
    username: str
    role: Role
    party: str | None


def administrator(state: str) -> str:
    return f"admin.{state.lower()}"


def officer(state: str) -> str:
    """The demo officer of ``state``: bound to no one office, so acting at all of them."""
    return f"officer.{state.lower()}"


def seal_operator(state: str) -> str:
    """The demo account of ``state``'s national seal operator."""
    return f"operator.{state.lower()}"


def demo_accounts(
    state: str, reference: ReferenceData, today: date, guarantor: str | None
) -> list[DemoAccount]:
    """The demo accounts of ``state``'s node (its guarantor's once ``guarantor`` is known)."""
    s = state.lower()
    wanted = [
        DemoAccount(state, administrator(state), Role.ADMINISTRATOR, None),
        DemoAccount(state, f"analyst.{s}", Role.ANALYST, None),
    ]
    if state == COMMISSION:
        return wanted
    wanted += [
        DemoAccount(state, officer(state), Role.OFFICER, None),
        DemoAccount(state, f"operator.{s}", Role.SEAL_OPERATOR, f"OP{state}"),
    ]
    if guarantor:
        wanted.append(DemoAccount(state, f"guarantor.{s}", Role.GUARANTOR, guarantor))
    idents: list[str] = []
    for name in example_names():
        decl = example_declaration(name, today)
        office = reference.offices.get(decl.departure_office)
        ident = decl.declarant.identification
        if office is not None and office.state == state and ident not in idents:
            idents.append(ident)
    for n, ident in enumerate(idents):
        suffix = "" if n == 0 else f".{n + 1}"
        wanted.append(DemoAccount(state, f"declarant.{s}{suffix}", Role.DECLARANT, ident))
    return wanted


def declarants(states: list[str], reference: ReferenceData, today: date) -> dict[str, str]:
    """The demo declarant account of each example declarant, by identification number."""
    return {
        a.party: a.username
        for state in states
        for a in demo_accounts(state, reference, today, None)
        if a.role is Role.DECLARANT and a.party
    }


def ensure_demo_accounts(nodes: Mapping[str, Node], guarantor_name: str) -> list[DemoAccount]:
    """Make each demo account that is missing; returns them all.

    Accounts are what an administrator sets up before anyone calls (``silkway users add``):
    they are made here as the command line makes them, not through the API they open."""
    accounts: list[DemoAccount] = []
    for node in nodes.values():
        guarantor = next(
            (
                g.guarantor_id
                for g in guarantees.list_guarantors(node.guarantees)
                if g.name == guarantor_name
            ),
            None,
        )
        with node.identity.uow() as uow:
            present = {u.username for u in uow.identity.users()}
        today = node.transit.clock.now().date()
        wanted = demo_accounts(node.state, node.reference, today, guarantor)
        # One published password: one hash for all of a node's demo accounts.
        identity.add_users_sharing_password(
            node.identity,
            [(a.username, a.role, a.party) for a in wanted if a.username not in present],
            DEMO_PASSWORD,
        )
        accounts += wanted
    return accounts
