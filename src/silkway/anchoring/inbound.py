"""What an anchor does on arrival: the Commission keeps it (bound for bootstrap)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from silkway.anchoring import service
from silkway.exchange.domain.envelope import Envelope
from silkway.exchange.domain.processes import LOG_ANCHOR
from silkway.exchange.hooks import InboundHandler
from silkway.unit_of_work import UnitOfWork


def _keep(here: str, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    service.keep(uow, envelope, now, here=here)


def handlers(state: str) -> dict[str, InboundHandler]:
    """MSG.915 at the node of ``state``: kept at the Commission, refused elsewhere."""
    return {LOG_ANCHOR: partial(_keep, state)}
