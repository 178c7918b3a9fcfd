"""The composition root: the only place that reads settings and builds engines and adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from silkway.adapters.clock import SystemClock
from silkway.adapters.db.engine import make_engine
from silkway.adapters.db.migrate import upgrade
from silkway.adapters.db.repositories import SqlUnitOfWork
from silkway.domain.reference import NODE_CODES, ReferenceData
from silkway.reference import load_reference
from silkway.services.ports import Clock, SecurityGate
from silkway.services.security import QuotedSecurityGate
from silkway.services.transit import TransitContext
from silkway.settings import Settings


@dataclass
class Node:
    """One national system (or the Commission's): its database and its use-case context."""

    state: str
    engine: Engine
    transit: TransitContext = field(repr=False)
    settings: Settings = field(repr=False)
    # Capability contexts (guarantees, seals, exchange) are added here, each built in build_node.

    @property
    def reference(self) -> ReferenceData:
        return self.transit.reference

    def dispose(self) -> None:
        self.engine.dispose()


def build_node(
    state: str,
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    security: SecurityGate | None = None,
    migrate: bool = True,
) -> Node:
    state = state.upper()
    if state not in NODE_CODES:
        raise ValueError(f"unknown node {state!r}; expected one of {', '.join(NODE_CODES)}")
    settings = settings or Settings()
    engine = make_engine(database_url or settings.node_database_url(state))
    if migrate:
        upgrade(engine)
    transit = TransitContext(
        state=state,
        reference=load_reference(),
        clock=clock or SystemClock(),
        security=security or QuotedSecurityGate(),
        uow=lambda: SqlUnitOfWork(engine),
        km_per_month=float(settings.km_per_month),
    )
    return Node(state=state, engine=engine, transit=transit, settings=settings)


def build_union(settings: Settings | None = None, *, clock: Clock | None = None) -> dict[str, Node]:
    """Every node of the embedded set-up, each with its own database."""
    settings = settings or Settings()
    if settings.database_url and len(settings.nodes) > 1:
        raise ValueError(
            "SILKWAY_DATABASE_URL names one node's database; the embedded set-up needs one per"
            " node (leave it unset to use a SQLite file per node)"
        )
    return {state: build_node(state, settings, clock=clock) for state in settings.nodes}
