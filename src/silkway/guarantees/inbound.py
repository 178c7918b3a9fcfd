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
from silkway.kernel.errors import ActionInvalid, Violation
from silkway.unit_of_work import UnitOfWork


def _certificate_issued(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    document = certificates.document_from_message(envelope.body.fields)
    if document.certificate.issued_by != inbound.sender(envelope):
        raise ActionInvalid(
            "a certificate comes from the state that issued it",
            [
                Violation(
                    "certificate-issuer-mismatch", "/IssuingCountryCode", inbound.sender(envelope)
                )
            ],
        )
    certificates.register_received(uow, ctx.state, document, now, actor=inbound.actor(envelope))


def _certificate_used(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    """The certificate secures a transit there: its lock here already covers it; log the use."""
    certificates.check_issued_here(uow, str(envelope.body.fields["CertificateNumber"]))


def _certificate_written_off(
    ctx: GuaranteeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    certificates.returned_by_message(
        uow, ctx.state, str(envelope.body.fields["CertificateNumber"]), now, inbound.actor(envelope)
    )


_HANDLERS: Mapping[str, ContextHandler[GuaranteeContext]] = {
    "P.CP.01.MSG.912": _certificate_issued,
    "P.CP.01.MSG.913": _certificate_used,
    "P.CP.01.MSG.914": _certificate_written_off,
}


def handlers(ctx: GuaranteeContext) -> dict[str, InboundHandler]:
    """Each certificate message's handler, bound to this node's guarantee context."""
    return bind_handlers(_HANDLERS, ctx)
