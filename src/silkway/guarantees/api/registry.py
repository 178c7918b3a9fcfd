"""Guarantee API: guarantors, holders, guarantees and authorisations."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from silkway.bootstrap import Node
from silkway.guarantees import service as guarantees
from silkway.guarantees.api.calls import call
from silkway.guarantees.api.schemas import (
    AuthorisationIn,
    Grn,
    GuaranteeDetail,
    GuaranteeIn,
    GuaranteeOut,
    GuarantorIn,
    GuarantorOut,
    HolderIn,
    HolderOut,
    In,
    OptionalReasonIn,
    ReasonIn,
    RegisteredOut,
)
from silkway.guarantees.domain.guarantee import (
    GuaranteeStatus,
    Holder,
)
from silkway.identity.access import Actor, acting_party, principal_of, require_party
from silkway.web.responses import problems


def registry_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: registry"]

    @router.post(
        "/guarantors",
        status_code=201,
        response_model=GuarantorOut,
        tags=tags,
        responses=problems(503),
    )
    def register_guarantor(body: Annotated[GuarantorIn, Body()], actor: Actor) -> GuarantorOut:
        """Register a bank, insurer or surety (a national guarantor carries its reduction)."""
        return GuarantorOut.of(
            call(
                lambda: guarantees.register_guarantor(
                    ctx,
                    name=body.name,
                    kind=body.kind,
                    country=body.country,
                    national_guarantor=body.national_guarantor,
                    reduction_pct=body.reduction_pct,
                    actor=actor,
                )
            )
        )

    @router.get("/guarantors", response_model=list[GuarantorOut], tags=tags)
    def list_guarantors() -> list[GuarantorOut]:
        return [GuarantorOut.of(g) for g in guarantees.list_guarantors(ctx)]

    @router.get(
        "/guarantors/{guarantor_id}",
        response_model=GuarantorOut,
        tags=tags,
        responses=problems(404),
    )
    def get_guarantor(
        guarantor_id: Annotated[str, Path(min_length=1, max_length=20)],
    ) -> GuarantorOut:
        return GuarantorOut.of(call(lambda: guarantees.get_guarantor(ctx, guarantor_id)))

    @router.put(
        "/holders/{holder_id}", response_model=HolderOut, tags=tags, responses=problems(503)
    )
    def put_holder(
        holder_id: Annotated[str, Path(min_length=1, max_length=35)],
        body: Annotated[HolderIn, Body()],
        actor: Actor,
    ) -> HolderOut:
        """Register a holder (carrier, forwarder) or update it."""
        holder = call(lambda: Holder(holder_id, body.name, body.country, body.qualified), "/name")
        return HolderOut.of(call(lambda: guarantees.register_holder(ctx, holder, actor=actor)))

    @router.post(
        "/guarantees",
        status_code=201,
        response_model=RegisteredOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def register_guarantee(
        body: Annotated[GuaranteeIn, Body()], response: Response, request: Request, actor: Actor
    ) -> RegisteredOut:
        """Register a guarantee: answers its GRN and, once, the holder's access code."""
        require_party(principal_of(request), [body.guarantor_id], "the guarantee")
        application = guarantees.GuaranteeApplication(
            method=body.method,
            scope=body.scope,
            reference_amount=body.reference_amount,
            currency=body.currency,
            guarantor_id=body.guarantor_id,
            holder_id=body.holder_id,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            valid_states=frozenset(body.valid_states),
            grn=body.grn,
            access_code=body.access_code,
        )
        done = call(lambda: guarantees.register_guarantee(ctx, application, actor=actor))
        response.headers["Location"] = f"/api/v1/guarantees/{done.record.grn}"
        return RegisteredOut(
            grn=done.record.grn,
            access_code=done.access_code,
            guarantee=GuaranteeOut.of(done.record),
        )

    @router.get("/guarantees", response_model=list[GuaranteeOut], tags=tags)
    def list_guarantees(
        request: Request,
        guarantor: Annotated[str | None, Query(max_length=20)] = None,
        holder: Annotated[str | None, Query(max_length=35)] = None,
        status: GuaranteeStatus | None = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[GuaranteeOut]:
        found = guarantees.list_guarantees(
            ctx,
            # A guarantor's list holds only its own guarantees.
            guarantor_id=acting_party(principal_of(request)) or guarantor,
            holder_id=holder,
            status=status,
            offset=offset,
            limit=limit,
        )
        return [GuaranteeOut.of(r) for r in found]

    @router.get(
        "/guarantees/{grn}", response_model=GuaranteeDetail, tags=tags, responses=problems(404)
    )
    def get_guarantee(grn: Grn) -> GuaranteeDetail:
        view = call(lambda: guarantees.get_guarantee(ctx, grn))
        return GuaranteeDetail(
            guarantee=GuaranteeOut.of(view.record),
            guarantor=GuarantorOut.of(view.guarantor) if view.guarantor else None,
            holder=HolderOut.of(view.holder) if view.holder else None,
            authorised_holders=view.authorised_holders,
        )

    def status_route(path: str, target: GuaranteeStatus, body_model: type[In]) -> None:
        def change(grn: Grn, body: Any, actor: Actor) -> GuaranteeOut:
            reason = getattr(body, "reason", None)
            return GuaranteeOut.of(
                call(lambda: guarantees.change_status(ctx, grn, target, reason=reason, actor=actor))
            )

        change.__annotations__["body"] = Annotated[body_model, Body()]
        change.__name__ = f"guarantee_{path}"
        router.add_api_route(
            f"/guarantees/{{grn}}/{path}",
            change,
            methods=["POST"],
            response_model=GuaranteeOut,
            summary=f"Guarantee {path} (status {target.value})",
            tags=tags,
            responses=problems(404, 409, 503),
        )

    status_route("suspension", GuaranteeStatus.SUSPENDED, ReasonIn)
    status_route("reinstatement", GuaranteeStatus.ACTIVE, OptionalReasonIn)
    status_route("revocation", GuaranteeStatus.REVOKED, ReasonIn)

    @router.post(
        "/guarantees/{grn}/authorisations",
        response_model=list[str],
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def authorise(grn: Grn, body: Annotated[AuthorisationIn, Body()], actor: Actor) -> list[str]:
        """Let another holder quote this guarantee; answers every authorised holder."""
        return call(lambda: guarantees.authorise_holder(ctx, grn, body.holder_id, actor=actor))

    @router.delete(
        "/guarantees/{grn}/authorisations/{holder_id}",
        response_model=list[str],
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def withdraw(
        grn: Grn, holder_id: Annotated[str, Path(max_length=35)], actor: Actor
    ) -> list[str]:
        return call(lambda: guarantees.withdraw_authorisation(ctx, grn, holder_id, actor=actor))
