"""The access policy: one row per route, naming who may call it and what they may touch.

The web layer looks a request's route up here before the route runs: no row, no access (a
test fails for any route without one). ``roles`` is who may call at all; ``own`` says what a
party role may see or change on top of that, and each route enforces its ``own`` on the
resource it loads through :mod:`silkway.identity.access` (an officer's office, a declarant's
movements, a guarantor's guarantees). Public routes take no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from silkway.identity.domain.principal import Principal, Role

__all__ = ["COMMANDS", "POLICY", "PUBLIC", "Own", "Rule", "allows", "rule_for"]


class Own(StrEnum):
    """What a caller's party or office limits it to on a route."""

    NOTHING = "nothing"
    """The role alone decides (reference data, node-wide operations)."""
    MOVEMENT = "movement"
    """Declarants and carriers see only their movements; officers act only at their office."""
    GUARANTEE = "guarantee"
    """Guarantors see only their guarantees, certificates, locks and claims."""
    GUARANTOR = "guarantor"
    """Guarantors see only their own guarantor record."""


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    own: Own = Own.NOTHING
    public: bool = False
    changes_state: bool = False


PUBLIC = Rule(frozenset(), public=True)

_D, _C, _O, _G = Role.DECLARANT, Role.CARRIER, Role.OFFICER, Role.GUARANTOR
_S, _A, _X = Role.SEAL_OPERATOR, Role.ANALYST, Role.ADMINISTRATOR
_EVERYONE = frozenset(Role)


def _read(*roles: Role, own: Own = Own.NOTHING) -> Rule:
    return Rule(frozenset(roles), own)


def _write(*roles: Role, own: Own = Own.NOTHING) -> Rule:
    return Rule(frozenset(roles), own, changes_state=True)


_V1 = "/api/v1"
_OFFICER_ACTIONS = [
    "accept",
    "reject",
    "release",
    "passages",
    "time-limit-extensions",
    "destination-changes",
    "incidents",
    "arrival",
    "completion",
    "partial-completion",
    "overdue",
    "enquiry",
    "non-delivery",
]
_DECLARANT_ACTIONS = ("amend",)
# Cancellation and the answer to an enquiry come from the declarant, or are recorded by the
# officer who received them on paper.
_EITHER_ACTIONS = ("cancellation", "enquiry-answer")

_ROWS: dict[tuple[str, str], Rule] = {
    # Identity itself and the node's liveness.
    ("GET", "/health"): PUBLIC,
    ("POST", f"{_V1}/auth/token"): PUBLIC,
    ("POST", f"{_V1}/auth/revocation"): PUBLIC,
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("GET", "/.well-known/openid-configuration"): PUBLIC,
    ("GET", f"{_V1}/auth/me"): Rule(_EVERYONE),
    ("GET", f"{_V1}/access-log"): _read(_X),
    # Declarations and movements.
    ("POST", f"{_V1}/declarations"): _write(_D, _C, own=Own.MOVEMENT),
    ("GET", f"{_V1}/movements"): _read(_D, _C, _O, own=Own.MOVEMENT),
    ("GET", f"{_V1}/movements/{{key}}"): _read(_D, _C, _O, own=Own.MOVEMENT),
    ("GET", f"{_V1}/registrations/{{office}}/{{day}}/{{serial}}"): _read(
        _D, _C, _O, own=Own.MOVEMENT
    ),
    ("GET", f"{_V1}/movements/{{key}}/events"): _read(_D, _C, _O, own=Own.MOVEMENT),
    ("GET", f"{_V1}/movements/{{key}}/messages"): _read(_O, own=Own.MOVEMENT),
    ("GET", f"{_V1}/movements/{{key}}/liability"): _read(_O),
    ("GET", f"{_V1}/movements/{{key}}/track"): _read(_O, _S),
    **{
        ("POST", f"{_V1}/movements/{{key}}/{a}"): _write(_O, own=Own.MOVEMENT)
        for a in _OFFICER_ACTIONS
    },
    **{
        ("POST", f"{_V1}/movements/{{key}}/{a}"): _write(_D, _C, own=Own.MOVEMENT)
        for a in _DECLARANT_ACTIONS
    },
    **{
        ("POST", f"{_V1}/movements/{{key}}/{a}"): _write(_D, _C, _O, own=Own.MOVEMENT)
        for a in _EITHER_ACTIONS
    },
    ("GET", f"{_V1}/offices/{{office}}/worklist"): _read(_O, own=Own.MOVEMENT),
    ("POST", f"{_V1}/overdue-check"): _write(_O, _X),
    # Reference data: everyone with a token.
    ("GET", f"{_V1}/rules"): Rule(_EVERYONE),
    ("GET", f"{_V1}/codes/{{value}}"): Rule(_EVERYONE),
    ("GET", f"{_V1}/offices"): Rule(_EVERYONE),
    # The guarantee registry.
    ("GET", f"{_V1}/guarantors"): _read(_O, _X),
    ("POST", f"{_V1}/guarantors"): _write(_X),
    ("GET", f"{_V1}/guarantors/{{guarantor_id}}"): _read(_O, _X, _G, own=Own.GUARANTOR),
    ("PUT", f"{_V1}/holders/{{holder_id}}"): _write(_O, _X),
    ("POST", f"{_V1}/guarantees"): _write(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/guarantees"): _read(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/guarantees/{{grn}}"): _read(_G, _O, own=Own.GUARANTEE),
    ("POST", f"{_V1}/guarantees/{{grn}}/suspension"): _write(_G, _O, own=Own.GUARANTEE),
    ("POST", f"{_V1}/guarantees/{{grn}}/reinstatement"): _write(_G, _O, own=Own.GUARANTEE),
    ("POST", f"{_V1}/guarantees/{{grn}}/revocation"): _write(_G, _O, own=Own.GUARANTEE),
    ("POST", f"{_V1}/guarantees/{{grn}}/authorisations"): _write(_G, _O, own=Own.GUARANTEE),
    ("DELETE", f"{_V1}/guarantees/{{grn}}/authorisations/{{holder_id}}"): _write(
        _G, _O, own=Own.GUARANTEE
    ),
    ("GET", f"{_V1}/guarantees/{{grn}}/balance"): _read(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/guarantees/{{grn}}/history"): _read(_G, _O, own=Own.GUARANTEE),
    # The ledger: locks are customs' business, read by the guarantor concerned.
    ("POST", f"{_V1}/guarantees/{{grn}}/locks"): _write(_O),
    ("GET", f"{_V1}/guarantee-locks/{{lock_id}}"): _read(_O, _G, own=Own.GUARANTEE),
    ("POST", f"{_V1}/guarantee-locks/{{lock_id}}/credit"): _write(_O),
    ("POST", f"{_V1}/guarantee-locks/{{lock_id}}/void"): _write(_O),
    ("POST", f"{_V1}/guarantee-locks/{{lock_id}}/post"): _write(_O),
    ("POST", f"{_V1}/guarantee-locks/expiry"): _write(_O, _X),
    ("GET", f"{_V1}/guarantee-exposure"): _read(_O, _A),
    ("GET", f"{_V1}/guarantee-problems"): _read(_O, _X),
    ("POST", f"{_V1}/liability"): _read(_D, _C, _O, _G, _A),
    # Certificates and claims.
    ("POST", f"{_V1}/guarantees/{{grn}}/certificates"): _write(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/certificates/{{number}}"): _read(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/certificates/{{number}}/document"): _read(_G, _O, own=Own.GUARANTEE),
    ("POST", f"{_V1}/certificates"): _write(_O),
    ("POST", f"{_V1}/certificates/{{number}}/return"): _write(_G, _O, own=Own.GUARANTEE),
    ("GET", f"{_V1}/claims"): _read(_O),
    ("GET", f"{_V1}/claims/{{claim_id}}"): _read(_O, _G, own=Own.GUARANTEE),
    ("POST", f"{_V1}/claims/{{claim_id}}/recoveries"): _write(_O),
    ("GET", f"{_V1}/distribution/report"): _read(_O, _A, _X),
    # Navigation seals: the node's own operator and its officers.
    ("POST", f"{_V1}/seals"): _write(_S),
    ("GET", f"{_V1}/seals"): _read(_S, _O),
    ("GET", f"{_V1}/seals/{{seal_id}}"): _read(_S, _O),
    ("POST", f"{_V1}/seals/{{seal_id}}/activation"): _write(_S, _O),
    ("POST", f"{_V1}/telemetry"): _write(_S),
    ("GET", f"{_V1}/seal-incidents"): _read(_S, _O),
    ("POST", f"{_V1}/seal-incidents/{{incident_id}}/closure"): _write(_O),
    ("POST", f"{_V1}/seal-incidents/silence-check"): _write(_S, _O),
    ("GET", f"{_V1}/seal-incidents/stream"): _read(_S, _O),
    ("GET", f"{_V1}/devices/listeners"): _read(_S, _X),
    # The exchange: messages carry declaration contents; the register and journal do not.
    ("GET", f"{_V1}/messages"): _read(_O, _X),
    ("GET", f"{_V1}/messages/{{message_id}}"): _read(_O, _X),
    ("GET", f"{_V1}/inbox"): _read(_O, _X),
    ("GET", f"{_V1}/dead-letters"): _read(_X),
    ("POST", f"{_V1}/dead-letters/{{dead_letter_id}}/retry"): _write(_X),
    ("GET", f"{_V1}/partners"): _read(_X, _A, _O),
    ("POST", f"{_V1}/partners/tests"): _write(_X),
    ("GET", f"{_V1}/journal"): _read(_A, _X),
    ("GET", f"{_V1}/register"): _read(_A, _X, _O),
    ("POST", f"{_V1}/register/import"): _write(_X),
    ("GET", f"{_V1}/conformance"): _read(_A, _X, _O),
    # Log anchors (the heads of the logs, no contents): the Commission's analysts read its list.
    ("GET", f"{_V1}/anchors/taken"): _read(_X),
    ("GET", f"{_V1}/anchors/kept"): _read(_X, _A),
}

POLICY: Mapping[tuple[str, str], Rule] = _ROWS
"""``(method, route path)`` → who may call it."""


COMMANDS: Mapping[str, frozenset[Role]] = {
    "declaration lodge": frozenset({_D, _C}),
    "guarantee register": frozenset({_G, _O}),
    "seals register": frozenset({_S}),
    "seals activate": frozenset({_S, _O}),
    "seals check-silence": frozenset({_S, _O}),
    "seals purge": frozenset({_S, _X}),
    "messages retry": frozenset({_X}),
    "keys create": frozenset({_X}),
    "keys rotate": frozenset({_X}),
    "trust init": frozenset({_X}),
    "trust publish": frozenset({_X}),
    "conformance run": frozenset({_X}),
    "audit anchor": frozenset({_X}),
    "conformance import": frozenset({_X}),
    "users add": frozenset({_X}),
    "users disable": frozenset({_X}),
    "clients add": frozenset({_X}),
    "clients rotate": frozenset({_X}),
    "clients revoke": frozenset({_X}),
}
"""Each command line command that changes state → the roles whose users may run it."""


def rule_for(method: str, path: str) -> Rule | None:
    """The row for a route; ``HEAD`` is read as ``GET``."""
    return POLICY.get(("GET" if method == "HEAD" else method, path))


def allows(rule: Rule, principal: Principal) -> bool:
    """Whether the caller's role may call the route at all (ownership is checked after)."""
    return rule.public or principal.role in rule.roles
