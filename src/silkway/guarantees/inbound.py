"""P.CP.01's certificate messages at the receiving node: guarantee certificates issued by
another state, used, or written off.

Each handler runs inside the exchange's receiving transaction; the composition root binds them
to this node's guarantee context and hands them to the exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from silkway.exchange import inbound
from silkway.exchange.domain.envelope import Envelope
from silkway.exchange.hooks import ContextHandler, InboundHandler, bind_handlers
from silkway.guarantees import certificates
from silkway.guarantees.service import GuaranteeContext
from silkway.unit_of_work import UnitOfWork


def _certificate_issued(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    inbound.require_sender(envelope, ctx.reference)
    document = certificates.document_from_message(envelope.body.fields)
    certificates.register_received(uow, ctx.state, document, now, actor=inbound.actor(envelope))


def _certificate_used(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    """The certificate secures a transit there: its lock here already covers it; log the use."""
    certificate = certificates.check_issued_here(
        uow, str(envelope.body.fields["CertificateNumber"])
    )
    inbound.require_sender(envelope, ctx.reference, certificate.used_in)


def _certificate_written_off(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    number = str(envelope.body.fields["CertificateNumber"])
    # Only the state it was issued for may give it back: a write-off credits the guarantee.
    inbound.require_sender(
        envelope, ctx.reference, certificates.check_issued_here(uow, number).used_in
    )
    certificates.returned_by_message(uow, ctx.state, number, now, inbound.actor(envelope))


_HANDLERS: Mapping[str, ContextHandler[GuaranteeContext]] = {
    "P.CP.01.MSG.912": _certificate_issued,
    "P.CP.01.MSG.913": _certificate_used,
    "P.CP.01.MSG.914": _certificate_written_off,
}


def handlers(ctx: GuaranteeContext) -> dict[str, InboundHandler]:
    """Each certificate message's handler, bound to this node's guarantee context."""
    return bind_handlers(_HANDLERS, ctx)
