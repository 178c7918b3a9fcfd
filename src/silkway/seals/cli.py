"""``silkway seals`` commands: registry, activation, tracks, incidents, silence check, purge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer

from silkway.entrypoints.cli_output import emit as _emit
from silkway.entrypoints.cli_output import fail as _fail
from silkway.entrypoints.cli_output import refused as _refused
from silkway.kernel.errors import DomainError
from silkway.reference.model import NODE_CODES
from silkway.seals.domain.seals import Incident, IncidentCode, IncidentStatus, Seal

seal_app = typer.Typer(
    help="Navigation seals: registry, telemetry, tracks, incidents.", no_args_is_help=True
)

StateOption = Annotated[str, typer.Option("--node", "--state", help="Node: AM BY KZ KG RU.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="SILKWAY_DATABASE_URL", help="Node database URL."),
]
T = TypeVar("T")


def _operator(node: Any, command: str) -> str:
    """Sign in the user running ``command``, which changes state; returns how it is recorded."""
    from silkway.identity.cli import operator

    return operator(node.identity, command).actor


@contextmanager
def _node(state: str, database_url: str | None) -> Iterator[Any]:
    from silkway.bootstrap import build_node

    code = state.upper()
    if code not in NODE_CODES:
        _fail("node-unknown", f"unknown node {state!r}; expected one of {', '.join(NODE_CODES)}")
    node = build_node(code, database_url=database_url, create=False)
    try:
        yield node
    finally:
        node.dispose()


def _run(work: Callable[[], T]) -> T:
    try:
        return work()
    except DomainError as exc:
        _refused(exc)


def _seal(seal: Seal) -> dict[str, Any]:
    return {
        "seal_id": seal.seal_id,
        "operator": seal.operator,
        "protocol": seal.protocol.value,
        "imei": seal.device_id,
        "reporting_period_s": seal.reporting_period_s,
        "battery_pct": seal.battery_pct,
        "firmware": seal.firmware,
        "status": seal.status.value,
        "movement_reference": seal.movement_reference,
        "registered_at": seal.registered_at.isoformat(),
    }


def _incident(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "code": i.code.value,
        "status": i.status.value,
        "movement_reference": i.movement_reference,
        "seal_id": i.seal_id,
        "opened_at": i.opened_at.isoformat(),
        "last_at": i.last_at.isoformat(),
        "closed_at": None if i.closed_at is None else i.closed_at.isoformat(),
        "points": i.points,
        "worst": i.worst,
        "detail": i.detail,
    }


@seal_app.command("register")
def register(
    seal_id: Annotated[str, typer.Argument(help="The seal's id.")],
    state: StateOption,
    protocol: Annotated[str, typer.Option(help="egts, wialon, teltonika, mqtt or http.")],
    imei: Annotated[str | None, typer.Option(help="Device IMEI (wire protocols).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Wialon IPS login password (kept only as its hash).")
    ] = None,
    period: Annotated[int, typer.Option(help="Reporting period in seconds.")] = 300,
    firmware: Annotated[str | None, typer.Option(help="Firmware version.")] = None,
    database_url: UrlOption = None,
) -> None:
    """Register a seal with the node's operator."""
    from silkway.seals import service as seals

    with _node(state, database_url) as node:
        actor = _operator(node, "seals register")
        seal = _run(
            lambda: seals.register_seal(
                node.seals,
                seal_id=seal_id,
                protocol=protocol,
                imei=imei,
                reporting_period_s=period,
                password=password,
                firmware=firmware,
                actor=actor,
            )
        )
    _emit(_seal(seal))


@seal_app.command("show")
def show(
    seal_id: Annotated[str, typer.Argument(help="The seal's id.")],
    state: StateOption,
    database_url: UrlOption = None,
) -> None:
    """Show a seal of the registry."""
    from silkway.seals import service as seals

    with _node(state, database_url) as node:
        seal = _run(lambda: seals.get_seal(node.seals, seal_id))
    _emit(_seal(seal))


@seal_app.command("activate")
def activate(
    seal_id: Annotated[str, typer.Argument(help="The seal's id.")],
    movement: Annotated[str, typer.Option(help="Reference of a released movement.")],
    state: StateOption,
    database_url: UrlOption = None,
) -> None:
    """Activate a seal on a released movement (declared seals are activated at release)."""
    from silkway.seals import service as seals

    with _node(state, database_url) as node:
        actor = _operator(node, "seals activate")
        result = _run(lambda: seals.activate_seal(node.seals, seal_id, movement, actor=actor))
    _emit({"activated": result.activated})


@seal_app.command("track")
def track(
    movement: Annotated[str, typer.Argument(help="Movement reference.")],
    state: StateOption,
    tolerance_km: Annotated[float, typer.Option(help="Map thinning tolerance.")] = 0.5,
    database_url: UrlOption = None,
) -> None:
    """A movement's progress, ETA, lateness, hand-overs and its thinned track."""
    from silkway.seals import service as seals

    if not 0 <= tolerance_km <= 100:
        _fail("tolerance-invalid", "--tolerance-km must be within 0 to 100")
    with _node(state, database_url) as node:
        t = _run(lambda: seals.movement_track(node.seals, movement, tolerance_km=tolerance_km))
    _emit(
        {
            "movement_reference": t.movement_reference,
            "seals": t.seals,
            "stored_points": t.stored_points,
            "route_km": t.route_km,
            "progress_km": t.progress_km,
            "remaining_km": t.remaining_km,
            "current_state": t.current_state,
            "eta": t.eta,
            "time_limit_end": t.time_limit_end,
            "late_by_hours": None if t.late_by is None else t.late_by.total_seconds() / 3600,
            "handovers": [
                {"kind": h.kind, "from": h.handover.from_state, "to": h.handover.to_state}
                for h in t.handovers
            ],
            "points": [[p.time.isoformat(), p.lat, p.lon] for p in t.points],
        }
    )


@seal_app.command("incidents")
def incidents(
    state: StateOption,
    status: Annotated[str | None, typer.Option(help="open or closed.")] = None,
    code: Annotated[str | None, typer.Option(help="01–07, stop, state, late.")] = None,
    office: Annotated[str | None, typer.Option(help="A customs office's worklist.")] = None,
    movement: Annotated[str | None, typer.Option(help="One movement.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    database_url: UrlOption = None,
) -> None:
    """List incidents, newest first."""
    from silkway.seals import service as seals
    from silkway.seals.ports import IncidentFilter

    try:
        flt = IncidentFilter(
            status=None if status is None else IncidentStatus(status),
            code=None if code is None else IncidentCode(code),
            office=office,
            movement_reference=movement,
        )
    except ValueError as exc:
        _fail("filter-invalid", str(exc))
        return
    if not 1 <= limit <= 10_000:
        _fail("limit-invalid", "--limit must be within 1 to 10000")
    with _node(state, database_url) as node:
        found = seals.list_incidents(node.seals, flt, limit=limit)
    _emit([_incident(i) for i in found])


@seal_app.command("check-silence")
def check_silence(state: StateOption, database_url: UrlOption = None) -> None:
    """Open incident 06 for every silent seal (run it periodically)."""
    from silkway.seals import ingest as telemetry

    with _node(state, database_url) as node:
        _operator(node, "seals check-silence")
        opened = telemetry.check_silence(node.seals)
    _emit([_incident(i) for i in opened])


@seal_app.command("purge")
def purge(state: StateOption, database_url: UrlOption = None) -> None:
    """Delete positions older than the retention period."""
    from silkway.seals import ingest as telemetry

    with _node(state, database_url) as node:
        _operator(node, "seals purge")
        deleted = telemetry.purge_positions(node.seals)
    _emit({"deleted": deleted})
