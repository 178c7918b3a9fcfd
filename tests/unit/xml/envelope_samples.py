"""Realistic envelopes for every catalogued message, with every optional field filled in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from silkway.exchange.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    MessageBody,
)
from silkway.exchange.domain.processes import (
    CATALOGUE,
    PROCESSES,
    STRUCTURES,
    FieldSpec,
    process_of,
)

ALMATY = timezone(timedelta(hours=5))
RELEASED = datetime(2026, 3, 2, 9, 15, 30, 250000, tzinfo=ALMATY)
MOVEMENT = "SW26KZ000000000426"
KZ_DEPARTURE = {"OfficeCode": "55201", "CountryCode": "KZ"}
BY_DESTINATION = {"OfficeCode": "06611", "CountryCode": "BY"}
RU_INTERMEDIATE = {"OfficeCode": "10502020", "CountryCode": "RU"}
SEALS = (
    {"SealKindCode": "navigation", "SealId": "KZ-NS-0001734"},
    {"SealKindCode": "customs", "SealId": "55201-0042"},
)
DEVICE = {
    "ProtocolCode": "wialon",
    "DeviceId": "356307042441013",
    # What a registry keeps of the Wialon IPS password "s3cret": its Argon2id hash, never it.
    "DevicePasswordHash": (
        "$argon2id$v=19$m=65536,t=3,p=4$tqV4jSqJ8r3Pp6Rr9dN0Fw$"
        "mN9p1b4K1cZ1Vt2x0w8yYp8w7N6m0HkL3tqS0aJbq7Q"
    ),
    "ReportingPeriodSeconds": 60,
    "FirmwareVersion": "2.4.1",
    "BatteryPercent": 87,
}
GOODS = {
    "GoodsItemQuantity": 3,
    "PackageQuantity": 120,
    "GrossMassKg": Decimal("18250.500"),
    "CustomsValue": {"Amount": Decimal("412000.00"), "CurrencyCode": "USD"},
    "CommodityCode": ("8471300000", "8517130000", "8528720000"),
}

BODIES: dict[str, dict[str, Any]] = {
    "R.006": {
        "RelatedEDocId": UUID("3f1c2a64-3d0b-4b8e-9a51-0f7c3c1d2e11"),
        "ProcessingResultCode": "rejected",
        "ProcessingDateTime": RELEASED + timedelta(seconds=4),
        "Error": (
            {
                "ErrorCode": "schema-invalid",
                "ErrorDescription": "TimeLimitDate is missing",
                "Pointer": "/TimeLimitDate",
            },
            {"ErrorCode": "signature-stale", "ErrorDescription": "signed 2 hours ago"},
        ),
    },
    "R.CA.CP.01.001": {
        "MovementReference": MOVEMENT,
        "RegistrationNumber": "55201/020326/0000042",
        "ReleaseDateTime": RELEASED,
        "TimeLimitDate": date(2026, 3, 16),
        "DepartureOffice": KZ_DEPARTURE,
        "DestinationOffice": BY_DESTINATION,
        "IntermediateOffice": (RU_INTERMEDIATE,),
        "RouteCountryCode": ("KZ", "RU", "BY"),
        "TransportMeans": (
            {"TransportModeCode": "road", "TransportMeansId": "123ABC02", "CountryCode": "KZ"},
            {"TransportModeCode": "road", "TransportMeansId": "45XY02"},
        ),
        "Declarant": {
            "Name": "ТОО «Жол Транзит»",
            "TaxpayerId": "180340021234",
            "CountryCode": "KZ",
        },
        "GoodsSummary": GOODS,
        "Seal": SEALS,
        "Security": (
            {
                "SecurityMethodCode": "surety",
                "SecurityScopeCode": "general",
                "ReferenceNumber": "26KZ0000000004212",
                "CertificateNumber": "KZ/2026/000731",
                "SecuredAmount": {"Amount": Decimal("98410.25"), "CurrencyCode": "EUR"},
            },
        ),
    },
    "R.SW.CP.01.901": {
        "MovementReference": MOVEMENT,
        "RegistrationNumber": "55201/020326/0000042",
        "DepartureOffice": KZ_DEPARTURE,
        "DestinationOffice": BY_DESTINATION,
        "ExpectedArrivalDateTime": RELEASED + timedelta(days=9),
        "TimeLimitDate": date(2026, 3, 16),
        "GoodsSummary": GOODS,
        "Seal": SEALS,
    },
    "R.SW.CP.01.902": {
        "MovementReference": MOVEMENT,
        "DepartureOffice": KZ_DEPARTURE,
        "IntermediateOffice": RU_INTERMEDIATE,
        "ExpectedPassageDateTime": RELEASED + timedelta(days=2),
        "TimeLimitDate": date(2026, 3, 16),
        "Seal": SEALS,
    },
    "R.SW.CP.01.903": {
        "MovementReference": MOVEMENT,
        "IntermediateOffice": RU_INTERMEDIATE,
        "PassageDateTime": datetime(2026, 3, 4, 6, 40, tzinfo=UTC),
        "SealsIntactIndicator": True,
        "Remarks": "Пломбы не нарушены",
    },
    "R.SW.CP.01.904": {
        "MovementReference": MOVEMENT,
        "DestinationOffice": BY_DESTINATION,
        "ArrivalDateTime": datetime(2026, 3, 10, 14, 5, tzinfo=UTC),
        "SealsIntactIndicator": False,
        "Remarks": "Seal 55201-0042 found broken",
    },
    "R.SW.CP.01.905": {
        "MovementReference": MOVEMENT,
        "DestinationOffice": BY_DESTINATION,
        "CompletionDateTime": datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
        "CompletionKindCode": "partial",
        "DeliveredGoodsItemQuantity": 2,
        "DeliveredGrossMassKg": Decimal(12100),
        "Discrepancy": ("Item 3 missing", "Packages short by 40"),
    },
    "R.SW.CP.01.906": {
        "MovementReference": MOVEMENT,
        "ReportingOffice": RU_INTERMEDIATE,
        "IncidentCode": "03",
        "IncidentDateTime": datetime(2026, 3, 5, 2, 11, 9, 123000, tzinfo=UTC),
        "Location": {"Latitude": Decimal("54.0912"), "Longitude": Decimal("61.5703")},
        "SealId": "KZ-NS-0001734",
        "NewTransportMeansId": "77KK777",
        "Description": "Deviation of 63 km from the declared route",
    },
    "R.SW.CP.01.907": {
        "MovementReference": MOVEMENT,
        "DecidingOffice": RU_INTERMEDIATE,
        "DecisionDateTime": datetime(2026, 3, 12, 8, 0, tzinfo=UTC),
        "PreviousTimeLimitDate": date(2026, 3, 16),
        "NewTimeLimitDate": date(2026, 3, 23),
        "Reason": "Road closed at Troitsk",
    },
    "R.SW.CP.01.908": {
        "MovementReference": MOVEMENT,
        "PreviousDestinationOffice": BY_DESTINATION,
        "NewDestinationOffice": {"OfficeCode": "06512", "CountryCode": "BY"},
        "DecisionDateTime": datetime(2026, 3, 9, 11, 30, tzinfo=UTC),
        "NewTimeLimitDate": date(2026, 3, 18),
        "Reason": "Consignee changed warehouse",
    },
    "R.SW.CP.01.909": {
        "MovementReference": MOVEMENT,
        "EnquiringOffice": KZ_DEPARTURE,
        "EnquiryDateTime": datetime(2026, 4, 20, 9, 0, tzinfo=ALMATY),
        "EnquiryReasonCode": "no-arrival",
        "Question": "Has the movement arrived?",
    },
    "R.SW.CP.01.910": {
        "MovementReference": MOVEMENT,
        "RespondingOffice": BY_DESTINATION,
        "AnswerDateTime": datetime(2026, 4, 21, 10, 0, tzinfo=UTC),
        "AnswerCode": "arrived",
        "ArrivalDateTime": datetime(2026, 3, 10, 14, 5, tzinfo=UTC),
        "Remarks": "Arrival recorded late",
    },
    "R.SW.CP.01.911": {
        "MovementReference": MOVEMENT,
        "RegistrationNumber": "55201/020326/0000042",
        "DepartureOffice": KZ_DEPARTURE,
        "NonDeliveryEstablishedDate": date(2026, 5, 4),
        "PayableCountryCode": "KZ",
        "Duty": (
            {
                "DutyKindCode": "import-duty",
                "PayableAmount": {"Amount": Decimal("21340.00"), "CurrencyCode": "KZT"},
            },
            {
                "DutyKindCode": "vat",
                "PayableAmount": {"Amount": Decimal("7.5"), "CurrencyCode": "KZT"},
            },
        ),
        "Debtor": (
            {
                "DebtorRoleCode": "declarant",
                "Name": "ТОО «Жол Транзит»",
                "TaxpayerId": "180340021234",
            },
            {"DebtorRoleCode": "guarantor", "Name": "Kazakh Surety JSC"},
        ),
        "SecurityReferenceNumber": ("26KZ0000000004212",),
    },
    "R.SW.CP.01.912": {
        "CertificateNumber": "26KZC000000000018",
        "CertificateKindCode": "general",
        "GuaranteeReferenceNumber": "26KZ0000000004212",
        "IssuingCountryCode": "KZ",
        "UsingCountryCode": "RU",
        "CertificateAmount": {"Amount": Decimal("150000.00"), "CurrencyCode": "EUR"},
        "SecurityMethodCode": "surety",
        "GuarantorId": "KZ-GR000001",
        "HolderId": "180340021234",
        "HolderQualifiedIndicator": True,
        "GuarantorReductionPercent": Decimal(50),
        "AccessCodeHash": "scrypt$16384$8$1$c2FsdA==$aGFzaA==",
        "ValidFromDate": date(2026, 3, 1),
        "ValidToDate": date(2026, 12, 31),
        "IssueDateTime": RELEASED - timedelta(days=1),
    },
    "R.SW.CP.01.913": {
        "CertificateNumber": "26KZC000000000018",
        "MovementReference": MOVEMENT,
        "UseDateTime": RELEASED,
    },
    "R.SW.CP.01.914": {
        "CertificateNumber": "26KZC000000000018",
        "WriteOffDateTime": RELEASED + timedelta(days=30),
        "Remarks": "no longer used",
    },
    "R.SW.CP.01.915": {
        "AnchorId": UUID("7a3e9c1d-2b4f-4e6a-8c0d-1f2e3d4c5b6a"),
        "AnchorDateTime": RELEASED + timedelta(minutes=10),
        "Chain": (
            {"ChainName": "movement-events", "RecordCount": 42, "HeadHash": "ab" * 32},
            {"ChainName": "access-log", "RecordCount": 7, "HeadHash": "cd" * 32},
            {"ChainName": "guarantee-history", "RecordCount": 0, "HeadHash": "0" * 64},
        ),
    },
    "R.SW.SO.01.901": {
        "SealId": "RUNS2600001734",
        "MovementReference": MOVEMENT,
        "TrackingCountryCode": "KZ",
        "EnquiryDateTime": RELEASED,
    },
    "R.SW.SO.01.902": {
        "SealId": "RUNS2600001734",
        "MovementReference": MOVEMENT,
        "AnswerCode": "available",
        "RegistrationCountryCode": "RU",
        "Device": DEVICE,
        "Remarks": "lent to the Kazakh operator",
    },
    "R.SW.SO.01.903": {
        "MovementReference": MOVEMENT,
        "SealId": "RUNS2600001734",
        "RegistrationCountryCode": "RU",
        "FromCountryCode": "KZ",
        "ToCountryCode": "RU",
        "HandoverDateTime": RELEASED + timedelta(days=3),
        "Location": {"Latitude": Decimal("54.0900000"), "Longitude": Decimal("61.5700000")},
        "Device": DEVICE,
        "LastReportDateTime": RELEASED + timedelta(days=3, minutes=-1),
        "ProgressKm": Decimal("2412.375"),
    },
    "R.SW.SO.01.904": {
        "MovementReference": MOVEMENT,
        "SealId": "RUNS2600001734",
        "CompletionDateTime": RELEASED + timedelta(days=9),
        "MovementStatusCode": "completed",
        "Location": {"Latitude": Decimal("52.0800000"), "Longitude": Decimal("23.6600000")},
    },
    "R.SW.SO.01.905": {
        "MovementReference": MOVEMENT,
        "SealId": "RUNS2600001734",
        "Position": (
            {
                "PositionDateTime": RELEASED + timedelta(days=3),
                "Latitude": Decimal("54.0912345"),
                "Longitude": Decimal("61.5612345"),
                "SpeedKmh": Decimal("72.5"),
                "CourseDegrees": 271,
                "BatteryPercent": 64,
                "EventCode": ("02", "07"),
            },
            {
                "PositionDateTime": RELEASED + timedelta(days=3, minutes=1),
                "Latitude": Decimal("54.0923456"),
                "Longitude": Decimal("61.5423456"),
            },
        ),
    },
}


def _strip(specs: tuple[FieldSpec, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for spec in specs:
        if not spec.required or spec.name not in values:
            continue
        value = values[spec.name]
        if spec.fields:
            value = (
                tuple(_strip(spec.fields, item) for item in value)
                if spec.repeated
                else _strip(spec.fields, value)
            )
        kept[spec.name] = value
    return kept


def minimal_body(structure: str) -> dict[str, Any]:
    """The sample body of ``structure`` with every optional field left out."""
    return _strip(STRUCTURES[structure].fields, BODIES[structure])


def uuid_n(n: int) -> UUID:
    return UUID(int=0x5117_0000_0000_4000_8000_0000_0000_0000 + n)


def envelope_for(
    message: str,
    body: Mapping[str, Any] | None = None,
    *,
    sender: str = "KZ",
    receiver: str = "BY",
) -> Envelope:
    """A well-formed envelope carrying ``message`` from ``sender`` to ``receiver``."""
    entry = CATALOGUE[message]
    process = PROCESSES[process_of(message)]
    transaction = entry.transaction or f"{process.code}.TRN.001"
    relates_to = None if entry.transaction else uuid_n(99)
    return Envelope(
        EnvelopeHeader(
            to=Address.for_role(receiver, entry.receiver_roles[0]),
            reply_to=Address.for_role(sender, entry.sender_roles[0]),
            action=Action(process.code, process.version, process.procedure, transaction, message),
            message_id=uuid_n(1),
            procedure_id=uuid_n(2),
            conversation_id=uuid_n(3),
            relates_to=relates_to,
        ),
        EDocHeader(
            inf_envelope_code=message,
            edoc_code=entry.structure,
            edoc_id=uuid_n(4),
            edoc_datetime=RELEASED,
            language_code="ru",
            edoc_ref_id=uuid_n(5) if relates_to else None,
        ),
        MessageBody(entry.structure, BODIES[entry.structure] if body is None else body),
    )


def release_notification() -> Envelope:
    return envelope_for("P.CP.01.MSG.010")
