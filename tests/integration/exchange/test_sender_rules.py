"""No node speaks for another: each message is refused unless its sender is the state whose word
it is (``exchange/domain/processes/senders.py``), and a refusal changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.domain.processes.senders import SENDERS
from silkway.guarantees import certificates
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import (
    CertificateKind,
    GuaranteeMethod,
    GuaranteeScope,
    GuarantorKind,
    Holder,
)
from silkway.kernel.errors import ActionInvalid
from silkway.transit import service as transit
from silkway.transit.domain import messages as transit_messages
from silkway.transit.domain.movement import (
    Accept,
    IncidentKind,
    MessageKind,
    Movement,
    MovementStatus,
    RecordArrival,
    RecordIncident,
    Release,
    office_states,
)

STATES = ("KZ", "RU", "BY", "AM")


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, STATES, START, guaranteed=True) as f:
        f.open_all()
        yield f


def _guarantee(fed: Federation, state: str, grn: str, code: str | None, holder: Any) -> None:
    ctx = fed.nodes[state].guarantees
    g = guarantees.register_guarantor(ctx, name="Bank", kind=GuarantorKind.BANK, country=state)
    guarantees.register_holder(ctx, Holder(holder.identification, holder.name, holder.country))
    guarantees.register_guarantee(
        ctx,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.SURETY,
            scope=GuaranteeScope.GENERAL,
            reference_amount=Decimal("5000000.00"),
            currency="EUR",
            guarantor_id=g.guarantor_id,
            holder_id=holder.identification,
            grn=grn,
            access_code=code,
        ),
    )


def accepted(fed: Federation) -> tuple[Movement, Release]:
    """A KZ movement to BY through RU, accepted, its guarantee registered; and its release."""
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    security = decl.security[0]
    _guarantee(fed, "KZ", security.reference, security.access_code, decl.declarant)
    m = transit.lodge_declaration(kz, decl).movement
    transit.act(kz, m.reference, Accept())
    return m, Release(security.reference, decl.departure_office)


def released(fed: Federation) -> Movement:
    """A KZ movement to BY through RU, released; every copy received."""
    m, release = accepted(fed)
    transit.act(fed.nodes["KZ"].transit, m.reference, release)
    fed.pump()
    assert transit.get_movement(fed.nodes["BY"].transit, m.reference).state == "KZ"
    return transit.get_movement(fed.nodes["KZ"].transit, m.reference)


def forge(
    fed: Federation,
    sender: str,
    to_state: str,
    kind: str,
    movement: Movement,
    payload: dict[str, Any] | None = None,
    **overrides: Any,
) -> bytes:
    """A P.CP.01 message about ``movement`` as ``sender`` would sign it (its own genuine key)."""
    now = fed.clock.now()
    office_state = office_states(fed.nodes[sender].transit.reference)
    if kind == transit_messages.ENQUIRY_ANSWER:
        fields = transit_messages.enquiry_answer(
            movement.reference, movement, movement.destination_office, now, office_state
        )
    else:
        fields = transit_messages.body_fields(
            MessageKind(kind), movement, movement, payload or {}, to_state, now, office_state
        )
    fields.update(overrides)
    msg = transit.outbox_message(sender, to_state, kind, movement, fields, now, office_state)
    return signed(fed, sender, msg)


def signed(fed: Federation, sender: str, msg: Any) -> bytes:
    msg = replace(msg, message_id=f"urn:uuid:{uuid.uuid4()}")
    ctx = fed.contexts[sender]
    return ctx.sealer.seal(exchange.envelope_for(ctx, msg), fed.clock.now())


def office(code: str, state: str) -> dict[str, str]:
    return {"OfficeCode": code, "CountryCode": state}


def snapshot(fed: Federation, state: str, reference: str) -> tuple[Movement, int]:
    node = fed.nodes[state].transit
    with node.read() as uow:
        events = len(uow.events.records(reference))
    return transit.get_movement(node, reference), events


def assert_not_entitled(fed: Federation, to_state: str, data: bytes, reference: str) -> None:
    """Refused with sender-not-entitled, the movement there exactly as it was."""
    before = snapshot(fed, to_state, reference)
    receipt = exchange.receive(fed.contexts[to_state], data)
    assert receipt.outcome == "rejected", receipt
    assert [e["ErrorCode"] for e in receipt.errors] == ["sender-not-entitled"]
    assert snapshot(fed, to_state, reference) == before


def test_every_message_with_an_effect_has_a_sender_rule(fed: Federation) -> None:
    for ctx in fed.contexts.values():
        assert set(ctx.handlers) == set(SENDERS)


def test_an_arrival_notice_from_a_state_off_the_route_is_refused(fed: Federation) -> None:
    """The review's reproduction: AM, not on the route, reports BY's arrival to KZ."""
    m = released(fed)
    grn = m.declaration.security[0].reference
    held = guarantees.balance(fed.nodes["KZ"].guarantees, grn).record.balance
    assert held.locked > 0
    data = forge(fed, "AM", "KZ", MessageKind.ARRIVAL_NOTICE, m, {"office": "06614"})
    assert_not_entitled(fed, "KZ", data, m.reference)
    assert transit.get_movement(fed.nodes["KZ"].transit, m.reference).status is (
        MovementStatus.RELEASED
    )
    assert guarantees.balance(fed.nodes["KZ"].guarantees, grn).record.balance == held
    # AM naming one of its own offices is its word, but not the movement's destination.
    am_office = next(iter(fed.nodes["AM"].transit.reference.offices_of("AM"))).code
    own = forge(
        fed, "AM", "KZ", MessageKind.ARRIVAL_NOTICE, m, DestinationOffice=office(am_office, "AM")
    )
    receipt = exchange.receive(fed.contexts["KZ"], own)
    assert receipt.outcome == "rejected"
    assert transit.get_movement(fed.nodes["KZ"].transit, m.reference).status is (
        MovementStatus.RELEASED
    )
    # The destination's own arrival notice is taken.
    transit.act(fed.nodes["BY"].transit, m.reference, RecordArrival("06614"))
    fed.pump()
    assert transit.get_movement(fed.nodes["KZ"].transit, m.reference).status is (
        MovementStatus.COMPLETED
    )


def test_a_release_notification_comes_from_the_state_of_departure(fed: Federation) -> None:
    m, release = accepted(fed)
    after = transit.act(fed.nodes["KZ"].transit, m.reference, release)
    # AM announces KZ's movement first: refused, so it cannot own BY's copy.
    data = forge(fed, "AM", "BY", MessageKind.RELEASE_NOTIFICATION, after)
    receipt = exchange.receive(fed.contexts["BY"], data)
    assert [e["ErrorCode"] for e in receipt.errors] == ["sender-not-entitled"]
    with pytest.raises(transit.MovementNotFound):
        transit.get_movement(fed.nodes["BY"].transit, m.reference)
    fed.pump()
    assert transit.get_movement(fed.nodes["BY"].transit, m.reference).state == "KZ"


@pytest.mark.parametrize(
    ("kind", "sender", "to_state", "payload", "overrides"),
    [
        (MessageKind.ANTICIPATED_ARRIVAL, "RU", "BY", {}, {}),
        (MessageKind.ANTICIPATED_PASSAGE, "BY", "RU", {}, {}),
        # RU names RU's office, but the departure office is KZ's: the message contradicts itself.
        (MessageKind.ANTICIPATED_ARRIVAL, "RU", "BY", {}, {"DepartureOffice": "10504070"}),
        (MessageKind.PASSAGE_CONFIRMATION, "AM", "KZ", {"office": "10504070"}, {}),
        (MessageKind.PASSAGE_CONFIRMATION, "BY", "KZ", {"office": "10504070"}, {}),
        (MessageKind.COMPLETION, "BY", "RU", {}, {}),
        (MessageKind.INCIDENT, "AM", "KZ", {"office": "10504070", "incident": "accident"}, {}),
        (MessageKind.INCIDENT, "RU", "BY", {"office": "08140", "incident": "accident"}, {}),
        (MessageKind.TIME_LIMIT_EXTENDED, "RU", "BY", {}, {}),
        (MessageKind.DESTINATION_CHANGED, "RU", "BY", {}, {}),
        (MessageKind.ENQUIRY, "RU", "BY", {}, {}),
        (transit_messages.ENQUIRY_ANSWER, "RU", "KZ", {}, {}),
        (MessageKind.NON_DELIVERY_DUTY_NOTICE, "RU", "BY", {}, {}),
    ],
)
def test_each_transit_rule_refuses_another_sender(
    fed: Federation,
    kind: str,
    sender: str,
    to_state: str,
    payload: dict[str, Any],
    overrides: dict[str, Any],
) -> None:
    m = released(fed)
    state_of = office_states(fed.nodes["KZ"].transit.reference)
    fields = {
        name: office(code, state_of(code) or "XX") if isinstance(code, str) else code
        for name, code in overrides.items()
    }
    data = forge(fed, sender, to_state, kind, m, payload, **fields)
    assert_not_entitled(fed, to_state, data, m.reference)
    with fed.nodes[to_state].transit.read() as uow:
        owed = [x for x in uow.outbox.pending(limit=50) if x.message_kind != "processing_result"]
    assert owed == []  # not even an enquiry answer


def test_only_the_state_a_certificate_was_issued_for_uses_or_returns_it(
    fed: Federation,
) -> None:
    kz = fed.nodes["KZ"]
    holder = example_declaration("northern-rail", START.date()).declarant
    g = guarantees.register_guarantor(
        kz.guarantees, name="Bank", kind=GuarantorKind.BANK, country="KZ"
    )
    guarantees.register_holder(kz.guarantees, Holder(holder.identification, holder.name, "KZ"))
    grn = guarantees.register_guarantee(
        kz.guarantees,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.SURETY,
            scope=GuaranteeScope.GENERAL,
            reference_amount=Decimal("500000.00"),
            currency="EUR",
            guarantor_id=g.guarantor_id,
            holder_id=holder.identification,
        ),
    ).record.grn
    issued = certificates.issue_certificate(
        kz.guarantees,
        grn,
        kind=CertificateKind.GENERAL,
        amount=Decimal("200000.00"),
        used_in="RU",
        valid_to=START.date() + timedelta(days=90),
    ).certificate
    fed.pump()
    available = guarantees.balance(kz.guarantees, grn).record.balance.available
    now = fed.clock.now()
    write_off = certificates._message(
        "KZ",
        certificates.CERTIFICATE_WRITE_OFF,
        {"CertificateNumber": issued.number, "WriteOffDateTime": now, "Remarks": "forged"},
        now,
        issued.number,
    )
    use = certificates._message(
        "KZ",
        certificates.CERTIFICATE_USE,
        {
            "CertificateNumber": issued.number,
            "MovementReference": "SW26BY000000000013",
            "UseDateTime": now,
        },
        now,
        issued.number,
    )
    for msg in (write_off, use):  # BY, not RU, gives it back or claims to use it
        receipt = exchange.receive(fed.contexts["KZ"], signed(fed, "BY", msg))
        assert [e["ErrorCode"] for e in receipt.errors] == ["sender-not-entitled"], msg
    assert certificates.get_certificate(kz.guarantees, issued.number).status == "issued"
    assert guarantees.balance(kz.guarantees, grn).record.balance.available == available


def test_an_incident_on_a_copy_names_an_office_of_the_copy_state(fed: Federation) -> None:
    """Its message names the reporting office, whose state the receivers hold to it."""
    m = released(fed)
    ru = fed.nodes["RU"].transit
    before = snapshot(fed, "RU", m.reference)
    with pytest.raises(ActionInvalid) as refused:
        transit.act(ru, m.reference, RecordIncident(IncidentKind.ACCIDENT, None, "overturned"))
    assert [v.code for v in refused.value.violations] == ["office-required"]
    assert snapshot(fed, "RU", m.reference) == before
    transit.act(ru, m.reference, RecordIncident(IncidentKind.ACCIDENT, "10504070", "overturned"))
    fed.pump()
    assert transit.get_movement(fed.nodes["KZ"].transit, m.reference).incidents == 1
