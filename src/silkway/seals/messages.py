"""The P.SO.01 messages one national seal operator sends another, as the outbox keeps them.

Each builder returns an :class:`OutboxMessage`; the exchange's relay seals and sends it (or
hands it to the paper channel where P.SO.01 is not in operation with the receiving state). Every
message about a carriage travels in the conversation of its movement, as P.CP.01 messages do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from silkway.exchange.domain.processes import (
    COMPLETION_OPERATOR,
    PASSAGE_OPERATOR,
    REGISTRATION_OPERATOR,
    TRACKING_OPERATOR,
)
from silkway.exchange.outbound import conversation_of, process_message
from silkway.exchange.ports import OutboxMessage
from silkway.seals.domain.rules import Handover, from_ms
from silkway.seals.domain.seals import Seal, new_seal
from silkway.seals.domain.signals import events_in

SEAL_ENQUIRY = "seal_enquiry"
SEAL_ANSWER = "seal_answer"
HANDOVER = "handover"
COMPLETION = "completion"
POSITIONS = "positions"

ENQUIRY_CODE = "P.SO.01.MSG.901"
ANSWER_CODE = "P.SO.01.MSG.902"
HANDOVER_CODE = "P.SO.01.MSG.903"
COMPLETION_CODE = "P.SO.01.MSG.904"
POSITIONS_CODE = "P.SO.01.MSG.905"

_ENQUIRY_TRANSACTION = "P.SO.01.TRN.901"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _message(
    to_state: str,
    kind: str,
    code: str,
    roles: tuple[str, str],
    movement_reference: str,
    fields: dict[str, Any],
    now: datetime,
    *,
    relates_to: str | None = None,
) -> OutboxMessage:
    return process_message(
        to_state,
        kind,
        fields,
        now,
        sender_role=roles[0],
        receiver_role=roles[1],
        conversation_id=conversation_of(movement_reference),
        movement_reference=movement_reference,
        relates_to=relates_to,
        code=code,
        transaction=_ENQUIRY_TRANSACTION if relates_to else None,
    )


def _coordinate(value: float) -> Decimal:
    # Seals report to about one arc-second; seven decimals keep every digit they send.
    return Decimal(repr(round(value, 7)))


def location(lat: float, lon: float) -> dict[str, Decimal]:
    return {"Latitude": _coordinate(lat), "Longitude": _coordinate(lon)}


def device_fields(seal: Seal) -> dict[str, Any]:
    """What the next operator needs to recognise the seal on the wire."""
    fields: dict[str, Any] = {
        "ProtocolCode": seal.protocol.value,
        "DeviceId": seal.device_id,
        "ReportingPeriodSeconds": seal.reporting_period_s,
    }
    if seal.password_hash is not None:
        fields["DevicePasswordHash"] = seal.password_hash
    if seal.firmware is not None:
        fields["FirmwareVersion"] = seal.firmware
    if seal.battery_pct is not None:
        fields["BatteryPercent"] = seal.battery_pct
    return fields


def seal_from_device(seal_id: str, operator: str, device: dict[str, Any], now: datetime) -> Seal:
    """A third-party seal as another operator described it (checked like any registration)."""
    return new_seal(
        seal_id=seal_id,
        operator=operator,
        protocol=str(device["ProtocolCode"]),
        device_id=str(device["DeviceId"]),
        reporting_period_s=int(device["ReportingPeriodSeconds"]),
        registered_at=now,
        password_hash=device.get("DevicePasswordHash"),
        battery_pct=device.get("BatteryPercent"),
        firmware=device.get("FirmwareVersion"),
    )


def enquiry(
    tracking: str, registration: str, seal_id: str, movement_reference: str, now: datetime
) -> OutboxMessage:
    """Ask the registration operator about a seal declared on a movement released here."""
    fields = {
        "SealId": seal_id,
        "MovementReference": movement_reference,
        "TrackingCountryCode": tracking,
        "EnquiryDateTime": now,
    }
    return _message(
        registration,
        SEAL_ENQUIRY,
        ENQUIRY_CODE,
        (TRACKING_OPERATOR, REGISTRATION_OPERATOR),
        movement_reference,
        fields,
        now,
    )


def enquiry_answer(
    registration: str,
    tracking: str,
    seal_id: str,
    movement_reference: str,
    answer: str,
    seal: Seal | None,
    now: datetime,
    *,
    relates_to: str,
    remarks: str | None = None,
) -> OutboxMessage:
    """The registration operator's answer: the seal's device when it is ``available``."""
    fields: dict[str, Any] = {
        "SealId": seal_id,
        "MovementReference": movement_reference,
        "AnswerCode": answer,
        "RegistrationCountryCode": registration,
    }
    if seal is not None and answer == "available":
        fields["Device"] = device_fields(seal)
    if remarks:
        fields["Remarks"] = remarks
    return _message(
        tracking,
        SEAL_ANSWER,
        ANSWER_CODE,
        (REGISTRATION_OPERATOR, TRACKING_OPERATOR),
        movement_reference,
        fields,
        now,
        relates_to=relates_to,
    )


def handover(h: Handover, seal: Seal, completion_state: str | None, now: datetime) -> OutboxMessage:
    """Tell the operator of the state the carriage entered that it takes over there."""
    fields: dict[str, Any] = {
        "MovementReference": h.movement_reference,
        "SealId": h.seal_id,
        "RegistrationCountryCode": seal.operator,
        "FromCountryCode": h.from_state,
        "ToCountryCode": h.to_state,
        "HandoverDateTime": h.at,
        "Location": location(h.lat, h.lon),
        "Device": device_fields(seal),
        "LastReportDateTime": h.at,
    }
    receiver = COMPLETION_OPERATOR if h.to_state == completion_state else PASSAGE_OPERATOR
    return _message(
        h.to_state,
        HANDOVER,
        HANDOVER_CODE,
        (TRACKING_OPERATOR, receiver),
        h.movement_reference,
        fields,
        now,
    )


def completion(
    to_state: str,
    receiver_role: str,
    h: Handover,
    movement_status: str,
    now: datetime,
) -> OutboxMessage:
    """Tell an operator on the route (or the seal's registration operator) tracking has ended."""
    fields: dict[str, Any] = {
        "MovementReference": h.movement_reference,
        "SealId": h.seal_id,
        "CompletionDateTime": h.at,
        "MovementStatusCode": movement_status,
        "Location": location(h.lat, h.lon),
    }
    return _message(
        to_state,
        COMPLETION,
        COMPLETION_CODE,
        (TRACKING_OPERATOR, receiver_role),
        h.movement_reference,
        fields,
        now,
    )


FORWARD_CHUNK = 500
"""Positions per forwarding message: well inside the schema's 1,000 and the parser's limits."""


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The points of one carriage that belong to the operator it was handed to."""

    to_state: str
    movement_reference: str
    seal_id: str
    t_ms: IntArray
    lat: FloatArray
    lon: FloatArray
    speed_kmh: FloatArray
    """NaN where the device did not say."""
    course: IntArray
    """Negative where the device did not say."""
    battery_pct: FloatArray
    """NaN where the position did not carry it."""
    signals: IntArray


def positions(forwarded: Forwarded, now: datetime) -> list[OutboxMessage]:
    """The points as MSG.905 messages to the operator now following the carriage."""
    f = forwarded
    points: list[dict[str, Any]] = []
    for i in range(len(f.t_ms)):
        point: dict[str, Any] = {
            "PositionDateTime": from_ms(int(f.t_ms[i])),
            **location(float(f.lat[i]), float(f.lon[i])),
        }
        speed = float(f.speed_kmh[i])
        if not math.isnan(speed):
            point["SpeedKmh"] = Decimal(f"{min(speed, 3000.0):.3f}")
        if f.course[i] >= 0:
            point["CourseDegrees"] = int(f.course[i]) % 360
        battery = float(f.battery_pct[i])
        if not math.isnan(battery):
            point["BatteryPercent"] = round(battery)
        events = events_in(int(f.signals[i]))
        if events:
            point["EventCode"] = tuple(e.value for e in events)
        points.append(point)
    return [
        _message(
            f.to_state,
            POSITIONS,
            POSITIONS_CODE,
            (TRACKING_OPERATOR, PASSAGE_OPERATOR),
            f.movement_reference,
            {
                "MovementReference": f.movement_reference,
                "SealId": f.seal_id,
                "Position": tuple(points[start : start + FORWARD_CHUNK]),
            },
            now,
        )
        for start in range(0, len(points), FORWARD_CHUNK)
    ]
