"""The JSON telemetry seals publish over MQTT, and its decoding into positions.

Topic: ``{prefix}/{operator_state}/seals/{seal_id}/telemetry`` (``operator_state`` the ISO code of
the national operator in upper case, e.g. ``silkway/KZ/seals/KZ-SEAL-000123/telemetry``).
Payload: one fix, or a JSON array of fixes (a seal replaying its memory), each an object::

    {
      "time": "2026-12-01T08:00:00.000Z",   required, ISO 8601 with a UTC offset
      "lat": 43.2567, "lon": 76.9286,        required, decimal degrees
      "speed_kmh": 62.5,                     optional, >= 0
      "course": 270,                         optional, integer 0-359
      "altitude_m": 700.0,                   optional
      "satellites": 9,                       optional, integer
      "battery_pct": 87.5,                   optional, 0-100
      "valid": true,                         optional, default true: the fix is a real one
      "stored": false,                       optional, default false: replayed from memory
      "events": ["housing_opened"]           optional, the seal's own events (``SEAL_EVENTS``)
    }

Unknown fields, wrong types (a number in a string, 1 for true) and values outside the plausible
ranges of every device decoder are refused with the JSON pointer of the offending field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, ValidationError

from silkway.seals.devices.records import (
    DecodeError,
    IoValue,
    Position,
    check_altitude,
    check_course,
    check_satellites,
    check_speed,
    check_time,
)
from silkway.seals.domain.signals import GENERIC_EVENT_NAMES

__all__ = [
    "MAX_FIXES",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL",
    "SEAL_EVENTS",
    "SealFix",
    "SealFixes",
    "decode_seal_payload",
    "parse_topic",
    "subscription",
]

PROTOCOL = "mqtt"
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_FIXES = 1000

SEAL_EVENTS = GENERIC_EVENT_NAMES
"""Events a seal may report in ``events``, each with the incident it raises; each becomes a flag."""

_SEAL_ID = re.compile(r"[0-9A-Za-z_.\-]{1,64}", re.ASCII)
_STATE = re.compile(r"[A-Z]{2,3}", re.ASCII)


class SealFix(BaseModel):
    """One fix as a seal publishes it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    time: AwareDatetime
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    speed_kmh: float | None = None
    course: int | None = None
    altitude_m: float | None = None
    satellites: int | None = None
    battery_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    valid: bool = True
    stored: bool = False
    events: Annotated[list[str], Field(max_length=16)] = []


class SealFixes(RootModel[list[SealFix]]):
    """Several fixes in one message, oldest or newest first as the seal sends them."""

    model_config = ConfigDict(strict=True, frozen=True)

    root: Annotated[list[SealFix], Field(min_length=1, max_length=MAX_FIXES)]


def subscription(prefix: str, state: str) -> str:
    """The topic filter for every seal of one national operator."""
    return f"{prefix}/{state}/seals/+/telemetry"


def parse_topic(topic: str, prefix: str) -> tuple[str, str]:
    """(operator state, seal id) from a telemetry topic; ``DecodeError`` for any other shape."""
    parts = topic.split("/")
    prefix_parts = prefix.split("/")
    n = len(prefix_parts)
    if (
        len(parts) != n + 4
        or parts[:n] != prefix_parts
        or parts[n + 1] != "seals"
        or parts[n + 3] != "telemetry"
    ):
        raise DecodeError(PROTOCOL, f"topic {topic!r} is not {prefix}/STATE/seals/SEAL/telemetry")
    state, seal_id = parts[n], parts[n + 2]
    if not _STATE.fullmatch(state):
        raise DecodeError(PROTOCOL, f"topic {topic!r}: {state!r} is not a state code")
    if not _SEAL_ID.fullmatch(seal_id):
        raise DecodeError(PROTOCOL, f"topic {topic!r}: {seal_id!r} is not a seal id")
    return state, seal_id


def decode_seal_payload(payload: bytes, *, seal_id: str, now: datetime | None) -> list[Position]:
    """Positions from one MQTT payload; ``DecodeError`` names the first offending field."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(PROTOCOL, f"payload of {len(payload)} bytes over {MAX_PAYLOAD_BYTES}")
    many = payload.lstrip()[:1] == b"["
    try:
        fixes = (
            SealFixes.model_validate_json(payload).root
            if many
            else [SealFix.model_validate_json(payload)]
        )
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise DecodeError(PROTOCOL, f"{_pointer(first['loc'])}: {first['msg']}") from None
    return [
        _position(fix, seal_id, now, (index,) if many else ()) for index, fix in enumerate(fixes)
    ]


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(part) for part in loc)


def _position(fix: SealFix, seal_id: str, now: datetime | None, where: tuple[int, ...]) -> Position:
    time = fix.time.astimezone(UTC)
    name = "time"
    try:
        check_time(PROTOCOL, time, now, None)
        name = "speed_kmh"
        check_speed(PROTOCOL, fix.speed_kmh, None)
        name = "course"
        check_course(PROTOCOL, fix.course, None)
        name = "altitude_m"
        check_altitude(PROTOCOL, fix.altitude_m, None)
        name = "satellites"
        check_satellites(PROTOCOL, fix.satellites, None)
    except DecodeError as error:
        raise DecodeError(PROTOCOL, f"{_pointer((*where, name))}: {error.reason}") from None
    for index, event in enumerate(fix.events):
        if event not in SEAL_EVENTS:
            raise DecodeError(
                PROTOCOL,
                f"{_pointer((*where, 'events', index))}: unknown event {event!r}; expected one of"
                f" {', '.join(SEAL_EVENTS)}",
            )
    io: dict[str, IoValue] = {}
    if fix.battery_pct is not None:
        io["battery_pct"] = fix.battery_pct
    return Position(
        device_id=seal_id,
        time=time,
        lat=fix.lat,
        lon=fix.lon,
        speed_kmh=fix.speed_kmh,
        course=fix.course,
        altitude_m=fix.altitude_m,
        satellites=fix.satellites,
        valid=fix.valid,
        stored=fix.stored,
        flags=dict.fromkeys(fix.events, True),
        io=io,
        protocol=PROTOCOL,
    )
