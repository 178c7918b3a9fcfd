"""The embedded demo's accounts: one per role and node, all with one published password.

Only ``silkway run`` (the embedded demo) makes them; a production node starts with no account
and its administrator adds them with ``silkway users add`` and ``silkway clients add``.
Declarants act for the declarants of the example declarations, the guarantor for the demo
surety, the seal operator for the node's operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from silkway.bootstrap import Node
from silkway.examples import example_declaration, example_names
from silkway.guarantees import service as guarantees
from silkway.identity import service as identity
from silkway.identity.domain.principal import Role
from silkway.reference.model import COMMISSION

__all__ = ["DEMO_PASSWORD", "DemoAccount", "ensure_demo_accounts"]

DEMO_PASSWORD = "silkway-demo-password"
"""Published in the README and printed at start: the demo's accounts protect nothing real."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    state: str
    username: str
    role: Role
    party: str | None


def _wanted(node: Node, guarantor: str | None) -> list[DemoAccount]:
    s = node.state.lower()
    wanted = [
        DemoAccount(node.state, f"admin.{s}", Role.ADMINISTRATOR, None),
        DemoAccount(node.state, f"analyst.{s}", Role.ANALYST, None),
    ]
    if node.state == COMMISSION:
        return wanted
    wanted += [
        DemoAccount(node.state, f"officer.{s}", Role.OFFICER, None),
        DemoAccount(node.state, f"operator.{s}", Role.SEAL_OPERATOR, f"OP{node.state}"),
    ]
    if guarantor:
        wanted.append(DemoAccount(node.state, f"guarantor.{s}", Role.GUARANTOR, guarantor))
    today = node.transit.clock.now().date()
    declarants: list[str] = []
    for name in example_names():
        decl = example_declaration(name, today)
        office = node.reference.offices.get(decl.departure_office)
        ident = decl.declarant.identification
        if office is not None and office.state == node.state and ident not in declarants:
            declarants.append(ident)
    for n, ident in enumerate(declarants):
        suffix = "" if n == 0 else f".{n + 1}"
        wanted.append(DemoAccount(node.state, f"declarant.{s}{suffix}", Role.DECLARANT, ident))
    return wanted


def ensure_demo_accounts(nodes: Mapping[str, Node], guarantor_name: str) -> list[DemoAccount]:
    """Make each demo account that is missing; returns them all."""
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
        for account in _wanted(node, guarantor):
            if account.username not in present:
                identity.add_user(
                    node.identity,
                    account.username,
                    DEMO_PASSWORD,
                    account.role,
                    party=account.party,
                )
            accounts.append(account)
    return accounts
