"""The ownership half of the policy: what a caller may touch on a route its role may call.

The guard (``silkway.web.guard``) has checked the role and the state before a route runs;
the route loads its resource and asks here whether this caller may see or change it. A party
that may not see a resource is told it does not exist (404), as for any resource it could not
name: a competitor's movement reference must not be confirmed. A caller acting where its role
does not reach (an officer at another office) is refused (403).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from silkway.identity.domain.principal import Principal, Role
from silkway.kernel.errors import AccessDenied, NotAuthenticated

__all__ = [
    "PARTY_READERS",
    "Actor",
    "acting_party",
    "principal_of",
    "require_office",
    "require_party",
    "sees_party",
]

PARTY_READERS = frozenset({Role.DECLARANT, Role.CARRIER, Role.GUARANTOR})
"""Roles that see only what carries their own identification number."""


def principal_of(request: Request) -> Principal:
    """The caller of a route behind the guard."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise NotAuthenticated("token-missing", "this route needs a bearer token")
    return principal


def actor_of(request: Request) -> str:
    """How the caller of a route is written in what it changes (:attr:`Principal.actor`)."""
    return principal_of(request).actor


Actor = Annotated[str, Depends(actor_of)]
"""A route parameter: the acting caller, to record in the events its call causes."""


def acting_party(principal: Principal) -> str | None:
    """The party a caller is limited to, or ``None`` when its role sees the node's whole data.

    A party role whose token names no party is limited to the empty party: it sees nothing."""
    if principal.role not in PARTY_READERS:
        return None
    return principal.party or ""


def sees_party(principal: Principal, owners: Iterable[str | None]) -> bool:
    """Whether the caller may see a resource belonging to any of ``owners``."""
    party = acting_party(principal)
    return party is None or (party != "" and party in {o for o in owners if o})


def require_party(principal: Principal, owners: Iterable[str], what: str) -> None:
    """Refuse a party acting for someone else (lodging a declaration of another declarant)."""
    party = acting_party(principal)
    named = [o for o in owners if o]
    if party is not None and party not in named:
        raise AccessDenied(
            "party-mismatch",
            f"{what} belongs to {', '.join(named)}; this caller acts for {party or 'nobody'}",
        )


def require_office(principal: Principal, office: str | None) -> None:
    """Refuse an officer bound to one office acting at another."""
    if principal.role is Role.OFFICER and principal.office and office != principal.office:
        raise AccessDenied(
            "office-foreign",
            f"an officer of {principal.office} cannot act at office {office or '(none)'}",
        )
