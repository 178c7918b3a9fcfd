"""The common processes Silkway runs, as data: roles, message catalogue and payload structures.

Two processes are catalogued:

- **P.CP.01**, exchange between customs authorities when controlling transit. Codes given by the
  EEC (the process, its roles ACT.001–ACT.008, message P.CP.01.MSG.010 with structure
  R.CA.CP.01.001, and the processing result R.006) keep their official values.
- **P.SO.01**, exchange between the national operators of navigation seals (rules: Decision 36
  of 9 April 2024; roles from Board Decision 139 of 14 September 2023). Its technological
  documents take effect on 1 February 2027 and are not published yet, so every code of it is
  Silkway's own.

Every code that is not official is numbered ``….MSG.9nn`` / ``R.SW.….9nn`` so that it can never
be mistaken for an official one.

A structure is described by an ordered tuple of :class:`FieldSpec`; the order is the order of
the XML elements in the structure's shipped XSD.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

PROCESS: Final = "P.CP.01"
"""Exchange between customs authorities when controlling transit."""

PROCESS_VERSION: Final = "1.0.0"

PROCEDURE_TRANSIT_CONTROL: Final = "P.CP.01.PRC.001"
"""The one procedure under which Silkway runs every P.CP.01 transaction."""

SEAL_PROCESS: Final = "P.SO.01"
"""Exchange between the national operators of navigation seals."""

PROCEDURE_SEAL_TRACKING: Final = "P.SO.01.PRC.001"
"""The one procedure under which Silkway runs every P.SO.01 transaction."""

ROLES: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        "P.CP.01.ACT.001": "customs office of departure",
        "P.CP.01.ACT.002": "customs office of destination",
        "P.CP.01.ACT.003": "intermediate customs office",
        "P.CP.01.ACT.004": "customs authority performing unplanned operations",
        "P.CP.01.ACT.005": "customs authority informed of the movement",
        "P.CP.01.ACT.006": "customs authority registering the security certificate",
        "P.CP.01.ACT.007": "intermediate customs office of another member state",
        "P.CP.01.ACT.008": "customs authority where duties are payable",
    }
)
"""Participant roles of P.CP.01 (official codes)."""

SEAL_ROLES: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        "P.SO.01.ACT.001": "registration operator (the seal is registered there)",
        "P.SO.01.ACT.002": "tracking operator (tracks the carriage from where it started)",
        "P.SO.01.ACT.003": "passage operator (a member state the carriage crosses)",
        "P.SO.01.ACT.004": "completion operator (where the carriage ends)",
    }
)
"""Participant roles of P.SO.01 (Decision 139's roles; Silkway's numbering)."""

ANY_ROLE: Final[tuple[str, ...]] = tuple(ROLES)
ANY_SEAL_ROLE: Final[tuple[str, ...]] = tuple(SEAL_ROLES)


class FieldKind(StrEnum):
    """How a body field's value is typed in Python and written in XML."""

    TEXT = "text"
    """``str``; free text."""
    CODE = "code"
    """``str``; a coded value whose lexical form the XSD constrains."""
    UUID = "uuid"
    """:class:`uuid.UUID`."""
    DATE = "date"
    """:class:`datetime.date` (not a datetime)."""
    DATETIME = "datetime"
    """Timezone-aware :class:`datetime.datetime`."""
    DECIMAL = "decimal"
    """Finite :class:`decimal.Decimal`."""
    INTEGER = "integer"
    """``int`` (not ``bool``)."""
    BOOLEAN = "boolean"
    """``bool``."""
    GROUP = "group"
    """A mapping of nested fields described by :attr:`FieldSpec.fields`."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One element of a payload structure."""

    name: str
    """XML local name, also the key in :class:`~silkway.exchange.domain.envelope.MessageBody` fields."""
    kind: FieldKind
    required: bool = True
    repeated: bool = False
    """When true the value is a tuple; ``required`` then means at least one item."""
    fields: tuple[FieldSpec, ...] = ()
    """Children of a :attr:`FieldKind.GROUP` field, in element order."""
    choices: tuple[str, ...] = ()
    """Allowed values of a :attr:`FieldKind.CODE` field; empty means any."""


@dataclass(frozen=True, slots=True)
class StructureSpec:
    """A payload structure: its code, the body's root element and its fields."""

    code: str
    title: str
    root: str
    fields: tuple[FieldSpec, ...]

    @property
    def namespace(self) -> str:
        return structure_namespace(self.code)


@dataclass(frozen=True, slots=True)
class MessageType:
    """A catalogue entry: one message of the process and who exchanges it."""

    code: str
    title: str
    structure: str
    sender_roles: tuple[str, ...]
    receiver_roles: tuple[str, ...]
    transaction: str | None
    """Transaction that the message opens; ``None`` for replies, which travel in the
    transaction of the message they answer."""
    official: bool
    """True when the code is published by the EEC, false for Silkway's own numbering."""


def structure_namespace(code: str) -> str:
    """XML namespace of a payload structure, ``urn:EEC:R:{code}:v1.0.0``."""
    return f"urn:EEC:R:{code}:v1.0.0"


# Reusable field shapes. Factories rather than constants because the element name differs.


def _office(name: str, *, required: bool = True, repeated: bool = False) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=required,
        repeated=repeated,
        fields=(FieldSpec("OfficeCode", FieldKind.CODE), FieldSpec("CountryCode", FieldKind.CODE)),
    )


def _amount(name: str, *, required: bool = True) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=required,
        fields=(FieldSpec("Amount", FieldKind.DECIMAL), FieldSpec("CurrencyCode", FieldKind.CODE)),
    )


def _party(name: str) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=False,
        fields=(
            FieldSpec("Name", FieldKind.TEXT),
            FieldSpec("Identification", FieldKind.CODE),
            FieldSpec("CountryCode", FieldKind.CODE),
            FieldSpec("Address", FieldKind.TEXT, required=False),
        ),
    )


_MOVEMENT_REFERENCE = FieldSpec("MovementReference", FieldKind.CODE)
_REGISTRATION_NUMBER = FieldSpec("RegistrationNumber", FieldKind.CODE)
_TIME_LIMIT = FieldSpec("TimeLimitDate", FieldKind.DATE)
_REMARKS = FieldSpec("Remarks", FieldKind.TEXT, required=False)
_SEALS = FieldSpec(
    "Seal",
    FieldKind.GROUP,
    required=False,
    repeated=True,
    fields=(
        FieldSpec("SealKindCode", FieldKind.CODE, choices=("customs", "navigation")),
        FieldSpec("SealId", FieldKind.CODE),
    ),
)
_GOODS_SUMMARY = FieldSpec(
    "GoodsSummary",
    FieldKind.GROUP,
    fields=(
        FieldSpec("GoodsItemQuantity", FieldKind.INTEGER),
        FieldSpec("PackageQuantity", FieldKind.INTEGER),
        FieldSpec("GrossMassKg", FieldKind.DECIMAL),
        _amount("CustomsValue", required=False),
        FieldSpec("CommodityCode", FieldKind.CODE, repeated=True),
    ),
)
_SEALS_INTACT = FieldSpec("SealsIntactIndicator", FieldKind.BOOLEAN)
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
            # Wialon IPS devices log in with a password; the operator taking over needs it.
            FieldSpec("DevicePassword", FieldKind.TEXT, required=False),
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


RESULT_ACCEPTED: Final = "accepted"
RESULT_REJECTED: Final = "rejected"

STRUCTURES: Final[MappingProxyType[str, StructureSpec]] = MappingProxyType(
    {
        spec.code: spec
        for spec in (
            StructureSpec(
                "R.006",
                "Processing result",
                "ProcessingResultDetails",
                (
                    FieldSpec("RelatedEDocId", FieldKind.UUID),
                    FieldSpec(
                        "ProcessingResultCode",
                        FieldKind.CODE,
                        choices=(RESULT_ACCEPTED, RESULT_REJECTED),
                    ),
                    FieldSpec("ProcessingDateTime", FieldKind.DATETIME),
                    FieldSpec(
                        "Error",
                        FieldKind.GROUP,
                        required=False,
                        repeated=True,
                        fields=(
                            FieldSpec("ErrorCode", FieldKind.CODE),
                            FieldSpec("ErrorDescription", FieldKind.TEXT),
                            FieldSpec("Pointer", FieldKind.TEXT, required=False),
                        ),
                    ),
                ),
            ),
            StructureSpec(
                "R.CA.CP.01.001",
                "Notification of release under the customs transit procedure",
                "TransitReleaseNotification",
                (
                    _MOVEMENT_REFERENCE,
                    _REGISTRATION_NUMBER,
                    FieldSpec("ReleaseDateTime", FieldKind.DATETIME),
                    _TIME_LIMIT,
                    _office("DepartureOffice"),
                    _office("DestinationOffice"),
                    _office("IntermediateOffice", required=False, repeated=True),
                    FieldSpec("RouteCountryCode", FieldKind.CODE, repeated=True),
                    FieldSpec(
                        "TransportMeans",
                        FieldKind.GROUP,
                        repeated=True,
                        fields=(
                            FieldSpec(
                                "TransportModeCode",
                                FieldKind.CODE,
                                choices=("road", "rail", "air", "sea"),
                            ),
                            FieldSpec("TransportMeansId", FieldKind.CODE),
                            FieldSpec("CountryCode", FieldKind.CODE, required=False),
                        ),
                    ),
                    FieldSpec(
                        "Declarant",
                        FieldKind.GROUP,
                        fields=(
                            FieldSpec("Name", FieldKind.TEXT),
                            FieldSpec("TaxpayerId", FieldKind.CODE, required=False),
                            FieldSpec("CountryCode", FieldKind.CODE),
                        ),
                    ),
                    _GOODS_SUMMARY,
                    _SEALS,
                    FieldSpec(
                        "Security",
                        FieldKind.GROUP,
                        required=False,
                        repeated=True,
                        fields=(
                            FieldSpec(
                                "SecurityMethodCode",
                                FieldKind.CODE,
                                required=False,
                                choices=("cash", "bank-guarantee", "surety", "pledge"),
                            ),
                            FieldSpec(
                                "SecurityScopeCode",
                                FieldKind.CODE,
                                required=False,
                                choices=("single", "general"),
                            ),
                            FieldSpec("ReferenceNumber", FieldKind.CODE),
                            FieldSpec("CertificateNumber", FieldKind.CODE, required=False),
                            _amount("SecuredAmount", required=False),
                            FieldSpec(
                                "SecurityKindCode",
                                FieldKind.CODE,
                                required=False,
                                choices=("GRN", "CERTIFICATE", "EXEMPT"),
                            ),
                        ),
                    ),
                    # The declaration itself, so that every state on the route holds the one
                    # declaration lodged at departure (Silkway's extension; all optional).
                    FieldSpec("LocalReferenceNumber", FieldKind.CODE, required=False),
                    FieldSpec("BorderPointCode", FieldKind.CODE, required=False, repeated=True),
                    FieldSpec("CorridorCode", FieldKind.CODE, required=False),
                    FieldSpec("PlaceOfDelivery", FieldKind.TEXT, required=False),
                    _party("DeclarantDetails"),
                    _party("Carrier"),
                    _party("Consignor"),
                    _party("Consignee"),
                    FieldSpec(
                        "GoodsItem",
                        FieldKind.GROUP,
                        required=False,
                        repeated=True,
                        fields=(
                            FieldSpec("ItemNumber", FieldKind.INTEGER),
                            FieldSpec("CommodityCode", FieldKind.CODE),
                            FieldSpec("Description", FieldKind.TEXT),
                            FieldSpec("GrossMassKg", FieldKind.DECIMAL),
                            FieldSpec("NetMassKg", FieldKind.DECIMAL, required=False),
                            FieldSpec("PackageQuantity", FieldKind.INTEGER),
                            FieldSpec("PackageKindCode", FieldKind.CODE),
                            _amount("Value"),
                            FieldSpec("SupplementaryQuantity", FieldKind.DECIMAL, required=False),
                        ),
                    ),
                    FieldSpec(
                        "TransportDocument",
                        FieldKind.GROUP,
                        required=False,
                        repeated=True,
                        fields=(
                            FieldSpec("DocumentKindCode", FieldKind.CODE),
                            FieldSpec("DocumentNumber", FieldKind.CODE),
                            FieldSpec("IssueDate", FieldKind.DATE, required=False),
                        ),
                    ),
                    FieldSpec("SealCount", FieldKind.INTEGER, required=False),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.901",
                "Anticipated arrival",
                "AnticipatedArrival",
                (
                    _MOVEMENT_REFERENCE,
                    _REGISTRATION_NUMBER,
                    _office("DepartureOffice"),
                    _office("DestinationOffice"),
                    FieldSpec("ExpectedArrivalDateTime", FieldKind.DATETIME),
                    _TIME_LIMIT,
                    _GOODS_SUMMARY,
                    _SEALS,
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.902",
                "Anticipated passage",
                "AnticipatedPassage",
                (
                    _MOVEMENT_REFERENCE,
                    _office("DepartureOffice"),
                    _office("IntermediateOffice"),
                    FieldSpec("ExpectedPassageDateTime", FieldKind.DATETIME),
                    _TIME_LIMIT,
                    _SEALS,
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.903",
                "Passage confirmation",
                "PassageConfirmation",
                (
                    _MOVEMENT_REFERENCE,
                    _office("IntermediateOffice"),
                    FieldSpec("PassageDateTime", FieldKind.DATETIME),
                    _SEALS_INTACT,
                    _REMARKS,
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.904",
                "Arrival notice",
                "ArrivalNotice",
                (
                    _MOVEMENT_REFERENCE,
                    _office("DestinationOffice"),
                    FieldSpec("ArrivalDateTime", FieldKind.DATETIME),
                    _SEALS_INTACT,
                    _REMARKS,
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.905",
                "Completion of the customs transit procedure",
                "TransitCompletion",
                (
                    _MOVEMENT_REFERENCE,
                    _office("DestinationOffice"),
                    FieldSpec("CompletionDateTime", FieldKind.DATETIME),
                    FieldSpec("CompletionKindCode", FieldKind.CODE, choices=("full", "partial")),
                    FieldSpec("DeliveredGoodsItemQuantity", FieldKind.INTEGER, required=False),
                    FieldSpec("DeliveredGrossMassKg", FieldKind.DECIMAL, required=False),
                    FieldSpec("Discrepancy", FieldKind.TEXT, required=False, repeated=True),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.906",
                "Incident during transit",
                "TransitIncident",
                (
                    _MOVEMENT_REFERENCE,
                    _office("ReportingOffice"),
                    FieldSpec(
                        "IncidentCode",
                        FieldKind.CODE,
                        # 01-07: navigation-seal incidents (DOMAIN.md §5); the rest are the
                        # transit incidents a customs office records (NCTS IE182 kinds).
                        choices=(
                            *("01", "02", "03", "04", "05", "06", "07"),
                            *("transshipment", "accident", "seal-replaced", "other"),
                        ),
                    ),
                    FieldSpec("IncidentDateTime", FieldKind.DATETIME),
                    FieldSpec(
                        "Location",
                        FieldKind.GROUP,
                        required=False,
                        fields=(
                            FieldSpec("Latitude", FieldKind.DECIMAL),
                            FieldSpec("Longitude", FieldKind.DECIMAL),
                        ),
                    ),
                    FieldSpec("SealId", FieldKind.CODE, required=False),
                    FieldSpec("NewTransportMeansId", FieldKind.CODE, required=False),
                    FieldSpec("Description", FieldKind.TEXT, required=False),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.907",
                "Extension of the transit time limit",
                "TimeLimitExtension",
                (
                    _MOVEMENT_REFERENCE,
                    _office("DecidingOffice"),
                    FieldSpec("DecisionDateTime", FieldKind.DATETIME),
                    FieldSpec("PreviousTimeLimitDate", FieldKind.DATE),
                    FieldSpec("NewTimeLimitDate", FieldKind.DATE),
                    FieldSpec("Reason", FieldKind.TEXT),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.908",
                "Change of the customs office of destination",
                "DestinationChange",
                (
                    _MOVEMENT_REFERENCE,
                    _office("PreviousDestinationOffice"),
                    _office("NewDestinationOffice"),
                    FieldSpec("DecisionDateTime", FieldKind.DATETIME),
                    FieldSpec("NewTimeLimitDate", FieldKind.DATE, required=False),
                    FieldSpec("Reason", FieldKind.TEXT, required=False),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.909",
                "Enquiry about a movement",
                "MovementEnquiry",
                (
                    _MOVEMENT_REFERENCE,
                    _office("EnquiringOffice"),
                    FieldSpec("EnquiryDateTime", FieldKind.DATETIME),
                    FieldSpec(
                        "EnquiryReasonCode",
                        FieldKind.CODE,
                        choices=("no-arrival", "time-limit-exceeded", "discrepancy", "other"),
                    ),
                    FieldSpec("Question", FieldKind.TEXT, required=False),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.910",
                "Answer to an enquiry about a movement",
                "MovementEnquiryAnswer",
                (
                    _MOVEMENT_REFERENCE,
                    _office("RespondingOffice"),
                    FieldSpec("AnswerDateTime", FieldKind.DATETIME),
                    FieldSpec(
                        "AnswerCode",
                        FieldKind.CODE,
                        choices=("arrived", "not-arrived", "unknown"),
                    ),
                    FieldSpec("ArrivalDateTime", FieldKind.DATETIME, required=False),
                    _REMARKS,
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.911",
                "Notice of duties payable for non-delivery",
                "NonDeliveryDutyNotice",
                (
                    _MOVEMENT_REFERENCE,
                    _REGISTRATION_NUMBER,
                    _office("DepartureOffice"),
                    FieldSpec("NonDeliveryEstablishedDate", FieldKind.DATE),
                    FieldSpec("PayableCountryCode", FieldKind.CODE),
                    FieldSpec(
                        "Duty",
                        FieldKind.GROUP,
                        repeated=True,
                        fields=(
                            FieldSpec(
                                "DutyKindCode",
                                FieldKind.CODE,
                                choices=("import-duty", "vat", "excise"),
                            ),
                            _amount("PayableAmount"),
                        ),
                    ),
                    FieldSpec(
                        "Debtor",
                        FieldKind.GROUP,
                        repeated=True,
                        fields=(
                            FieldSpec(
                                "DebtorRoleCode",
                                FieldKind.CODE,
                                choices=(
                                    "declarant",
                                    "customs-carrier",
                                    "representative",
                                    "guarantor",
                                ),
                            ),
                            FieldSpec("Name", FieldKind.TEXT),
                            FieldSpec("TaxpayerId", FieldKind.CODE, required=False),
                        ),
                    ),
                    FieldSpec(
                        "SecurityReferenceNumber", FieldKind.CODE, required=False, repeated=True
                    ),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.912",
                "Security certificate issued",
                "SecurityCertificateIssue",
                (
                    FieldSpec("CertificateNumber", FieldKind.CODE),
                    FieldSpec(
                        "CertificateKindCode", FieldKind.CODE, choices=("one_off", "general")
                    ),
                    FieldSpec("GuaranteeReferenceNumber", FieldKind.CODE),
                    FieldSpec("IssuingCountryCode", FieldKind.CODE),
                    FieldSpec("UsingCountryCode", FieldKind.CODE),
                    _amount("CertificateAmount"),
                    FieldSpec(
                        "SecurityMethodCode",
                        FieldKind.CODE,
                        choices=("cash", "bank_guarantee", "surety", "pledge"),
                    ),
                    FieldSpec("GuarantorId", FieldKind.CODE),
                    FieldSpec("HolderId", FieldKind.CODE),
                    FieldSpec("HolderQualifiedIndicator", FieldKind.BOOLEAN),
                    FieldSpec("GuarantorReductionPercent", FieldKind.DECIMAL),
                    FieldSpec("AccessCodeHash", FieldKind.TEXT),
                    FieldSpec("ValidFromDate", FieldKind.DATE),
                    FieldSpec("ValidToDate", FieldKind.DATE),
                    FieldSpec("IssueDateTime", FieldKind.DATETIME),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.913",
                "Use of a security certificate",
                "SecurityCertificateUse",
                (
                    FieldSpec("CertificateNumber", FieldKind.CODE),
                    _MOVEMENT_REFERENCE,
                    FieldSpec("UseDateTime", FieldKind.DATETIME),
                ),
            ),
            StructureSpec(
                "R.SW.CP.01.914",
                "Write-off of a security certificate",
                "SecurityCertificateWriteOff",
                (
                    FieldSpec("CertificateNumber", FieldKind.CODE),
                    FieldSpec("WriteOffDateTime", FieldKind.DATETIME),
                    _REMARKS,
                ),
            ),
            StructureSpec(
                "R.SW.SO.01.901",
                "Enquiry about a third-party seal",
                "SealEnquiry",
                (
                    _SEAL_ID,
                    _MOVEMENT_REFERENCE,
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
                    _MOVEMENT_REFERENCE,
                    FieldSpec("AnswerCode", FieldKind.CODE, choices=SEAL_ANSWERS),
                    FieldSpec("RegistrationCountryCode", FieldKind.CODE),
                    _device(required=False),
                    _REMARKS,
                ),
            ),
            StructureSpec(
                "R.SW.SO.01.903",
                "Hand-over of a carriage to the next operator",
                "CarriageHandover",
                (
                    _MOVEMENT_REFERENCE,
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
                    _MOVEMENT_REFERENCE,
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
                    _MOVEMENT_REFERENCE,
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
    }
)
"""Payload structures by code."""

_DEPARTURE = "P.CP.01.ACT.001"
_DESTINATION = "P.CP.01.ACT.002"
_INTERMEDIATE = "P.CP.01.ACT.003"
_UNPLANNED = "P.CP.01.ACT.004"
_INFORMED = "P.CP.01.ACT.005"
_CERTIFICATE = "P.CP.01.ACT.006"
_FOREIGN_INTERMEDIATE = "P.CP.01.ACT.007"
_DUTIES_PAYABLE = "P.CP.01.ACT.008"

PROCESSING_RESULT: Final = "P.CP.01.MSG.900"
"""Silkway's code for the R.006 reply that answers every other P.CP.01 message."""

SEAL_PROCESSING_RESULT: Final = "P.SO.01.MSG.900"
"""The R.006 reply that answers every other P.SO.01 message."""

REGISTRATION_OPERATOR = "P.SO.01.ACT.001"
TRACKING_OPERATOR = "P.SO.01.ACT.002"
PASSAGE_OPERATOR = "P.SO.01.ACT.003"
COMPLETION_OPERATOR = "P.SO.01.ACT.004"

RELEASE_NOTIFICATION: Final = "P.CP.01.MSG.010"

CATALOGUE: Final[MappingProxyType[str, MessageType]] = MappingProxyType(
    {
        entry.code: entry
        for entry in (
            MessageType(
                RELEASE_NOTIFICATION,
                "Notification of release under the customs transit procedure",
                "R.CA.CP.01.001",
                (_DEPARTURE,),
                (_DESTINATION, _INTERMEDIATE, _INFORMED, _FOREIGN_INTERMEDIATE, _CERTIFICATE),
                "P.CP.01.TRN.001",
                official=True,
            ),
            MessageType(
                PROCESSING_RESULT,
                "Processing result",
                "R.006",
                ANY_ROLE,
                ANY_ROLE,
                None,
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.901",
                "Anticipated arrival",
                "R.SW.CP.01.901",
                (_DEPARTURE,),
                (_DESTINATION,),
                "P.CP.01.TRN.901",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.902",
                "Anticipated passage",
                "R.SW.CP.01.902",
                (_DEPARTURE,),
                (_INTERMEDIATE, _FOREIGN_INTERMEDIATE),
                "P.CP.01.TRN.902",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.903",
                "Passage confirmation",
                "R.SW.CP.01.903",
                (_INTERMEDIATE, _FOREIGN_INTERMEDIATE),
                (_DEPARTURE,),
                "P.CP.01.TRN.903",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.904",
                "Arrival notice",
                "R.SW.CP.01.904",
                (_DESTINATION,),
                (_DEPARTURE,),
                "P.CP.01.TRN.904",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.905",
                "Completion of the customs transit procedure",
                "R.SW.CP.01.905",
                (_DESTINATION, _DEPARTURE),
                (_DEPARTURE, _CERTIFICATE, _DESTINATION, _INFORMED, _FOREIGN_INTERMEDIATE),
                "P.CP.01.TRN.905",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.906",
                "Incident during transit",
                "R.SW.CP.01.906",
                (_UNPLANNED, _INTERMEDIATE, _FOREIGN_INTERMEDIATE, _DEPARTURE, _DESTINATION),
                (_DEPARTURE, _DESTINATION, _INFORMED, _FOREIGN_INTERMEDIATE),
                "P.CP.01.TRN.906",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.907",
                "Extension of the transit time limit",
                "R.SW.CP.01.907",
                (_UNPLANNED, _INTERMEDIATE, _FOREIGN_INTERMEDIATE, _DEPARTURE),
                (_DEPARTURE, _DESTINATION, _INFORMED, _FOREIGN_INTERMEDIATE),
                "P.CP.01.TRN.907",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.908",
                "Change of the customs office of destination",
                "R.SW.CP.01.908",
                (_DESTINATION, _DEPARTURE),
                (_DEPARTURE, _DESTINATION, _INFORMED, _FOREIGN_INTERMEDIATE),
                "P.CP.01.TRN.908",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.909",
                "Enquiry about a movement",
                "R.SW.CP.01.909",
                (_DEPARTURE,),
                (_DESTINATION,),
                "P.CP.01.TRN.909",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.910",
                "Answer to an enquiry about a movement",
                "R.SW.CP.01.910",
                (_DESTINATION,),
                (_DEPARTURE,),
                None,
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.911",
                "Notice of duties payable for non-delivery",
                "R.SW.CP.01.911",
                (_DEPARTURE,),
                (_DUTIES_PAYABLE, _CERTIFICATE, _INFORMED, _FOREIGN_INTERMEDIATE, _DESTINATION),
                "P.CP.01.TRN.911",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.912",
                "Security certificate issued for use in another member state",
                "R.SW.CP.01.912",
                (_CERTIFICATE,),
                (_DEPARTURE,),
                "P.CP.01.TRN.912",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.913",
                "Security certificate used for a transit",
                "R.SW.CP.01.913",
                (_DEPARTURE,),
                (_CERTIFICATE,),
                "P.CP.01.TRN.913",
                official=False,
            ),
            MessageType(
                "P.CP.01.MSG.914",
                "Security certificate written off by the state that used it",
                "R.SW.CP.01.914",
                (_DEPARTURE,),
                (_CERTIFICATE,),
                "P.CP.01.TRN.914",
                official=False,
            ),
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
    }
)
"""Every message Silkway sends or accepts, of every process, by message code."""


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """What an envelope's Action needs to know of a process."""

    code: str
    title: str
    version: str
    procedure: str
    processing_result: str
    """The code of this process's R.006 reply."""


PROCESSES: Final[MappingProxyType[str, ProcessInfo]] = MappingProxyType(
    {
        PROCESS: ProcessInfo(
            PROCESS,
            "Exchange between customs authorities when controlling transit",
            PROCESS_VERSION,
            PROCEDURE_TRANSIT_CONTROL,
            PROCESSING_RESULT,
        ),
        SEAL_PROCESS: ProcessInfo(
            SEAL_PROCESS,
            "Exchange between the national operators of navigation seals",
            "1.0.0",
            PROCEDURE_SEAL_TRACKING,
            SEAL_PROCESSING_RESULT,
        ),
    }
)
"""The processes Silkway runs, by process code."""

PROCESSING_RESULTS: Final = frozenset(p.processing_result for p in PROCESSES.values())


def process_of(code: str) -> str:
    """The process a message, role or transaction code belongs to (``P.SO.01.MSG.903`` → ``P.SO.01``)."""
    return code[:7]


def is_processing_result(code: str) -> bool:
    return code in PROCESSING_RESULTS
