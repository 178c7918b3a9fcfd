"""API routes of the node for navigation seals, under ``/api/v1``.

The registry, activation, a batch telemetry endpoint for operators' systems (JSON lines), a
movement's track, incident worklists and a live stream of incidents (Server-Sent Events).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from silkway.bootstrap import Node
from silkway.identity.access import Actor
from silkway.kernel.errors import Violation
from silkway.kernel.wire import JSON_INTEGER
from silkway.seals import ingest as telemetry
from silkway.seals import service as seal_service
from silkway.seals.domain.seals import (
    MAX_REPORTING_PERIOD_S,
    MIN_REPORTING_PERIOD_S,
    DeviceProtocol,
    Incident,
    IncidentCode,
    IncidentStatus,
    Seal,
    SealStatus,
)
from silkway.seals.domain.telemetry import Position
from silkway.seals.ports import IncidentFilter
from silkway.seals.service import MovementTrack, SealContext
from silkway.web.problems import ApiProblem
from silkway.web.responses import problems

NDJSON = "application/x-ndjson"
JSONL = "application/jsonl"
MAX_BATCH_LINES = 10_000
MAX_ID = 2_147_483_647
"""The largest number a path or query takes (a 32-bit column's)."""
SealIdPath = Annotated[str, Path(min_length=4, max_length=35, pattern=r"^[A-Z0-9][A-Z0-9\-]+$")]
MovementRef = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z0-9]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SealIn(_Body):
    # The seal's own rules, as far as a schema can say them (an IMEI for a device protocol,
    # a password only where the protocol has one, are the domain's to refuse).
    seal_id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9\-]{3,34}$")]
    protocol: DeviceProtocol
    imei: Annotated[str | None, Field(max_length=35)] = None
    password: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    reporting_period_s: Annotated[
        int, Field(ge=MIN_REPORTING_PERIOD_S, le=MAX_REPORTING_PERIOD_S), JSON_INTEGER
    ] = 300
    battery_pct: Annotated[int, Field(ge=0, le=100), JSON_INTEGER] | None = None
    firmware: Annotated[str | None, Field(min_length=1, max_length=40)] = None
    operator: Annotated[str | None, Field(pattern=r"^[A-Z]{2}$")] = None


class SealOut(BaseModel):
    seal_id: str
    operator: str
    protocol: str
    imei: str
    reporting_period_s: int
    battery_pct: int | None
    firmware: str | None
    status: SealStatus
    movement_reference: str | None
    registered_at: datetime

    @classmethod
    def of(cls, seal: Seal) -> SealOut:
        return cls(
            seal_id=seal.seal_id,
            operator=seal.operator,
            protocol=seal.protocol.value,
            imei=seal.device_id,
            reporting_period_s=seal.reporting_period_s,
            battery_pct=seal.battery_pct,
            firmware=seal.firmware,
            status=seal.status,
            movement_reference=seal.movement_reference,
            registered_at=seal.registered_at,
        )


class ActivationIn(_Body):
    movement_reference: Annotated[str, Field(min_length=1, max_length=24)]


class ClosureIn(_Body):
    note: Annotated[str, Field(min_length=1, max_length=512)]


class PositionLine(_Body):
    """One line of a telemetry batch: a fix as an operator's system reports it."""

    device_id: Annotated[str, Field(min_length=1, max_length=35)]
    """IMEI or seal id."""
    time: AwareDatetime
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    speed_kmh: Annotated[float | None, Field(ge=0, le=500)] = None
    course: Annotated[int | None, Field(ge=0, le=359)] = None
    altitude_m: Annotated[float | None, Field(ge=-1000, le=10000)] = None
    satellites: Annotated[int | None, Field(ge=0, le=64)] = None
    valid: bool = True
    stored: bool = False
    battery_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    events: list[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]] = Field(
        default_factory=list, max_length=16
    )
    """Seal events by name: seal_opened, housing_opened, malfunction, unauthorised."""
    io: dict[Annotated[str, Field(max_length=32)], int | float | str] = Field(
        default_factory=dict, max_length=64
    )

    def position(self, source: str) -> Position:
        io: dict[str, int | float | str] = dict(self.io)
        if self.battery_pct is not None:
            io["battery_pct"] = self.battery_pct
        return Position(
            device_id=self.device_id,
            time=self.time,
            lat=self.lat,
            lon=self.lon,
            speed_kmh=self.speed_kmh,
            course=self.course,
            altitude_m=self.altitude_m,
            satellites=self.satellites,
            valid=self.valid,
            stored=self.stored,
            flags=dict.fromkeys(self.events, True),
            io=io,
            protocol=source,
        )


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    unknown_device: int
    rejected: list[dict[str, Any]]
    incidents_opened: int
    incidents_closed: int
    handovers: int


class IncidentOut(BaseModel):
    id: int | None
    seq: int
    code: IncidentCode
    status: IncidentStatus
    movement_reference: str
    seal_id: str
    opened_at: datetime
    last_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    points: int
    lat: float | None
    lon: float | None
    worst: float | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, i: Incident) -> IncidentOut:
        return cls(
            id=i.id,
            seq=i.seq,
            code=i.code,
            status=i.status,
            movement_reference=i.movement_reference,
            seal_id=i.seal_id,
            opened_at=i.opened_at,
            last_at=i.last_at,
            closed_at=i.closed_at,
            closed_by=i.closed_by,
            points=i.points,
            lat=i.lat,
            lon=i.lon,
            worst=i.worst,
            detail=dict(i.detail),
        )


class TrackOut(BaseModel):
    movement_reference: str
    seals: list[str]
    stored_points: int
    route_km: float | None
    progress_km: float | None
    remaining_km: float | None
    distance_from_corridor_km: float | None
    current_state: str | None
    eta: datetime | None
    time_limit_end: datetime | None
    late_by_hours: float | None
    handovers: list[dict[str, Any]]
    points: list[dict[str, Any]]

    @classmethod
    def of(cls, t: MovementTrack) -> TrackOut:
        return cls(
            movement_reference=t.movement_reference,
            seals=t.seals,
            stored_points=t.stored_points,
            route_km=t.route_km,
            progress_km=t.progress_km,
            remaining_km=t.remaining_km,
            distance_from_corridor_km=t.distance_km,
            current_state=t.current_state,
            eta=t.eta,
            time_limit_end=t.time_limit_end,
            late_by_hours=None if t.late_by is None else t.late_by / timedelta(hours=1),
            handovers=[
                {
                    "kind": h.kind,
                    "from_state": h.handover.from_state,
                    "to_state": h.handover.to_state,
                    "at": h.handover.at.isoformat(),
                    "seal_id": h.handover.seal_id,
                    "message_id": h.message_id,
                }
                for h in t.handovers
            ],
            points=[
                {
                    "time": p.time.isoformat(),
                    "lat": p.lat,
                    "lon": p.lon,
                    "speed_kmh": p.speed_kmh,
                    "distance_km": p.distance_km,
                    "events": p.events,
                }
                for p in t.points
            ],
        )


def parse_batch(body: bytes, source: str) -> list[Position]:
    """Positions from JSON lines, or :class:`ApiProblem` pointing at every bad line."""
    violations: list[Violation] = []
    positions: list[Position] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiProblem(
            400, "batch-malformed", "Malformed batch", "the body is not UTF-8 text"
        ) from None
    lines = [(n, line) for n, line in enumerate(text.split("\n")) if line.strip()]
    if not lines:
        raise ApiProblem(422, "batch-empty", "Empty batch", "the batch holds no position")
    if len(lines) > MAX_BATCH_LINES:
        raise ApiProblem(
            413, "batch-too-large", "Batch too large", f"at most {MAX_BATCH_LINES} lines"
        )
    for n, line in lines:
        try:
            positions.append(PositionLine.model_validate_json(line).position(source))
        except ValidationError as exc:
            for err in exc.errors()[:5]:
                kind = str(err.get("type", "invalid"))
                where = "/".join(str(p) for p in err.get("loc", ()))
                code = (
                    "json-invalid" if kind == "json_invalid" else f"schema-{kind.replace('_', '-')}"
                )
                pointer = f"/{n}/{where}" if where and kind != "json_invalid" else f"/{n}"
                violations.append(Violation(code, pointer, str(err.get("msg", "invalid"))))
        if len(violations) >= 50:
            break
    if violations:
        raise ApiProblem(
            422,
            "batch-invalid",
            "Telemetry batch refused",
            f"{len(violations)} problem(s) in the batch; nothing was stored",
            violations,
        )
    return positions


class EventStream(StreamingResponse):
    """A stream of Server-Sent Events (how the OpenAPI names its media type)."""

    media_type = "text/event-stream"


def _sse(incident: Incident) -> str:
    data = IncidentOut.of(incident).model_dump_json()
    return f"id: {incident.seq}\nevent: incident\ndata: {data}\n\n"


def build_seal_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    ctx: SealContext = node.seals

    @router.post(
        "/seals", status_code=201, response_model=SealOut, tags=["seals"], responses=problems(409)
    )
    def register(body: SealIn, actor: Actor) -> SealOut:
        """Register a seal with this node's operator."""
        seal = seal_service.register_seal(
            ctx,
            seal_id=body.seal_id,
            protocol=body.protocol,
            imei=body.imei,
            reporting_period_s=body.reporting_period_s,
            password=body.password,
            battery_pct=body.battery_pct,
            firmware=body.firmware,
            operator=body.operator,
            actor=actor,
        )
        return SealOut.of(seal)

    @router.get("/seals", response_model=list[SealOut], tags=["seals"])
    def seals(
        operator: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
        status: SealStatus | None = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[SealOut]:
        found = seal_service.list_seals(
            ctx, operator=operator, status=status, offset=offset, limit=limit
        )
        return [SealOut.of(s) for s in found]

    @router.get("/seals/{seal_id}", response_model=SealOut, tags=["seals"], responses=problems(404))
    def seal(seal_id: SealIdPath) -> SealOut:
        return SealOut.of(seal_service.get_seal(ctx, seal_id))

    @router.post("/seals/{seal_id}/activation", tags=["seals"], responses=problems(404, 409))
    def activate(seal_id: SealIdPath, body: ActivationIn, actor: Actor) -> dict[str, Any]:
        """Activate a seal on a released movement (declared seals are activated at release)."""
        result = seal_service.activate_seal(ctx, seal_id, body.movement_reference, actor=actor)
        return {"activated": result.activated}

    @router.post(
        "/telemetry",
        response_model=IngestOut,
        summary="A batch of positions as JSON lines (application/x-ndjson)",
        tags=["telemetry"],
        responses=problems(415),
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "One position per line, as a JSON object (PositionLine).",
                "content": {media: {"schema": {"type": "string"}} for media in (NDJSON, JSONL)},
            }
        },
    )
    async def ingest_batch(request: Request) -> IngestOut:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in (NDJSON, JSONL):
            raise ApiProblem(
                415,
                "media-type-unsupported",
                "Unsupported media type",
                f"send positions as {NDJSON}, one JSON object per line",
                [Violation("media-type-unsupported", "/header/content-type", media or "none")],
            )
        positions = parse_batch(await request.body(), "http")
        report = await run_in_threadpool(telemetry.ingest, ctx, positions, source="http")
        return IngestOut(
            accepted=report.accepted,
            duplicates=report.duplicates,
            unknown_device=report.unknown_device,
            rejected=[{"index": i, "reason": r} for i, r in report.rejected],
            incidents_opened=report.incidents_opened,
            incidents_closed=report.incidents_closed,
            handovers=report.handovers,
        )

    @router.get(
        "/movements/{key}/track", response_model=TrackOut, tags=["seals"], responses=problems(404)
    )
    def track(
        key: MovementRef,
        tolerance_km: Annotated[float, Query(ge=0, le=100)] = 0.5,
    ) -> TrackOut:
        """The movement's track thinned for a map, progress, ETA, lateness and hand-overs."""
        return TrackOut.of(seal_service.movement_track(ctx, key, tolerance_km=tolerance_km))

    @router.get("/seal-incidents", response_model=list[IncidentOut], tags=["incidents"])
    def incidents(
        status: IncidentStatus | None = None,
        code: IncidentCode | None = None,
        office: Annotated[str | None, Query(pattern=r"^(\d{2}|\d{5}|\d{8})$")] = None,
        movement: Annotated[str | None, Query(max_length=24)] = None,
        seal_id: Annotated[str | None, Query(max_length=35)] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[IncidentOut]:
        """Incidents, newest first; ``office`` gives that customs office's worklist."""
        flt = IncidentFilter(
            status=status, code=code, office=office, movement_reference=movement, seal_id=seal_id
        )
        found = seal_service.list_incidents(ctx, flt, offset=offset, limit=limit)
        return [IncidentOut.of(i) for i in found]

    @router.post(
        "/seal-incidents/{incident_id}/closure",
        response_model=IncidentOut,
        tags=["incidents"],
        responses=problems(404, 409),
    )
    def close(
        incident_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: ClosureIn, actor: Actor
    ) -> IncidentOut:
        return IncidentOut.of(
            seal_service.close_incident(ctx, incident_id, note=body.note, actor=actor)
        )

    @router.post("/seal-incidents/silence-check", tags=["incidents"])
    def silence_check() -> dict[str, Any]:
        """Open incident 06 for every silent seal (what the node's scheduler runs)."""
        opened = telemetry.check_silence(ctx)
        return {"opened": [IncidentOut.of(i).model_dump(mode="json") for i in opened]}

    @router.get(
        "/seal-incidents/stream",
        tags=["incidents"],
        response_class=EventStream,
        responses={200: {"description": "Server-Sent Events: `incident` events."}},
    )
    async def stream(
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        wait: Annotated[float, Query(ge=0, le=300)] = 25.0,
        last_event_id: Annotated[str, Header(pattern=r"^[0-9]{1,10}$")] = "",
    ) -> EventStream:
        """Incident changes as Server-Sent Events, resuming after ``Last-Event-ID``/``after``.

        The stream ends after ``wait`` seconds; the browser's EventSource reconnects by itself.
        """
        start = after if after is not None else _event_id(last_event_id)

        async def events() -> AsyncIterator[str]:
            seq = start
            deadline = time.monotonic() + wait
            yield "retry: 2000\n\n"
            while True:
                changes = await run_in_threadpool(seal_service.incident_changes, ctx, seq)
                for incident in changes:
                    seq = max(seq, incident.seq)
                    yield _sse(incident)
                if time.monotonic() >= deadline:
                    return
                await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

        return EventStream(events(), headers={"Cache-Control": "no-cache"})

    return router


def _event_id(value: str) -> int:
    # The header's schema admits digits only: anything else was refused with a 422.
    return int(value) if value else 0
