"""P.CP.01 messages from movements, and movements from messages.

A node decides *which* states must hear of a change (``movement.notifications_for``); this
module says *what* each message says: its catalogue code, the roles of sender and receiver,
and its body fields. It also rebuilds the declaration from a release notification, so that
every state on the route holds the one declaration lodged at departure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from silkway.kernel.errors import ActionInvalid, Violation
from silkway.reference.model import MEMBER_STATES
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import MessageKind, Movement, MovementStatus

ENQUIRY_ANSWER = "enquiry_answer"
"""Message kind of the answer to an enquiry (sent by the destination's node, not by an event)."""

CERTIFICATE_ISSUE = "certificate_issue"
CERTIFICATE_USE = "certificate_use"
CERTIFICATE_WRITE_OFF = "certificate_write_off"
"""Security certificates travel as P.CP.01 messages between ACT.006 and ACT.001."""

CERTIFICATE_AUTHORITY = "P.CP.01.ACT.006"

MESSAGE_CODES: Mapping[str, str] = {
    MessageKind.RELEASE_NOTIFICATION: "P.CP.01.MSG.010",
    MessageKind.ANTICIPATED_ARRIVAL: "P.CP.01.MSG.901",
    MessageKind.ANTICIPATED_PASSAGE: "P.CP.01.MSG.902",
    MessageKind.PASSAGE_CONFIRMATION: "P.CP.01.MSG.903",
    MessageKind.ARRIVAL_NOTICE: "P.CP.01.MSG.904",
    MessageKind.COMPLETION: "P.CP.01.MSG.905",
    MessageKind.INCIDENT: "P.CP.01.MSG.906",
    MessageKind.TIME_LIMIT_EXTENDED: "P.CP.01.MSG.907",
    MessageKind.DESTINATION_CHANGED: "P.CP.01.MSG.908",
    MessageKind.ENQUIRY: "P.CP.01.MSG.909",
    ENQUIRY_ANSWER: "P.CP.01.MSG.910",
    MessageKind.NON_DELIVERY_DUTY_NOTICE: "P.CP.01.MSG.911",
    CERTIFICATE_ISSUE: "P.CP.01.MSG.912",
    CERTIFICATE_USE: "P.CP.01.MSG.913",
    CERTIFICATE_WRITE_OFF: "P.CP.01.MSG.914",
}
"""Message kind -> P.CP.01 catalogue code."""

DEPARTURE = "P.CP.01.ACT.001"
DESTINATION = "P.CP.01.ACT.002"
INFORMED = "P.CP.01.ACT.005"
FOREIGN_INTERMEDIATE = "P.CP.01.ACT.007"

_FROM_DEPARTURE = frozenset(
    {
        MessageKind.RELEASE_NOTIFICATION,
        MessageKind.ANTICIPATED_ARRIVAL,
        MessageKind.ANTICIPATED_PASSAGE,
        MessageKind.TIME_LIMIT_EXTENDED,
        MessageKind.DESTINATION_CHANGED,
        MessageKind.ENQUIRY,
        MessageKind.NON_DELIVERY_DUTY_NOTICE,
    }
)


def roles(
    kind: str, sender: str, receiver: str, movement: Movement, office_state: OfficeState
) -> tuple[str, str]:
    """The P.CP.01 roles of ``sender`` and ``receiver`` (member states) for a message kind."""
    departure = office_state(movement.declaration.departure_office) or movement.state
    destination = office_state(movement.destination_office)
    if kind in (MessageKind.PASSAGE_CONFIRMATION,):
        return FOREIGN_INTERMEDIATE, DEPARTURE
    if kind in (MessageKind.ARRIVAL_NOTICE, ENQUIRY_ANSWER):
        return DESTINATION, DEPARTURE
    if kind == MessageKind.ANTICIPATED_ARRIVAL or kind == MessageKind.ENQUIRY:
        return DEPARTURE, DESTINATION
    if kind == MessageKind.ANTICIPATED_PASSAGE:
        return DEPARTURE, FOREIGN_INTERMEDIATE
    if kind in _FROM_DEPARTURE:
        return DEPARTURE, DESTINATION if receiver == destination else INFORMED
    # Completion and incidents come from whichever node recorded them.
    if sender == departure:
        sender_role = DEPARTURE
    elif sender == destination:
        sender_role = DESTINATION
    else:
        sender_role = FOREIGN_INTERMEDIATE
    if receiver == departure:
        receiver_role = DEPARTURE
    elif receiver == destination:
        receiver_role = DESTINATION
    else:
        receiver_role = INFORMED
    return sender_role, receiver_role


OfficeState = Callable[[str], str | None]


def _office(code: str, office_state: OfficeState) -> dict[str, Any]:
    return {"OfficeCode": code, "CountryCode": office_state(code) or "XX"}


def _at_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def _seals(m: Movement) -> tuple[dict[str, Any], ...]:
    seals = m.declaration.seals
    return (
        *({"SealKindCode": "customs", "SealId": s} for s in seals.customs_seal_ids),
        *({"SealKindCode": "navigation", "SealId": s} for s in seals.navigation_seal_ids),
    )


def _goods_summary(decl: TransitDeclaration) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "GoodsItemQuantity": len(decl.items),
        "PackageQuantity": sum(i.packages for i in decl.items),
        "GrossMassKg": sum((i.gross_mass_kg for i in decl.items), Decimal(0)),
        "CommodityCode": tuple(i.commodity_code for i in decl.items),
    }
    currencies = {i.currency for i in decl.items}
    if len(currencies) == 1:
        summary["CustomsValue"] = {
            "Amount": sum((i.value for i in decl.items), Decimal(0)),
            "CurrencyCode": currencies.pop(),
        }
    return summary


def _party(party: Any) -> dict[str, Any]:
    out = {"Name": party.name, "Identification": party.identification, "CountryCode": party.country}
    if party.address:
        out["Address"] = party.address
    return out


def _release_notification(m: Movement, office_state: OfficeState) -> dict[str, Any]:
    d = m.declaration
    body: dict[str, Any] = {
        "MovementReference": m.reference,
        "RegistrationNumber": m.registration_number,
        "ReleaseDateTime": m.released_at,
        "TimeLimitDate": m.time_limit,
        "DepartureOffice": _office(d.departure_office, office_state),
        "DestinationOffice": _office(m.destination_office, office_state),
        "IntermediateOffice": tuple(_office(o, office_state) for o in d.intermediate_offices),
        "RouteCountryCode": tuple(d.route),
        "TransportMeans": tuple(
            {
                "TransportModeCode": t.mode.value,
                "TransportMeansId": t.identity,
                **({"CountryCode": t.nationality} if t.nationality else {}),
            }
            for t in d.transport
        ),
        "Declarant": {"Name": d.declarant.name, "CountryCode": d.declarant.country},
        "GoodsSummary": _goods_summary(d),
        "Seal": _seals(m),
        "Security": tuple(
            {"ReferenceNumber": s.reference, "SecurityKindCode": s.kind.value} for s in d.security
        ),
        "LocalReferenceNumber": d.lrn,
        "BorderPointCode": tuple(d.border_points),
        "DeclarantDetails": _party(d.declarant),
        "Consignor": _party(d.consignor),
        "Consignee": _party(d.consignee),
        "GoodsItem": tuple(
            {
                "ItemNumber": i.item_number,
                "CommodityCode": i.commodity_code,
                "Description": i.description,
                "GrossMassKg": i.gross_mass_kg,
                **({"NetMassKg": i.net_mass_kg} if i.net_mass_kg is not None else {}),
                "PackageQuantity": i.packages,
                "PackageKindCode": i.package_kind,
                "Value": {"Amount": i.value, "CurrencyCode": i.currency},
                **(
                    {"SupplementaryQuantity": i.supplementary_quantity}
                    if i.supplementary_quantity is not None
                    else {}
                ),
            }
            for i in d.items
        ),
        "TransportDocument": tuple(
            {
                "DocumentKindCode": doc.kind.value,
                "DocumentNumber": doc.number,
                **({"IssueDate": doc.issued_on} if doc.issued_on else {}),
            }
            for doc in d.documents
        ),
        "SealCount": d.seals.count,
    }
    if d.carrier is not None:
        body["Carrier"] = _party(d.carrier)
    if d.corridor:
        body["CorridorCode"] = d.corridor
    if d.place_of_delivery:
        body["PlaceOfDelivery"] = d.place_of_delivery
    return {k: v for k, v in body.items() if v != ()}


def body_fields(
    kind: str,
    before: Movement,
    after: Movement,
    event_payload: Mapping[str, Any],
    to_state: str,
    now: datetime,
    office_state: OfficeState,
) -> dict[str, Any]:
    """The body of the ``kind`` message owed to ``to_state`` once ``before`` became ``after``."""
    m = after
    ref = m.reference
    departure = _office(m.declaration.departure_office, office_state)
    match kind:
        case MessageKind.RELEASE_NOTIFICATION:
            return _release_notification(m, office_state)
        case MessageKind.ANTICIPATED_ARRIVAL:
            return {
                "MovementReference": ref,
                "RegistrationNumber": m.registration_number,
                "DepartureOffice": departure,
                "DestinationOffice": _office(m.destination_office, office_state),
                "ExpectedArrivalDateTime": _at_noon(m.time_limit),
                "TimeLimitDate": m.time_limit,
                "GoodsSummary": _goods_summary(m.declaration),
                **({"Seal": _seals(m)} if _seals(m) else {}),
            }
        case MessageKind.ANTICIPATED_PASSAGE:
            here = [o for o in m.declaration.intermediate_offices if office_state(o) == to_state]
            return {
                "MovementReference": ref,
                "DepartureOffice": departure,
                "IntermediateOffice": _office(
                    here[0] if here else m.destination_office, office_state
                ),
                "ExpectedPassageDateTime": _at_noon(m.time_limit),
                "TimeLimitDate": m.time_limit,
                **({"Seal": _seals(m)} if _seals(m) else {}),
            }
        case MessageKind.PASSAGE_CONFIRMATION:
            return {
                "MovementReference": ref,
                "IntermediateOffice": _office(str(event_payload["office"]), office_state),
                "PassageDateTime": now,
                "SealsIntactIndicator": True,
            }
        case MessageKind.ARRIVAL_NOTICE:
            office = str(event_payload.get("office") or m.arrival_office or m.destination_office)
            return {
                "MovementReference": ref,
                "DestinationOffice": _office(office, office_state),
                "ArrivalDateTime": m.arrived_at or now,
                "SealsIntactIndicator": True,
            }
        case MessageKind.COMPLETION:
            partial = m.status is MovementStatus.PARTIALLY_COMPLETED
            delivered = len(m.delivered_items) if m.delivered_items else len(m.declaration.items)
            return {
                "MovementReference": ref,
                "DestinationOffice": _office(
                    m.arrival_office or m.destination_office, office_state
                ),
                "CompletionDateTime": m.completed_at or now,
                "CompletionKindCode": "partial" if partial else "full",
                "DeliveredGoodsItemQuantity": delivered,
            }
        case MessageKind.INCIDENT:
            office = event_payload.get("office") or m.declaration.departure_office
            incident = str(event_payload.get("incident", "other")).replace("_", "-")
            body: dict[str, Any] = {
                "MovementReference": ref,
                "ReportingOffice": _office(str(office), office_state),
                "IncidentCode": incident,
                "IncidentDateTime": now,
            }
            if event_payload.get("description"):
                body["Description"] = str(event_payload["description"])
            return body
        case MessageKind.TIME_LIMIT_EXTENDED:
            return {
                "MovementReference": ref,
                "DecidingOffice": departure,
                "DecisionDateTime": now,
                "PreviousTimeLimitDate": before.time_limit,
                "NewTimeLimitDate": m.time_limit,
                "Reason": str(event_payload.get("reason") or "extension granted"),
            }
        case MessageKind.DESTINATION_CHANGED:
            return {
                "MovementReference": ref,
                "PreviousDestinationOffice": _office(before.destination_office, office_state),
                "NewDestinationOffice": _office(m.destination_office, office_state),
                "DecisionDateTime": now,
                "Reason": str(event_payload.get("reason") or "destination changed"),
            }
        case MessageKind.ENQUIRY:
            return {
                "MovementReference": ref,
                "EnquiringOffice": departure,
                "EnquiryDateTime": now,
                "EnquiryReasonCode": "no-arrival",
                "Question": str(event_payload.get("reason") or "Has the movement arrived?"),
            }
        case MessageKind.NON_DELIVERY_DUTY_NOTICE:
            return _non_delivery(m, now, office_state)
    raise ValueError(f"no message body for kind {kind!r}")


def _non_delivery(m: Movement, now: datetime, office_state: OfficeState) -> dict[str, Any]:
    d = m.declaration
    value: dict[str, Decimal] = {}
    for item in d.items:
        value[item.currency] = value.get(item.currency, Decimal(0)) + item.value
    # The amounts due are assessed by the guarantee ledger; the notice carries the customs value
    # at stake per currency as the import-duty base until then.
    return {
        "MovementReference": m.reference,
        "RegistrationNumber": m.registration_number,
        "DepartureOffice": _office(d.departure_office, office_state),
        "NonDeliveryEstablishedDate": now.date(),
        "PayableCountryCode": office_state(d.departure_office) or m.state,
        "Duty": tuple(
            {
                "DutyKindCode": "import-duty",
                "PayableAmount": {"Amount": amount, "CurrencyCode": cur},
            }
            for cur, amount in sorted(value.items())
        ),
        "Debtor": ({"DebtorRoleCode": "declarant", "Name": d.declarant.name},),
        **(
            {"SecurityReferenceNumber": tuple(s.reference for s in d.security)}
            if d.security
            else {}
        ),
    }


def enquiry_answer(
    reference: str,
    replica: Movement | None,
    responding_office: str,
    now: datetime,
    office_state: OfficeState,
) -> dict[str, Any]:
    """The destination's answer to an enquiry, from what its node knows of the movement."""
    if replica is None:
        code, arrived = "unknown", None
    elif replica.arrived_at is not None:
        code, arrived = "arrived", replica.arrived_at
    else:
        code, arrived = "not-arrived", None
    body: dict[str, Any] = {
        "MovementReference": reference,
        "RespondingOffice": _office(responding_office, office_state),
        "AnswerDateTime": now,
        "AnswerCode": code,
    }
    if arrived is not None:
        body["ArrivalDateTime"] = arrived
    return body


# --- the declaration from a release notification ------------------------------------------------


def _party_from(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": fields["Name"],
        "identification": fields["Identification"],
        "country": fields["CountryCode"],
        "address": fields.get("Address"),
    }


def declaration_from_release(fields: Mapping[str, Any]) -> TransitDeclaration:
    """Rebuild the lodged declaration from a release notification's body.

    Raises :class:`ActionInvalid` (``declaration-incomplete``) when the notification lacks the
    declaration's data, e.g. when it comes from a system that sends only the summary.
    """
    missing = [
        name
        for name in (
            "LocalReferenceNumber",
            "DeclarantDetails",
            "Consignor",
            "Consignee",
            "GoodsItem",
        )
        if name not in fields
    ]
    if missing:
        raise ActionInvalid(
            "the release notification does not carry the declaration",
            [Violation("declaration-incomplete", f"/{n}", "missing") for n in missing],
        )
    data = {
        "lrn": fields["LocalReferenceNumber"],
        "declarant": _party_from(fields["DeclarantDetails"]),
        "carrier": _party_from(fields["Carrier"]) if "Carrier" in fields else None,
        "consignor": _party_from(fields["Consignor"]),
        "consignee": _party_from(fields["Consignee"]),
        "departure_office": fields["DepartureOffice"]["OfficeCode"],
        "destination_office": fields["DestinationOffice"]["OfficeCode"],
        "intermediate_offices": [o["OfficeCode"] for o in fields.get("IntermediateOffice", ())],
        "route": list(fields["RouteCountryCode"]),
        "border_points": list(fields.get("BorderPointCode", ())),
        "corridor": fields.get("CorridorCode"),
        "transport": [
            {
                "mode": t["TransportModeCode"],
                "identity": t["TransportMeansId"],
                "nationality": t.get("CountryCode"),
            }
            for t in fields["TransportMeans"]
        ],
        "items": [
            {
                "item_number": i["ItemNumber"],
                "commodity_code": i["CommodityCode"],
                "description": i["Description"],
                "gross_mass_kg": i["GrossMassKg"],
                "net_mass_kg": i.get("NetMassKg"),
                "packages": i["PackageQuantity"],
                "package_kind": i["PackageKindCode"],
                "value": i["Value"]["Amount"],
                "currency": i["Value"]["CurrencyCode"],
                "supplementary_quantity": i.get("SupplementaryQuantity"),
            }
            for i in fields["GoodsItem"]
        ],
        "documents": [
            {
                "kind": doc["DocumentKindCode"],
                "number": doc["DocumentNumber"],
                "issued_on": doc.get("IssueDate"),
            }
            for doc in fields.get("TransportDocument", ())
        ],
        "seals": {
            "count": fields.get("SealCount", 0),
            "customs_seal_ids": [
                s["SealId"] for s in fields.get("Seal", ()) if s["SealKindCode"] == "customs"
            ],
            "navigation_seal_ids": [
                s["SealId"] for s in fields.get("Seal", ()) if s["SealKindCode"] == "navigation"
            ],
        },
        "place_of_delivery": fields.get("PlaceOfDelivery"),
        "time_limit": fields["TimeLimitDate"],
        "security": [
            {"kind": s.get("SecurityKindCode", "GRN"), "reference": s["ReferenceNumber"]}
            for s in fields.get("Security", ())
        ],
    }
    try:
        return TransitDeclaration.model_validate(data)
    except ValidationError as exc:
        raise ActionInvalid(
            "the declaration carried by the release notification is malformed",
            [
                Violation("declaration-malformed", "/" + "/".join(map(str, e["loc"])), e["msg"])
                for e in exc.errors()
            ],
        ) from None


def replica_of(fields: Mapping[str, Any], origin: str) -> Movement:
    """The movement as a state on the route holds it, from the release notification."""
    if origin not in MEMBER_STATES:
        raise ActionInvalid(
            "a release notification must come from a member state",
            [Violation("origin-unknown", "/", f"{origin!r} is not a member state")],
        )
    declaration = declaration_from_release(fields)
    released = fields["ReleaseDateTime"]
    return Movement(
        reference=fields["MovementReference"],
        registration_number=fields["RegistrationNumber"],
        state=origin,
        status=MovementStatus.RELEASED,
        declaration=declaration,
        time_limit=fields["TimeLimitDate"],
        destination_office=declaration.destination_office,
        lodged_at=released,
        released_at=released,
        security_reference=declaration.security[0].reference if declaration.security else None,
    )
