"""People and machine clients of a node, and the rules an account must keep."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from silkway.identity.domain.principal import PARTY_ROLES, Principal, Role, acting_states
from silkway.kernel.errors import DomainError, Violation

__all__ = [
    "AccountInvalid",
    "Client",
    "User",
    "check_account",
]

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
CLIENT_ID = USERNAME
PARTY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{1,34}$")


class AccountInvalid(DomainError):
    """An account's role, state, office or party do not fit together or the node."""

    code = "account-invalid"


@dataclass(frozen=True, slots=True)
class User:
    """A person: username and password (argon2), and an optional TOTP second factor."""

    username: str
    role: Role
    state: str
    office: str | None
    party: str | None
    password_hash: str
    totp_secret: str | None
    disabled: bool
    created_at: datetime

    def principal(self, issuer: str) -> Principal:
        """Who this person's tokens say is calling."""
        return Principal(
            self.username, self.role, self.state, self.office, self.party, issuer=issuer
        )


@dataclass(frozen=True, slots=True)
class Client:
    """A machine client (a declarant's software, a guarantor's system, an operator's back end)."""

    client_id: str
    role: Role
    state: str
    office: str | None
    party: str | None
    secret_hash: str
    revoked: bool
    created_at: datetime

    def principal(self, issuer: str) -> Principal:
        """Who this client's tokens say is calling."""
        return Principal(
            self.client_id,
            self.role,
            self.state,
            self.office,
            self.party,
            client=self.client_id,
            issuer=issuer,
        )


def check_account(
    *,
    name: str,
    role: Role,
    state: str,
    office: str | None,
    party: str | None,
    node_state: str,
    offices_of_state: Container[str],
) -> None:
    """Refuse an account that could not be used honestly on this node.

    Everyone but the Commission's analysts acts in the node's own state; an officer's office is
    one of that state's; a party role names its party and no other role does.
    """
    problems: list[Violation] = []
    if not USERNAME.match(name):
        problems.append(
            Violation("name-invalid", "/name", "1-64 lower-case letters, digits, '.', '_', '-'")
        )
    if state not in acting_states(role, node_state):
        problems.append(
            Violation(
                "state-foreign", "/state", f"a {role.value} of this node acts in {node_state}"
            )
        )
    if office is not None:
        if role is not Role.OFFICER:
            problems.append(Violation("office-not-officer", "/office", "only officers have one"))
        elif office not in offices_of_state:
            problems.append(
                Violation("office-foreign", "/office", f"{office} is not an office of {state}")
            )
    if role in PARTY_ROLES:
        if party is None or not PARTY.match(party):
            problems.append(
                Violation("party-missing", "/party", f"a {role.value} acts for a party (its id)")
            )
    elif party is not None:
        problems.append(Violation("party-unexpected", "/party", f"a {role.value} has no party"))
    if problems:
        raise AccountInvalid(f"account {name!r} is not valid on this node", problems)
