"""Roles and the principal: who is calling, as a verified token describes them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "COMMISSION",
    "PARTY_ROLES",
    "SECOND_FACTOR_ROLES",
    "Principal",
    "Role",
    "acting_states",
    "home_state",
]

COMMISSION = "EEC"
"""The state code the Commission's analysts carry."""


class Role(StrEnum):
    DECLARANT = "declarant"
    """Lodges, amends and reads its own declarations and movements."""
    CARRIER = "carrier"
    """Reads and lodges the movements it carries, like a declarant."""
    OFFICER = "officer"
    """A customs officer of the node's state, optionally of one office."""
    GUARANTOR = "guarantor"
    """Its own guarantees, balances, certificates and claims."""
    SEAL_OPERATOR = "seal_operator"
    """The node's state's navigation seals, activations, incidents and telemetry."""
    ANALYST = "analyst"
    """The Commission's view: aggregates, the register, the journal; no declaration contents."""
    ADMINISTRATOR = "administrator"
    """Users, clients, keys, the register."""


PARTY_ROLES = frozenset({Role.DECLARANT, Role.CARRIER, Role.GUARANTOR, Role.SEAL_OPERATOR})
"""Roles that act for a party and so carry its identification number."""

SECOND_FACTOR_ROLES = frozenset({Role.OFFICER, Role.ADMINISTRATOR})
"""Roles whose people may (and in production should) have a second factor."""


def home_state(role: Role, node_state: str) -> str:
    """The state an account of ``role`` acts in unless told otherwise."""
    return COMMISSION if role is Role.ANALYST else node_state


def acting_states(role: Role, node_state: str) -> frozenset[str]:
    """The states a caller of ``role`` may act in on ``node_state``'s node: its own, and for the
    Commission's analysts the Commission too."""
    return frozenset({node_state, home_state(role, node_state)})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as its verified access token says."""

    subject: str
    role: Role
    state: str
    """The member state the caller acts in (``EEC`` for the Commission)."""
    office: str | None = None
    """An officer's one office, when the officer is bound to one."""
    party: str | None = None
    """The identification number of the party a declarant, guarantor or operator acts for."""
    client: str | None = None
    """The machine client's id, for client-credentials tokens."""
    token_id: str = ""
    issuer: str = ""
    address: str = ""
    """Where the call came from: the client's network address, or ``cli:<login>``."""

    @property
    def actor(self) -> str:
        """How the caller is written in the records its actions change: ``role:subject``, the
        office if any, and where the call came from, so each event says who did it and whence.

        At most 200 characters, what every record keeps: an external issuer's long subject is
        shortened (its full form stays in the access log)."""
        subject = self.subject if len(self.subject) <= 96 else self.subject[:95] + "…"
        base = f"{self.role.value}:{subject}"
        if self.office:
            base = f"{base}@{self.office}"
        return f"{base} from {self.address}" if self.address else base
