"""P.SO.01 between live nodes: a third-party seal resolved, the carriage handed over, tracking ended.

A Russian seal on a movement released in Kazakhstan: the Kazakh operator asks the Russian one,
which lends it; positions reaching Russia and Belarus hand the carriage to their operators; the
arrival in Belarus ends the tracking everywhere and gives the seal back to its registry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation
from tests.integration.seals.seal_support import corridor_track

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.bus.ports import RetryLater
from silkway.exchange.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    MessageBody,
)
from silkway.exchange.domain.processes import CATALOGUE, PROCESSES
from silkway.kernel.codes import make_movement_reference
from silkway.seals import ingest as telemetry
from silkway.seals import service as seals
from silkway.seals.domain.seals import SealStatus
from silkway.seals.passwords import verify_password
from silkway.seals.ports import Activation, IncidentFilter
from silkway.transit import service as transit
from silkway.transit.domain.declaration import Seals
from silkway.transit.domain.movement import Accept, MovementStatus, RecordArrival, Release

RU_SEAL = "RUNS2600000731"
RU_IMEI = "356307042449999"


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "RU", "BY"), START) as f:
        f.open_all("P.CP.01")
        f.open_all("P.SO.01")
        yield f


def release_with(fed: Federation, seal_id: str, lrn: str = "LRN-SO-1") -> str:
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date()).model_copy(
        update={"lrn": lrn, "seals": Seals(count=1, navigation_seal_ids=[seal_id])}
    )
    ref = transit.lodge_declaration(kz, decl).movement.reference
    transit.act(kz, ref, Accept())
    transit.act(kz, ref, Release(decl.security[0].reference, decl.departure_office))
    return ref


def register_ru_seal(fed: Federation) -> None:
    seals.register_seal(
        fed.nodes["RU"].seals,
        seal_id=RU_SEAL,
        protocol="wialon",
        imei=RU_IMEI,
        password="kz-ru-1",
        reporting_period_s=120,
        firmware="2.4.1",
    )


def activations(fed: Federation, state: str, ref: str) -> list[Activation]:
    with fed.nodes[state].transit.read() as uow:
        return uow.seals.activations_for_movement(ref)


def events(fed: Federation, state: str, ref: str) -> list[tuple[str, dict[str, Any]]]:
    with fed.nodes[state].transit.read() as uow:
        return [(e.kind, e.payload) for e in uow.events.records(ref)]


def so_outcomes(fed: Federation, state: str, ref: str) -> list[tuple[str, str | None]]:
    with fed.nodes[state].transit.read() as uow:
        return [
            (v.message_kind, v.outcome)
            for v in uow.exchange.outbox_views(movement_reference=ref)
            if v.process == "P.SO.01" and v.message_kind != "processing_result"
        ]


def test_a_third_party_seal_is_lent_tracked_handed_over_and_returned(fed: Federation) -> None:
    register_ru_seal(fed)
    ref = release_with(fed, RU_SEAL)
    assert activations(fed, "KZ", ref) == []  # not known at KZ yet: asked, not activated
    fed.pump()

    # The Russian operator lent its seal; the Kazakh one recorded it and activated it.
    lent = seals.get_seal(fed.nodes["RU"].seals, RU_SEAL)
    assert (lent.status, lent.movement_reference) == (SealStatus.ACTIVE, ref)
    third_party = seals.get_seal(fed.nodes["KZ"].seals, RU_SEAL)
    assert third_party.operator == "RU"
    assert (third_party.protocol.value, third_party.device_id) == ("wialon", RU_IMEI)
    assert third_party.reporting_period_s == 120
    # The password travelled as the hash RU keeps, and KZ checks the device's logins with it.
    assert third_party.password_hash == lent.password_hash
    assert third_party.password_hash is not None
    assert verify_password(third_party.password_hash, "kz-ru-1")
    [kz_activation] = activations(fed, "KZ", ref)
    assert kz_activation.active
    assert (kz_activation.operators.registration, kz_activation.operators.tracking) == ("RU", "KZ")
    resolved = [p for k, p in events(fed, "KZ", ref) if k == "seal_resolved"]
    assert resolved == [
        {"seal_id": RU_SEAL, "answer": "available", "from": "RU", "activated": True}
    ]

    # The truck drives the whole road: the Russian and Belarusian operators take over.
    track = corridor_track(
        fed.nodes["KZ"], fed.clock.now(), count=400, device=RU_IMEI, step=timedelta(minutes=15)
    )
    fed.clock.advance(timedelta(days=5))
    report = telemetry.ingest(fed.nodes["KZ"].seals, track, source="wialon")
    assert (report.accepted, report.handovers) == (400, 2)
    fed.pump()
    for state, came_from in (("RU", "KZ"), ("BY", "RU")):
        [taken] = activations(fed, state, ref)
        assert taken.active
        assert (taken.operators.tracking, taken.operators.registration) == ("KZ", "RU")
        view = seals.movement_track(fed.nodes[state].seals, ref)
        assert [(h.handover.from_state, h.handover.to_state) for h in view.handovers] == [
            (came_from, state)
        ]
        assert (
            "seal_taken_over",
            {"seal_id": RU_SEAL, "from_state": came_from, "tracking": "KZ"},
        ) in (events(fed, state, ref))
    assert seals.get_seal(fed.nodes["BY"].seals, RU_SEAL).operator == "RU"
    # Not a point lost: each operator holds the points from its own border on, and the
    # tracking operator keeps the whole track.
    kz_view = seals.movement_track(fed.nodes["KZ"].seals, ref)
    entered = {h.handover.to_state: h.handover.at for h in kz_view.handovers}
    ru_points = [p for p in track if entered["RU"] <= p.time < entered["BY"]]
    by_points = [p for p in track if p.time >= entered["BY"]]
    assert kz_view.stored_points == 400
    assert seals.movement_track(fed.nodes["RU"].seals, ref).stored_points == len(ru_points) > 0
    assert seals.movement_track(fed.nodes["BY"].seals, ref).stored_points == len(by_points) > 0
    with fed.nodes["BY"].transit.read() as uow:
        [by_activation] = uow.seals.activations_for_movement(ref)
    assert by_activation.track.last_ms == int(track[-1].time.timestamp() * 1000)

    # Arrival in Belarus completes the movement at KZ, which ends the tracking everywhere.
    decl = transit.get_movement(fed.nodes["BY"].transit, ref).declaration
    transit.act(fed.nodes["BY"].transit, ref, RecordArrival(decl.destination_office))
    fed.pump()
    assert transit.get_movement(fed.nodes["KZ"].transit, ref).status is MovementStatus.COMPLETED
    for state in ("KZ", "RU", "BY"):
        assert not any(a.active for a in activations(fed, state, ref)), state
    returned = seals.get_seal(fed.nodes["RU"].seals, RU_SEAL)
    assert (returned.status, returned.movement_reference) == (SealStatus.REGISTERED, None)

    # Every P.SO.01 message KZ sent was accepted by its receiver.
    sent = so_outcomes(fed, "KZ", ref)
    assert sorted(sent) == sorted(
        [
            ("seal_enquiry", "accepted"),
            ("handover", "accepted"),
            ("handover", "accepted"),
            ("positions", "accepted"),
            ("positions", "accepted"),
            ("completion", "accepted"),
            ("completion", "accepted"),
        ]
    )


def test_a_seal_the_registration_operator_does_not_know_stays_unresolved(fed: Federation) -> None:
    ref = release_with(fed, RU_SEAL)
    fed.pump()
    assert activations(fed, "KZ", ref) == []
    with pytest.raises(seals.SealNotFound):
        seals.get_seal(fed.nodes["KZ"].seals, RU_SEAL)
    resolved = [p for k, p in events(fed, "KZ", ref) if k == "seal_resolved"]
    assert resolved == [{"seal_id": RU_SEAL, "answer": "unknown", "from": "RU"}]


def test_a_seal_already_lent_to_another_movement_is_answered_in_use(fed: Federation) -> None:
    register_ru_seal(fed)
    first = release_with(fed, RU_SEAL, "LRN-SO-A")
    fed.pump()
    # KZ itself knows the seal is on its first movement: a second one does not even ask.
    second = release_with(fed, RU_SEAL, "LRN-SO-B")
    assert [a.movement_reference for a in activations(fed, "KZ", first)] == [first]
    assert activations(fed, "KZ", second) == []
    # Another operator asking for it is told it is in use.
    other = make_movement_reference("BY", 2026, 77)
    receipt = _send(
        fed,
        "BY",
        "RU",
        "P.SO.01.MSG.901",
        {
            "SealId": RU_SEAL,
            "MovementReference": other,
            "TrackingCountryCode": "BY",
            "EnquiryDateTime": fed.clock.now(),
        },
    )
    assert receipt.outcome == "accepted"
    with fed.nodes["RU"].transit.read() as uow:
        [answer] = [m for m in uow.outbox.for_movement(other) if m.message_kind == "seal_answer"]
    assert answer.to_state == "BY"
    assert answer.payload["fields"]["AnswerCode"] == "in-use"
    assert "Device" not in answer.payload["fields"]
    assert seals.get_seal(fed.nodes["RU"].seals, RU_SEAL).movement_reference == first


def test_without_p_so_01_in_operation_the_enquiry_goes_on_paper(tmp_path: Path) -> None:
    with federation(tmp_path, ("KZ", "RU"), START) as fed:
        fed.open_all("P.CP.01")
        register_ru_seal(fed)
        ref = release_with(fed, RU_SEAL)
        fed.pump()
        with fed.nodes["KZ"].transit.read() as uow:
            views = [
                v for v in uow.exchange.outbox_views(movement_reference=ref)
                if v.process == "P.SO.01"
            ]  # fmt: skip
        assert [(v.message_kind, v.channel) for v in views] == [("seal_enquiry", "paper")]
        assert seals.get_seal(fed.nodes["RU"].seals, RU_SEAL).status is SealStatus.REGISTERED


# --- refusals ------------------------------------------------------------------------------------


def _send(
    fed: Federation, sender: str, receiver: str, code: str, fields: dict[str, Any]
) -> exchange.Receipt:
    return exchange.receive(fed.contexts[receiver], _sealed(fed, sender, receiver, code, fields))


def _handover_fields(ref: str, to_state: str) -> dict[str, Any]:
    return {
        "MovementReference": ref,
        "SealId": RU_SEAL,
        "RegistrationCountryCode": "RU",
        "FromCountryCode": "KZ",
        "ToCountryCode": to_state,
        "HandoverDateTime": fed_now(),
        "Location": {"Latitude": Decimal("54.1"), "Longitude": Decimal("61.6")},
        "Device": {"ProtocolCode": "egts", "DeviceId": RU_IMEI, "ReportingPeriodSeconds": 60},
    }


def fed_now() -> Any:
    return START + timedelta(hours=1)


@pytest.mark.parametrize(
    ("sender", "receiver", "to_state", "code"),
    [
        ("KZ", "BY", "RU", "handover-misaddressed"),  # BY is not the state entered
        ("RU", "KZ", "KZ", "sender-not-entitled"),  # only KZ, which released it, hands over
        ("BY", "RU", "RU", "sender-not-entitled"),
    ],
)
def test_a_wrong_handover_is_refused_and_changes_nothing(
    fed: Federation, sender: str, receiver: str, to_state: str, code: str
) -> None:
    ref = release_with(fed, "KZNS2600045180")
    fed.pump()
    before = activations(fed, receiver, ref)
    receipt = _send(fed, sender, receiver, "P.SO.01.MSG.903", _handover_fields(ref, to_state))
    assert receipt.outcome == "rejected"
    assert [e["ErrorCode"] for e in receipt.errors] == [code]
    assert activations(fed, receiver, ref) == before
    with pytest.raises(seals.SealNotFound):
        seals.get_seal(fed.nodes[receiver].seals, RU_SEAL)


def test_a_seal_answer_from_a_state_that_did_not_register_it_is_refused(fed: Federation) -> None:
    ref = release_with(fed, RU_SEAL)
    fields = {
        "SealId": RU_SEAL,
        "MovementReference": ref,
        "AnswerCode": "available",
        "RegistrationCountryCode": "RU",
        "Device": {"ProtocolCode": "egts", "DeviceId": RU_IMEI, "ReportingPeriodSeconds": 60},
    }
    receipt = _send(fed, "BY", "KZ", "P.SO.01.MSG.902", fields)
    assert [e["ErrorCode"] for e in receipt.errors] == ["sender-not-entitled"]
    assert activations(fed, "KZ", ref) == []
    with pytest.raises(seals.SealNotFound):
        seals.get_seal(fed.nodes["KZ"].seals, RU_SEAL)


def test_a_seal_answer_with_a_bad_device_is_refused_with_the_rule(fed: Federation) -> None:
    ref = release_with(fed, RU_SEAL)
    fields = {
        "SealId": RU_SEAL,
        "MovementReference": ref,
        "AnswerCode": "available",
        "RegistrationCountryCode": "RU",
        # Schema-valid, but EGTS needs a 15-digit IMEI.
        "Device": {"ProtocolCode": "egts", "DeviceId": "ABC", "ReportingPeriodSeconds": 60},
    }
    receipt = _send(fed, "RU", "KZ", "P.SO.01.MSG.902", fields)
    assert receipt.outcome == "rejected"
    assert [e["ErrorCode"] for e in receipt.errors] == ["imei-invalid"]
    with pytest.raises(seals.SealNotFound):
        seals.get_seal(fed.nodes["KZ"].seals, RU_SEAL)


def test_later_batches_of_a_handed_over_carriage_are_forwarded_whole(fed: Federation) -> None:
    register_ru_seal(fed)
    ref = release_with(fed, RU_SEAL)
    fed.pump()
    start = fed.clock.now()
    track = corridor_track(
        fed.nodes["KZ"], start, count=400, device=RU_IMEI, step=timedelta(minutes=15)
    )
    fed.clock.advance(timedelta(days=5))
    kz = fed.nodes["KZ"].seals
    # Batch by batch, as a device reports: each batch's points go where the carriage is.
    for first in range(0, 400, 25):
        telemetry.ingest(kz, track[first : first + 25], source="wialon")
        fed.pump()
    entered = {h.handover.to_state: h.handover.at for h in seals.movement_track(kz, ref).handovers}
    # Silence is the tracking operator's check: the passage operators never flag it.
    later = fed.clock.now() + timedelta(days=3)
    assert [i.code.value for i in telemetry.check_silence(kz, later)] == ["06"]
    for state in ("RU", "BY"):
        assert telemetry.check_silence(fed.nodes[state].seals, later) == []
    stored = {s: seals.movement_track(fed.nodes[s].seals, ref).stored_points for s in ("RU", "BY")}
    assert stored == {
        "RU": sum(1 for p in track if entered["RU"] <= p.time < entered["BY"]),
        "BY": sum(1 for p in track if p.time >= entered["BY"]),
    }


def _forwarded(ref: str, **point: Any) -> dict[str, Any]:
    return {
        "MovementReference": ref,
        "SealId": RU_SEAL,
        "Position": (
            {
                "PositionDateTime": fed_now(),
                "Latitude": Decimal("54.2"),
                "Longitude": Decimal("60.9"),
                **point,
            },
        ),
    }


def _ended(ref: str) -> dict[str, Any]:
    """An end-of-tracking notice (MSG.904) for the Russian seal on ``ref``."""
    return {
        "MovementReference": ref,
        "SealId": RU_SEAL,
        "CompletionDateTime": fed_now(),
        "MovementStatusCode": "completed",
    }


def _handed_to_ru(fed: Federation) -> str:
    register_ru_seal(fed)
    ref = release_with(fed, RU_SEAL)
    fed.pump()
    receipt = _send(fed, "KZ", "RU", "P.SO.01.MSG.903", _handover_fields(ref, "RU"))
    assert receipt.outcome == "accepted", receipt.errors
    return ref


@pytest.mark.parametrize(
    ("sender", "seal_id", "point", "code"),
    [
        ("BY", RU_SEAL, {}, "sender-not-entitled"),
        ("KZ", "KZNS2600045180", {}, "seal-not-on-movement"),
        ("KZ", RU_SEAL, {"EventCode": ("99",)}, "event-code-unknown"),
        ("KZ", RU_SEAL, {"PositionDateTime": START + timedelta(days=30)}, "position-invalid"),
    ],
)
def test_forwarded_positions_that_do_not_belong_are_refused_and_nothing_is_stored(
    fed: Federation, sender: str, seal_id: str, point: dict[str, Any], code: str
) -> None:
    ref = _handed_to_ru(fed)
    fields = {**_forwarded(ref, **point), "SealId": seal_id}
    receipt = _send(fed, sender, "RU", "P.SO.01.MSG.905", fields)
    assert receipt.outcome == "rejected"
    assert [e["ErrorCode"] for e in receipt.errors] == [code]
    assert seals.movement_track(fed.nodes["RU"].seals, ref).stored_points == 0


def test_forwarded_positions_are_monitored_by_the_operator_they_reach(fed: Federation) -> None:
    ref = _handed_to_ru(fed)
    receipt = _send(
        fed, "KZ", "RU", "P.SO.01.MSG.905", _forwarded(ref, EventCode=("02",), BatteryPercent=9)
    )
    assert receipt.outcome == "accepted", receipt.errors
    assert seals.movement_track(fed.nodes["RU"].seals, ref).stored_points == 1
    opened = {i.code.value for i in seals.list_incidents(fed.nodes["RU"].seals, IncidentFilter())}
    assert {"02", "05"} <= opened  # housing opened, battery under 15 %


def test_only_the_tracking_operator_ends_tracking(fed: Federation) -> None:
    ref = _handed_to_ru(fed)
    fields = _ended(ref)
    refused = _send(fed, "BY", "RU", "P.SO.01.MSG.904", fields)
    assert [e["ErrorCode"] for e in refused.errors] == ["sender-not-entitled"]
    assert [a.active for a in activations(fed, "RU", ref)] == [True]
    accepted = _send(fed, "KZ", "RU", "P.SO.01.MSG.904", fields)
    assert accepted.outcome == "accepted"
    assert [a.active for a in activations(fed, "RU", ref)] == [False]
    assert seals.get_seal(fed.nodes["RU"].seals, RU_SEAL).status is SealStatus.REGISTERED


def _sealed(
    fed: Federation, sender: str, receiver: str, code: str, fields: dict[str, Any]
) -> bytes:
    entry = CATALOGUE[code]
    process = PROCESSES["P.SO.01"]
    envelope = Envelope(
        EnvelopeHeader(
            to=Address.for_role(receiver, entry.receiver_roles[0]),
            reply_to=Address.for_role(sender, entry.sender_roles[0]),
            action=Action(
                process.code,
                process.version,
                process.procedure,
                entry.transaction or "P.SO.01.TRN.901",  # a reply: the enquiry's transaction
                code,
            ),
            message_id=uuid.uuid4(),
            procedure_id=uuid.uuid4(),
            conversation_id=uuid.uuid4(),
            relates_to=None if entry.transaction else uuid.uuid4(),
        ),
        EDocHeader(code, entry.structure, uuid.uuid4(), fed.clock.now()),
        MessageBody(entry.structure, fields),
    )
    return fed.contexts[sender].sealer.seal(envelope, fed.clock.now())


def test_points_that_overtake_their_hand_over_wait_for_it(fed: Federation) -> None:
    register_ru_seal(fed)
    ref = release_with(fed, RU_SEAL)
    fed.pump()
    points = _sealed(fed, "KZ", "RU", "P.SO.01.MSG.905", _forwarded(ref))
    with pytest.raises(RetryLater):
        exchange.receive(fed.contexts["RU"], points)
    with fed.nodes["RU"].transit.read() as uow:
        assert not uow.exchange.inbox_seen(_message_id(fed, points))
    handover = _send(fed, "KZ", "RU", "P.SO.01.MSG.903", _handover_fields(ref, "RU"))
    assert handover.outcome == "accepted"
    # The bus brings the points back: now they are taken, once.
    assert exchange.receive(fed.contexts["RU"], points).outcome == "accepted"
    assert seals.movement_track(fed.nodes["RU"].seals, ref).stored_points == 1
    assert exchange.receive(fed.contexts["RU"], points).outcome == "duplicate"


def test_points_after_tracking_ended_are_refused(fed: Federation) -> None:
    ref = _handed_to_ru(fed)
    assert _send(fed, "KZ", "RU", "P.SO.01.MSG.904", _ended(ref)).outcome == "accepted"
    receipt = _send(fed, "KZ", "RU", "P.SO.01.MSG.905", _forwarded(ref))
    assert [e["ErrorCode"] for e in receipt.errors] == ["not-handed-over"]
    assert seals.movement_track(fed.nodes["RU"].seals, ref).stored_points == 0


def _message_id(fed: Federation, data: bytes) -> str:
    peeked = fed.contexts["RU"].sealer.peek(data)
    assert peeked is not None
    return str(peeked.header.message_id.urn)


def test_a_hand_over_that_overtakes_the_release_waits_for_it(fed: Federation) -> None:
    """The seal operator's hand-over reaches RU before KZ's release notification does: it is
    retried, never recorded as seen, and taken once the copy is there."""
    register_ru_seal(fed)
    ref = release_with(fed, RU_SEAL)
    handover = _sealed(fed, "KZ", "RU", "P.SO.01.MSG.903", _handover_fields(ref, "RU"))
    with pytest.raises(RetryLater, match="has not arrived yet"):
        exchange.receive(fed.contexts["RU"], handover)
    with fed.nodes["RU"].transit.read() as uow:
        assert not uow.exchange.inbox_seen(_message_id(fed, handover))
    assert activations(fed, "RU", ref) == []
    fed.pump()  # the release notification arrives
    assert exchange.receive(fed.contexts["RU"], handover).outcome == "accepted"
    assert [a.seal_id for a in activations(fed, "RU", ref) if a.active] == [RU_SEAL]
