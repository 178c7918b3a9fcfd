"""P.CP.01, exchange between customs authorities when controlling transit.

Codes given by the EEC (the process, its roles ACT.001–ACT.008, message P.CP.01.MSG.010 with
structure R.CA.CP.01.001, and the processing result R.006) keep their official values; Silkway's
own are numbered ``….MSG.9nn`` / ``R.SW.CP.01.9nn``.
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
    amount_field,
    office_field,
    party_field,
)

PROCESS: Final = "P.CP.01"
"""Exchange between customs authorities when controlling transit."""


PROCESS_VERSION: Final = "1.0.0"


PROCEDURE_TRANSIT_CONTROL: Final = "P.CP.01.PRC.001"
"""The one procedure under which Silkway runs every P.CP.01 transaction."""


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
        # Silkway's own: the Commission, which keeps the nodes' signed log anchors.
        "P.CP.01.ACT.901": "the Commission, keeper of log anchors",
    }
)
"""Participant roles of P.CP.01 (official codes)."""


ANY_ROLE: Final[tuple[str, ...]] = tuple(ROLES)


_REGISTRATION_NUMBER = FieldSpec("RegistrationNumber", FieldKind.CODE)


_TIME_LIMIT = FieldSpec("TimeLimitDate", FieldKind.DATE)


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
        amount_field("CustomsValue", required=False),
        FieldSpec("CommodityCode", FieldKind.CODE, repeated=True),
    ),
)


_SEALS_INTACT = FieldSpec("SealsIntactIndicator", FieldKind.BOOLEAN)


STRUCTURE_SPECS: tuple[StructureSpec, ...] = (
    StructureSpec(
        "R.CA.CP.01.001",
        "Notification of release under the customs transit procedure",
        "TransitReleaseNotification",
        (
            MOVEMENT_REFERENCE,
            _REGISTRATION_NUMBER,
            FieldSpec("ReleaseDateTime", FieldKind.DATETIME),
            _TIME_LIMIT,
            office_field("DepartureOffice"),
            office_field("DestinationOffice"),
            office_field("IntermediateOffice", required=False, repeated=True),
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
                    amount_field("SecuredAmount", required=False),
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
            party_field("DeclarantDetails"),
            party_field("Carrier"),
            party_field("Consignor"),
            party_field("Consignee"),
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
                    amount_field("Value"),
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
            MOVEMENT_REFERENCE,
            _REGISTRATION_NUMBER,
            office_field("DepartureOffice"),
            office_field("DestinationOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("DepartureOffice"),
            office_field("IntermediateOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("IntermediateOffice"),
            FieldSpec("PassageDateTime", FieldKind.DATETIME),
            _SEALS_INTACT,
            REMARKS,
        ),
    ),
    StructureSpec(
        "R.SW.CP.01.904",
        "Arrival notice",
        "ArrivalNotice",
        (
            MOVEMENT_REFERENCE,
            office_field("DestinationOffice"),
            FieldSpec("ArrivalDateTime", FieldKind.DATETIME),
            _SEALS_INTACT,
            REMARKS,
        ),
    ),
    StructureSpec(
        "R.SW.CP.01.905",
        "Completion of the customs transit procedure",
        "TransitCompletion",
        (
            MOVEMENT_REFERENCE,
            office_field("DestinationOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("ReportingOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("DecidingOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("PreviousDestinationOffice"),
            office_field("NewDestinationOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("EnquiringOffice"),
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
            MOVEMENT_REFERENCE,
            office_field("RespondingOffice"),
            FieldSpec("AnswerDateTime", FieldKind.DATETIME),
            FieldSpec(
                "AnswerCode",
                FieldKind.CODE,
                choices=("arrived", "not-arrived", "unknown"),
            ),
            FieldSpec("ArrivalDateTime", FieldKind.DATETIME, required=False),
            REMARKS,
        ),
    ),
    StructureSpec(
        "R.SW.CP.01.911",
        "Notice of duties payable for non-delivery",
        "NonDeliveryDutyNotice",
        (
            MOVEMENT_REFERENCE,
            _REGISTRATION_NUMBER,
            office_field("DepartureOffice"),
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
                    amount_field("PayableAmount"),
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
            FieldSpec("SecurityReferenceNumber", FieldKind.CODE, required=False, repeated=True),
        ),
    ),
    StructureSpec(
        "R.SW.CP.01.912",
        "Security certificate issued",
        "SecurityCertificateIssue",
        (
            FieldSpec("CertificateNumber", FieldKind.CODE),
            FieldSpec("CertificateKindCode", FieldKind.CODE, choices=("one_off", "general")),
            FieldSpec("GuaranteeReferenceNumber", FieldKind.CODE),
            FieldSpec("IssuingCountryCode", FieldKind.CODE),
            FieldSpec("UsingCountryCode", FieldKind.CODE),
            amount_field("CertificateAmount"),
            FieldSpec(
                "SecurityMethodCode",
                FieldKind.CODE,
                choices=("cash", "bank_guarantee", "surety", "pledge"),
            ),
            FieldSpec("GuarantorId", FieldKind.CODE),
            FieldSpec("HolderId", FieldKind.CODE),
            FieldSpec("HolderQualifiedIndicator", FieldKind.BOOLEAN),
            FieldSpec("GuarantorReductionPercent", FieldKind.DECIMAL),
            # The hash of the certificate's own access code (never the guarantee's).
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
            MOVEMENT_REFERENCE,
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
            REMARKS,
        ),
    ),
    StructureSpec(
        "R.SW.CP.01.915",
        "Anchor of a node's hash-chained logs",
        "LogAnchor",
        (
            FieldSpec("AnchorId", FieldKind.UUID),
            FieldSpec("AnchorDateTime", FieldKind.DATETIME),
            FieldSpec(
                "Chain",
                FieldKind.GROUP,
                repeated=True,
                fields=(
                    FieldSpec("ChainName", FieldKind.CODE),
                    FieldSpec("RecordCount", FieldKind.INTEGER),
                    FieldSpec("HeadHash", FieldKind.CODE),
                ),
            ),
        ),
    ),
)


_DEPARTURE = "P.CP.01.ACT.001"


_DESTINATION = "P.CP.01.ACT.002"


_INTERMEDIATE = "P.CP.01.ACT.003"


_UNPLANNED = "P.CP.01.ACT.004"


_INFORMED = "P.CP.01.ACT.005"


_CERTIFICATE = "P.CP.01.ACT.006"


_FOREIGN_INTERMEDIATE = "P.CP.01.ACT.007"


_DUTIES_PAYABLE = "P.CP.01.ACT.008"


COMMISSION_ANCHORS: Final = "P.CP.01.ACT.901"


PROCESSING_RESULT: Final = "P.CP.01.MSG.900"
"""Silkway's code for the R.006 reply that answers every other P.CP.01 message."""


RELEASE_NOTIFICATION: Final = "P.CP.01.MSG.010"


LOG_ANCHOR: Final = "P.CP.01.MSG.915"
"""A node's signed log heads, sent to the Commission (Silkway's code)."""


MESSAGE_TYPES: tuple[MessageType, ...] = (
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
        LOG_ANCHOR,
        "Signed heads of a node's hash-chained logs, kept by the Commission",
        "R.SW.CP.01.915",
        # Each node anchors its own logs, as the office of departure of its own movements.
        (_DEPARTURE,),
        (COMMISSION_ANCHORS,),
        "P.CP.01.TRN.915",
        official=False,
    ),
)
