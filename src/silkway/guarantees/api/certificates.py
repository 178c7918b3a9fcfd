"""Guarantee API: security certificates."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body

from silkway.bootstrap import Node
from silkway.guarantees import certificates
from silkway.guarantees.api.calls import call
from silkway.guarantees.api.schemas import (
    CertificateDocumentIn,
    CertificateIn,
    CertificateOut,
    Grn,
    IssuedCertificateOut,
)
from silkway.guarantees.ports import Certificate
from silkway.identity.access import Actor
from silkway.web.responses import problems


def certificate_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: certificates"]

    @router.post(
        "/guarantees/{grn}/certificates",
        status_code=201,
        response_model=IssuedCertificateOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def issue(
        grn: Grn, body: Annotated[CertificateIn, Body()], actor: Actor
    ) -> IssuedCertificateOut:
        """Issue a security certificate for use in another state; its amount is locked here.
        The answer carries, this once, the certificate's own access code for its holder."""
        done = call(
            lambda: certificates.issue_certificate(
                ctx,
                grn,
                kind=body.kind,
                amount=body.amount,
                used_in=body.used_in,
                valid_to=body.valid_to,
                actor=actor,
            ),
            "/amount",
        )
        shown = CertificateOut.of(done.certificate).model_dump()
        return IssuedCertificateOut(**shown, access_code=done.access_code)

    @router.get(
        "/certificates/{number}", response_model=CertificateOut, tags=tags, responses=problems(404)
    )
    def get_certificate(number: Grn) -> CertificateOut:
        return CertificateOut.of(call(lambda: certificates.get_certificate(ctx, number)))

    @router.get(
        "/certificates/{number}/document",
        response_model=CertificateDocumentIn,
        tags=tags,
        responses=problems(404),
    )
    def document(number: Grn) -> CertificateDocumentIn:
        """What is sent to the node where the certificate is used (with the hash of the
        certificate's own access code, never the guarantee's)."""
        doc = call(lambda: certificates.certificate_document(ctx, number))
        c = doc.certificate
        return CertificateDocumentIn(
            number=c.number,
            kind=c.kind,
            grn=c.grn,
            issued_by=c.issued_by,
            used_in=c.used_in,
            currency=c.currency,
            amount=c.amount,
            holder_id=c.holder_id,
            holder_qualified=c.holder_qualified,
            guarantor_id=doc.guarantor_id,
            guarantor_reduction_pct=c.guarantor_reduction_pct,
            method=doc.method,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            issued_at=c.issued_at,
            access_code_hash=doc.access_code_hash,
        )

    @router.post(
        "/certificates",
        status_code=201,
        response_model=CertificateOut,
        tags=tags,
        responses=problems(409, 503),
    )
    def register(body: Annotated[CertificateDocumentIn, Body()], actor: Actor) -> CertificateOut:
        """Register a certificate issued by another node for use at this one."""
        received = Certificate(
            number=body.number,
            kind=body.kind,
            direction=certificates.ISSUED,
            grn=body.grn,
            issued_by=body.issued_by,
            used_in=body.used_in,
            currency=body.currency,
            amount=body.amount,
            holder_id=body.holder_id,
            holder_qualified=body.holder_qualified,
            guarantor_reduction_pct=body.guarantor_reduction_pct,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            status=certificates.ISSUED,
            issued_at=body.issued_at,
        )
        doc = certificates.CertificateDocument(
            received, body.method, body.guarantor_id, body.access_code_hash
        )
        return CertificateOut.of(
            call(lambda: certificates.register_certificate(ctx, doc, actor=actor))
        )

    @router.post(
        "/certificates/{number}/return",
        response_model=CertificateOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def give_back(number: Grn, actor: Actor) -> CertificateOut:
        """At the issuing node: the certificate is no longer used; its amount goes back."""
        return CertificateOut.of(
            call(lambda: certificates.return_certificate(ctx, number, actor=actor))
        )
