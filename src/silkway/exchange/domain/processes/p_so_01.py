"""P.SO.01, exchange between the national operators of navigation seals.

Rules: Decision 36 of 9 April 2024; roles from Board Decision 139 of 14 September 2023. Its
technological documents take effect on 1 February 2027 and are not published yet, so every code
of it is Silkway's own.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from silkway.exchange.domain.processes.spec import (
    MOVEMENT_REFERENCE,
    REMARKS,
    FieldKind,
    FieldSpec,
    MessageType,
    StructureSpec,
)

SEAL_PROCESS: Final = "P.SO.01"
"""Exchange between the national operators of navigation seals."""


PROCEDURE_SEAL_TRACKING: Final = "P.SO.01.PRC.001"
"""The one procedure under which Silkway runs every P.SO.01 transaction."""


SEAL_ROLES: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        "P.SO.01.ACT.001": "registration operator (the seal is registered there)",
        "P.SO.01.ACT.002": "tracking operator (tracks the carriage from where it started)",
        "P.SO.01.ACT.003": "passage operator (a member state the carriage crosses)",
        "P.SO.01.ACT.004": "completion operator (where the carriage ends)",
    }
)
"""Participant roles of P.SO.01 (Decision 139's roles; Silkway's numbering)."""


ANY_SEAL_ROLE: Final[tuple[str, ...]] = tuple(SEAL_ROLES)


_SEAL_ID = FieldSpec("SealId", FieldKind.CODE)


SEAL_ANSWERS: Final = ("available", "unknown", "in-use", "retired")
"""What a registration operator answers about one of its seals."""


MOVEMENT_ENDINGS: Final = (
    "completed",
    "partially_completed",
    "not_delivered",
    "cancelled",
)
"""How a movement ends, as the end-of-tracking notice says it."""


DEVICE_PROTOCOLS: Final = ("egts", "wialon", "teltonika", "mqtt", "http")


def _device(*, required: bool = True) -> FieldSpec:
    """How a seal reports: what the next operator needs to recognise it on the wire."""
    return FieldSpec(
        "Device",
        FieldKind.GROUP,
        required=required,
        fields=(
            FieldSpec("ProtocolCode", FieldKind.CODE, choices=DEVICE_PROTOCOLS),
            FieldSpec("DeviceId", FieldKind.CODE),
            # Wialon IPS devices log in with a password; the operator taking over checks logins
            # against its Argon2id hash, the only form the registry keeps (never the password).
            FieldSpec("DevicePasswordHash", FieldKind.TEXT, required=False),
            FieldSpec("ReportingPeriodSeconds", FieldKind.INTEGER),
            FieldSpec("FirmwareVersion", FieldKind.TEXT, required=False),
            FieldSpec("BatteryPercent", FieldKind.INTEGER, required=False),
        ),
    )


def _location(*, required: bool = True) -> FieldSpec:
    return FieldSpec(
        "Location",
        FieldKind.GROUP,
        required=required,
        fields=(
            FieldSpec("Latitude", FieldKind.DECIMAL),
            FieldSpec("Longitude", FieldKind.DECIMAL),
        ),
    )


STRUCTURE_SPECS: tuple[StructureSpec, ...] = (
    StructureSpec(
        "R.SW.SO.01.901",
        "Enquiry about a third-party seal",
        "SealEnquiry",
        (
            _SEAL_ID,
            MOVEMENT_REFERENCE,
            FieldSpec("TrackingCountryCode", FieldKind.CODE),
            FieldSpec("EnquiryDateTime", FieldKind.DATETIME),
        ),
    ),
    StructureSpec(
        "R.SW.SO.01.902",
        "Answer about a third-party seal",
        "SealEnquiryAnswer",
        (
            _SEAL_ID,
            MOVEMENT_REFERENCE,
            FieldSpec("AnswerCode", FieldKind.CODE, choices=SEAL_ANSWERS),
            FieldSpec("RegistrationCountryCode", FieldKind.CODE),
            _device(required=False),
            REMARKS,
        ),
    ),
    StructureSpec(
        "R.SW.SO.01.903",
        "Hand-over of a carriage to the next operator",
        "CarriageHandover",
        (
            MOVEMENT_REFERENCE,
            _SEAL_ID,
            FieldSpec("RegistrationCountryCode", FieldKind.CODE),
            FieldSpec("FromCountryCode", FieldKind.CODE),
            FieldSpec("ToCountryCode", FieldKind.CODE),
            FieldSpec("HandoverDateTime", FieldKind.DATETIME),
            _location(),
            _device(),
            FieldSpec("LastReportDateTime", FieldKind.DATETIME, required=False),
            FieldSpec("ProgressKm", FieldKind.DECIMAL, required=False),
        ),
    ),
    StructureSpec(
        "R.SW.SO.01.904",
        "End of tracking of a carriage",
        "TrackingCompletion",
        (
            MOVEMENT_REFERENCE,
            _SEAL_ID,
            FieldSpec("CompletionDateTime", FieldKind.DATETIME),
            FieldSpec("MovementStatusCode", FieldKind.CODE, choices=MOVEMENT_ENDINGS),
            _location(required=False),
        ),
    ),
    StructureSpec(
        "R.SW.SO.01.905",
        "Positions of a carriage forwarded to its current operator",
        "SealPositions",
        (
            MOVEMENT_REFERENCE,
            _SEAL_ID,
            FieldSpec(
                "Position",
                FieldKind.GROUP,
                repeated=True,
                fields=(
                    FieldSpec("PositionDateTime", FieldKind.DATETIME),
                    FieldSpec("Latitude", FieldKind.DECIMAL),
                    FieldSpec("Longitude", FieldKind.DECIMAL),
                    FieldSpec("SpeedKmh", FieldKind.DECIMAL, required=False),
                    FieldSpec("CourseDegrees", FieldKind.INTEGER, required=False),
                    FieldSpec("BatteryPercent", FieldKind.INTEGER, required=False),
                    FieldSpec("EventCode", FieldKind.CODE, required=False, repeated=True),
                ),
            ),
        ),
    ),
)


SEAL_PROCESSING_RESULT: Final = "P.SO.01.MSG.900"
"""The R.006 reply that answers every other P.SO.01 message."""


REGISTRATION_OPERATOR = "P.SO.01.ACT.001"


TRACKING_OPERATOR = "P.SO.01.ACT.002"


PASSAGE_OPERATOR = "P.SO.01.ACT.003"


COMPLETION_OPERATOR = "P.SO.01.ACT.004"


MESSAGE_TYPES: tuple[MessageType, ...] = (
    MessageType(
        SEAL_PROCESSING_RESULT,
        "Processing result",
        "R.006",
        ANY_SEAL_ROLE,
        ANY_SEAL_ROLE,
        None,
        official=False,
    ),
    MessageType(
        "P.SO.01.MSG.901",
        "Enquiry about a third-party seal",
        "R.SW.SO.01.901",
        (TRACKING_OPERATOR,),
        (REGISTRATION_OPERATOR,),
        "P.SO.01.TRN.901",
        official=False,
    ),
    MessageType(
        "P.SO.01.MSG.902",
        "Answer about a third-party seal",
        "R.SW.SO.01.902",
        (REGISTRATION_OPERATOR,),
        (TRACKING_OPERATOR,),
        None,
        official=False,
    ),
    MessageType(
        "P.SO.01.MSG.903",
        "Hand-over of a carriage",
        "R.SW.SO.01.903",
        (TRACKING_OPERATOR, PASSAGE_OPERATOR),
        (PASSAGE_OPERATOR, COMPLETION_OPERATOR),
        "P.SO.01.TRN.903",
        official=False,
    ),
    MessageType(
        "P.SO.01.MSG.904",
        "End of tracking",
        "R.SW.SO.01.904",
        (TRACKING_OPERATOR,),
        (REGISTRATION_OPERATOR, PASSAGE_OPERATOR, COMPLETION_OPERATOR),
        "P.SO.01.TRN.904",
        official=False,
    ),
    MessageType(
        "P.SO.01.MSG.905",
        "Positions forwarded to the operator tracking the carriage",
        "R.SW.SO.01.905",
        (TRACKING_OPERATOR,),
        (PASSAGE_OPERATOR, COMPLETION_OPERATOR),
        "P.SO.01.TRN.905",
        official=False,
    ),
)
