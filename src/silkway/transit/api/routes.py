"""The transit routes of one node, under ``/api/v1``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from silkway.identity.access import (
    acting_party,
    principal_of,
    require_office,
    require_party,
    sees_party,
)
from silkway.identity.domain.principal import Principal
from silkway.kernel.codes import identify
from silkway.kernel.errors import Violation
from silkway.kernel.wire import Date
from silkway.transit import service as transit
from silkway.transit.api.schemas import (
    ACTIONS,
    Action,
    ChainOut,
    EventLogOut,
    EventOut,
    LodgeResult,
    MovementDetail,
    MovementPage,
    MovementSummary,
    NoBody,
    OutboxOut,
)
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import Movement, MovementStatus
from silkway.transit.domain.rules import describe_rules
from silkway.transit.ports import MovementFilter
from silkway.transit.service import TransitContext
from silkway.web.problems import ApiProblem
from silkway.web.responses import problems

MovementRef = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z0-9]+$")]


def build_router(ctx: TransitContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.post(
        "/declarations",
        status_code=201,
        response_model=LodgeResult,
        summary="Lodge a transit declaration (idempotent on declarant and LRN)",
        tags=["declarations"],
        responses={
            200: {
                "description": "Lodged before with the same content: the same movement.",
                "model": LodgeResult,
            },
            **problems(409),
        },
    )
    def lodge(
        declaration: Annotated[TransitDeclaration, Body()], request: Request, response: Response
    ) -> LodgeResult:
        principal = principal_of(request)
        require_party(principal, declaration.owners(), "the declaration")
        # Domain errors (a conflicting LRN, a concurrent change) rise to the one error table.
        lodged = transit.lodge_declaration(ctx, declaration, actor=principal.actor)
        m = lodged.movement
        # The node's own mount point: url_for would search every mounted node of the Union.
        location = f"{request.scope.get('root_path', '')}/api/v1/movements/{m.reference}"
        response.headers["Location"] = location
        if not lodged.created:
            response.status_code = 200
        return LodgeResult(
            reference=m.reference,
            registration_number=m.registration_number,
            status=m.status,
            created=lodged.created,
            links={"self": location, "events": f"{location}/events"},
        )

    @router.get("/movements", response_model=MovementPage, tags=["movements"])
    def list_movements(
        request: Request,
        status: MovementStatus | None = None,
        office: Annotated[str | None, Query(max_length=8)] = None,
        departure_office: Annotated[str | None, Query(max_length=8)] = None,
        destination_office: Annotated[str | None, Query(max_length=8)] = None,
        declarant: Annotated[str | None, Query(max_length=35)] = None,
        lodged_from: Date | None = None,
        lodged_to: Date | None = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> MovementPage:
        if lodged_from and lodged_to and lodged_from > lodged_to:
            # No schema can say that one parameter comes before another: a documented 422.
            raise ApiProblem(
                422,
                "query-invalid",
                "Invalid query",
                "lodged_from is after lodged_to",
                [Violation("date-range-inverted", "/query/lodged_from", "after lodged_to")],
            )
        flt = MovementFilter(
            status=status,
            office=office,
            departure_office=departure_office,
            destination_office=destination_office,
            lodged_from=lodged_from,
            lodged_to=lodged_to,
            # A declarant's or carrier's list holds only the movements it declared.
            declarant_id=acting_party(principal_of(request)) or declarant,
        )
        page = transit.list_movements(ctx, flt, offset=offset, limit=limit)
        return MovementPage(
            items=[MovementSummary.of(m) for m in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @router.get(
        "/movements/{key}",
        response_model=MovementDetail,
        name="get_movement",
        tags=["movements"],
        responses=problems(404),
    )
    def get_movement(key: MovementRef, request: Request) -> MovementDetail:
        return MovementDetail.of(visible_movement(ctx, principal_of(request), key))

    @router.get(
        "/registrations/{office}/{day}/{serial}",
        response_model=MovementDetail,
        summary="A movement by its registration number office/DDMMYY/serial",
        tags=["movements"],
        responses=problems(404),
    )
    def get_by_registration(
        office: Annotated[str, Path(pattern=r"^(\d{2}|\d{5}|\d{8})$")],
        day: Annotated[str, Path(pattern=r"^\d{6}$")],
        serial: Annotated[str, Path(pattern=r"^\d{1,7}$")],
        request: Request,
    ) -> MovementDetail:
        key = f"{office}/{day}/{serial}"
        return MovementDetail.of(visible_movement(ctx, principal_of(request), key))

    @router.get(
        "/movements/{key}/events",
        response_model=EventLogOut,
        tags=["movements"],
        responses=problems(404),
    )
    def get_events(key: MovementRef, request: Request) -> EventLogOut:
        visible_movement(ctx, principal_of(request), key)
        records, verdict = transit.event_log(ctx, key)
        return EventLogOut(
            reference=key,
            verification=ChainOut(
                ok=verdict.ok,
                checked=verdict.checked,
                first_bad_seq=verdict.first_bad_seq,
                reason=verdict.reason,
            ),
            events=[EventOut.of(r) for r in records],
        )

    @router.get("/movements/{key}/messages", response_model=list[OutboxOut], tags=["movements"])
    def get_messages(key: MovementRef) -> list[OutboxOut]:
        with ctx.uow() as uow:
            messages = uow.outbox.for_movement(key)
        return [
            OutboxOut(
                message_id=m.message_id,
                to_state=m.to_state,
                process=m.process,
                message_kind=m.message_kind,
                created_at=m.created_at,
            )
            for m in messages
        ]

    for action in ACTIONS:
        _add_action(router, ctx, action)

    @router.get(
        "/offices/{office}/worklist",
        response_model=list[MovementSummary],
        summary="An office's worklist",
        tags=["offices"],
        responses=problems(404),
    )
    def office_worklist(
        office: Annotated[str, Path(pattern=r"^(\d{2}|\d{5}|\d{8})$")],
        kind: Annotated[str, Query(pattern="^(" + "|".join(transit.WORKLISTS) + ")$")],
        limit: Annotated[int, Query(ge=1, le=500)] = 200,
    ) -> list[MovementSummary]:
        if office not in ctx.reference.offices:
            raise ApiProblem(404, "office-unknown", "Unknown office", f"no office {office}")
        return [MovementSummary.of(m) for m in transit.worklist(ctx, office, kind, limit=limit)]

    @router.post("/overdue-check", tags=["offices"], summary="Mark overdue movements")
    def overdue_check() -> dict[str, list[str]]:
        return {"marked": transit.mark_overdue_movements(ctx)}

    @router.get("/rules", tags=["reference"], summary="The declaration validation rules")
    def rules() -> list[dict[str, str]]:
        return describe_rules()

    @router.get("/codes/{value}", tags=["reference"], summary="What a code is and if it is valid")
    def check_code(value: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        return identify(value).as_dict()

    @router.get("/offices", tags=["reference"], summary="Customs offices of the Union")
    def offices(
        state: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    ) -> list[dict[str, Any]]:
        return [
            {
                "code": o.code,
                "state": o.state,
                "name": o.name,
                "roles": sorted(o.roles),
                "lat": o.lat,
                "lon": o.lon,
                "border_point": o.border_point,
            }
            for o in ctx.reference.offices.values()
            if state is None or o.state == state
        ]

    return router


def visible_movement(ctx: TransitContext, principal: Principal, key: str) -> Movement:
    """The movement, if this caller may see it; to anyone else it does not exist."""
    movement = transit.get_movement(ctx, key)
    if not sees_party(principal, movement.declaration.owners()):
        raise transit.MovementNotFound(f"no movement {key!r} at the {ctx.state} node")
    return movement


def _add_action(router: APIRouter, ctx: TransitContext, action: Action) -> None:
    def run(key: str, body: Any, request: Request) -> MovementDetail:
        principal = principal_of(request)
        movement = visible_movement(ctx, principal, key)
        # The office an action is taken at: the one its body names, else the departure's.
        office = getattr(body, "office", None) or movement.declaration.departure_office
        require_office(principal, office)
        event = action.build(body, ctx.clock.now())
        return MovementDetail.of(transit.act(ctx, key, event, actor=principal.actor))

    def without_body(key: MovementRef, request: Request) -> MovementDetail:
        return run(key, NoBody(), request)

    def with_body(
        key: MovementRef, body: Annotated[Any, Body()], request: Request
    ) -> MovementDetail:
        return run(key, body, request)

    # The body model differs per action; FastAPI reads it from the annotation.
    with_body.__annotations__["body"] = action.body
    handler = without_body if action.body is NoBody else with_body

    handler.__name__ = "action_" + action.path.replace("-", "_")
    router.add_api_route(
        f"/movements/{{key}}/{action.path}",
        handler,
        methods=["POST"],
        response_model=MovementDetail,
        summary=action.summary,
        tags=["actions"],
        # A release locks the guarantee, and the end of a movement settles the lock: the ledger
        # may be busy (503) as well as the movement (409).
        responses=problems(404, 409, 503),
    )
