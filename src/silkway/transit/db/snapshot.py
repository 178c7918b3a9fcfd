"""The stored form of a :class:`Movement`: plain JSON, read back without replaying its log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import Movement, MovementStatus

_DATETIMES = ("lodged_at", "released_at", "arrived_at", "completed_at")


def movement_to_snapshot(m: Movement) -> dict[str, Any]:
    return {
        "reference": m.reference,
        "registration_number": m.registration_number,
        "state": m.state,
        "status": m.status.value,
        "declaration": m.declaration.model_dump(mode="json"),
        "time_limit": m.time_limit.isoformat(),
        "destination_office": m.destination_office,
        "version": m.version,
        "security_reference": m.security_reference,
        "passed_offices": list(m.passed_offices),
        "unplanned_offices": list(m.unplanned_offices),
        "incidents": m.incidents,
        "delivered_items": None if m.delivered_items is None else list(m.delivered_items),
        "arrival_office": m.arrival_office,
        **{name: _iso(getattr(m, name)) for name in _DATETIMES},
    }


def movement_from_snapshot(data: dict[str, Any]) -> Movement:
    delivered = data["delivered_items"]
    stamps = {
        name: None if data[name] is None else datetime.fromisoformat(data[name])
        for name in _DATETIMES
    }
    lodged_at = stamps.pop("lodged_at")
    assert lodged_at is not None
    return Movement(
        reference=data["reference"],
        registration_number=data["registration_number"],
        state=data["state"],
        status=MovementStatus(data["status"]),
        declaration=TransitDeclaration.model_validate(data["declaration"]),
        time_limit=date.fromisoformat(data["time_limit"]),
        destination_office=data["destination_office"],
        lodged_at=lodged_at,
        version=int(data["version"]),
        security_reference=data["security_reference"],
        passed_offices=tuple(data["passed_offices"]),
        unplanned_offices=tuple(data["unplanned_offices"]),
        incidents=int(data["incidents"]),
        delivered_items=None if delivered is None else tuple(delivered),
        arrival_office=data["arrival_office"],
        **stamps,
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
