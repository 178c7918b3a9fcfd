"""P.SO.01 at the receiving node: what one seal operator does with another's messages.

Each handler runs inside the exchange's receiving transaction (:func:`exchange.receive`), so the
message's effect, its inbox entry and its R.006 answer are stored together. A handler refuses a
message by raising a :class:`DomainError`; the sender then gets a negative R.006 with the codes.

- MSG.901, a seal enquiry, reaches the registration operator. It lends a free seal to the
  movement and answers with the seal's device (MSG.902), or says why it cannot.
- MSG.902 reaches the tracking operator. A seal lent to it is recorded as a third-party seal and
  activated on the movement, if the movement is still under way.
- MSG.903, a hand-over, reaches the operator of the state the carriage entered. It takes the
  carriage over on its copy of the movement: the seal is recorded if new and activated, with
  the sender as tracking operator.
- MSG.904, end of tracking, ends the activations here and gives a lent seal back to the registry.
- MSG.905 carries the points of a carriage handed over here; they go through this operator's
  own pipeline (corridor, rules, incidents, storage) in the receiving transaction.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np

from silkway.exchange import inbound
from silkway.exchange.bus.ports import RetryLater
from silkway.exchange.conformance import conformance_reference, scenario_envelope
from silkway.exchange.domain.envelope import Envelope, urn_uuid
from silkway.exchange.hooks import ContextHandler, InboundHandler, Kit, KitBuilder, bind_handlers
from silkway.exchange.service import NOT_YET_APPLICABLE
from silkway.kernel.errors import ActionInvalid, Violation
from silkway.node.ports import DuplicateKey
from silkway.seals import ingest as telemetry
from silkway.seals import messages as seal_messages
from silkway.seals.activation import HANDOVER, SealActivations, activate_seals, operator_payload
from silkway.seals.domain.rules import Handover
from silkway.seals.domain.seals import Seal, SealStatus, registration_state
from silkway.seals.domain.telemetry import IoValue, PositionBatch
from silkway.seals.ports import HandoverRecord
from silkway.seals.service import SealContext
from silkway.transit import inbound as transit_inbound
from silkway.transit.domain.movement import Movement, MovementStatus
from silkway.unit_of_work import UnitOfWork

UNDER_WAY = (MovementStatus.RELEASED, MovementStatus.IN_PASSAGE)


def _text(fields: Mapping[str, Any], name: str) -> str:
    return str(fields[name])


def _activate(
    ctx: SealContext,
    uow: UnitOfWork,
    movement: Movement,
    seal_id: str,
    tracking: str,
    now: datetime,
) -> SealActivations:
    """Activate one seal on ``movement`` here, ``tracking`` being the operator that tracks it."""
    return activate_seals(
        uow,
        ctx.reference,
        ctx.state,
        movement,
        now,
        [seal_id],
        silent_periods=ctx.thresholds.silent_periods,
        tracking=tracking,
    )


def _from_tracking_operator(ctx: SealContext, envelope: Envelope) -> str:
    """The sender, which must be the carriage's tracking operator: its state of departure."""
    inbound.require_sender(envelope, ctx.reference)
    return inbound.sender(envelope)


def _lend(uow: UnitOfWork, state: str, seal: Seal | None, reference: str) -> tuple[str, str | None]:
    """Whether a seal of this registry can go to ``reference``; marks it lent when it can."""
    if seal is None or seal.key is None or seal.operator != state:
        return "unknown", "no such seal in this operator's registry"
    if seal.status is SealStatus.RETIRED:
        return "retired", "the seal is out of service"
    if seal.status is SealStatus.ACTIVE and seal.movement_reference != reference:
        return "in-use", "the seal is on another movement"
    uow.seals.set_seal_status(seal.key, SealStatus.ACTIVE, reference)
    return "available", None


def seal_enquiry(ctx: SealContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    """The registration operator answers about one of its seals."""
    fields = envelope.body.fields
    seal_id, reference = _text(fields, "SealId"), _text(fields, "MovementReference")
    tracking = _from_tracking_operator(ctx, envelope)
    if _text(fields, "TrackingCountryCode") != tracking:
        raise ActionInvalid(
            "a seal enquiry comes from the tracking operator it names",
            [Violation("tracking-operator-mismatch", "/TrackingCountryCode", tracking)],
        )
    seal = uow.seals.get_seal(seal_id)
    answer, remarks = _lend(uow, ctx.state, seal, reference)
    uow.outbox.put(
        [
            seal_messages.enquiry_answer(
                ctx.state,
                tracking,
                seal_id,
                reference,
                answer,
                seal,
                now,
                relates_to=urn_uuid(envelope.header.message_id),
                remarks=remarks,
            )
        ]
    )


def _record_seal(
    uow: UnitOfWork,
    seal_id: str,
    registration: str,
    device: Mapping[str, Any],
    now: datetime,
    envelope: Envelope,
) -> Seal:
    """The seal as this registry knows it, recorded as a third-party seal when new here."""
    known = uow.seals.get_seal(seal_id)
    if known is not None:
        if known.operator != registration:
            raise ActionInvalid(
                f"seal {seal_id} is registered here by {known.operator}, not {registration}",
                [Violation("seal-operator-mismatch", "/RegistrationCountryCode", registration)],
            )
        return known
    try:
        return uow.seals.add_seal(
            seal_messages.seal_from_device(seal_id, registration, dict(device), now),
            inbound.actor(envelope),
        )
    except DuplicateKey:
        raise ActionInvalid(
            f"the device of seal {seal_id} is registered here under another seal",
            [Violation("device-taken", "/Device/DeviceId", str(device["DeviceId"]))],
        ) from None


def seal_answer(ctx: SealContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    """The tracking operator learns about a third-party seal and activates it if it can."""
    fields = envelope.body.fields
    seal_id, answer = _text(fields, "SealId"), _text(fields, "AnswerCode")
    inbound.require_sender(envelope, ctx.reference, registration_state(seal_id) or "")
    movement = transit_inbound.movement_or_wait(uow, ctx.state, _text(fields, "MovementReference"))
    registration = inbound.sender(envelope)
    if _text(fields, "RegistrationCountryCode") != registration:
        raise ActionInvalid(
            "a seal is described by its registration operator",
            [Violation("registration-operator-mismatch", "/RegistrationCountryCode", registration)],
        )
    outcome: dict[str, Any] = {"seal_id": seal_id, "answer": answer, "from": registration}
    device = fields.get("Device")
    if answer == "available" and isinstance(device, Mapping):
        _record_seal(uow, seal_id, registration, device, now, envelope)
        if movement.status in UNDER_WAY:
            result = _activate(ctx, uow, movement, seal_id, ctx.state, now)
            outcome["activated"] = seal_id in result.activated
            if seal_id in result.unresolved:
                outcome["reason"] = result.unresolved[seal_id]
        else:
            outcome["activated"] = False
            outcome["reason"] = f"movement {movement.status.value}"
    transit_inbound.log_event(uow, movement.reference, envelope, now, "seal_resolved", outcome)


def handover(ctx: SealContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    """The operator of the state entered takes the carriage over on its copy of the movement."""
    fields = envelope.body.fields
    seal_id = _text(fields, "SealId")
    tracking = _from_tracking_operator(ctx, envelope)
    movement = transit_inbound.movement_or_wait(uow, ctx.state, _text(fields, "MovementReference"))
    if _text(fields, "ToCountryCode") != ctx.state:
        raise ActionInvalid(
            f"the hand-over is to {fields['ToCountryCode']}, not {ctx.state}",
            [Violation("handover-misaddressed", "/ToCountryCode", str(fields["ToCountryCode"]))],
        )
    if movement.state == ctx.state:
        raise ActionInvalid(
            "a carriage released here is tracked here, not handed over to this operator",
            [Violation("own-movement", "/MovementReference", movement.reference)],
        )
    device = fields["Device"]
    assert isinstance(device, Mapping)
    _record_seal(uow, seal_id, _text(fields, "RegistrationCountryCode"), device, now, envelope)
    result = _activate(ctx, uow, movement, seal_id, tracking, now)
    if seal_id in result.unresolved and result.unresolved[seal_id] != "already-active":
        reason = result.unresolved[seal_id]
        raise ActionInvalid(
            f"seal {seal_id} cannot be tracked here: {reason}",
            [Violation(reason.split(":")[0], "/SealId", reason)],
        )
    location = fields["Location"]
    assert isinstance(location, Mapping)
    at = fields["HandoverDateTime"]
    assert isinstance(at, datetime)
    activation = next(
        a
        for a in uow.seals.activations_for_movement(movement.reference)
        if a.active and a.seal_id == seal_id
    )
    h = Handover(
        activation_id=activation.id,
        movement_reference=movement.reference,
        seal_id=seal_id,
        from_state=_text(fields, "FromCountryCode"),
        to_state=ctx.state,
        at=at,
        lat=float(str(location["Latitude"])),
        lon=float(str(location["Longitude"])),
    )
    uow.seals.add_handovers(
        [
            HandoverRecord(
                kind=HANDOVER,
                handover=h,
                payload=operator_payload(HANDOVER, h, f"received from {tracking}"),
                message_id=urn_uuid(envelope.header.message_id),
            )
        ]
    )
    if seal_id in result.activated:
        transit_inbound.log_event(
            uow,
            movement.reference,
            envelope,
            now,
            "seal_taken_over",
            {"seal_id": seal_id, "from_state": h.from_state, "tracking": tracking},
        )


def tracking_ended(ctx: SealContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    """Tracking of the carriage ended: stop following it here; a lent seal comes back."""
    fields = envelope.body.fields
    seal_id, reference = _text(fields, "SealId"), _text(fields, "MovementReference")
    _from_tracking_operator(ctx, envelope)
    for activation in uow.seals.activations_for_movement(reference):
        if activation.active and activation.seal_id == seal_id:
            uow.seals.end_activation(activation.id, now)
    seal = uow.seals.get_seal(seal_id)
    if (
        seal is not None
        and seal.key is not None
        and seal.status is SealStatus.ACTIVE
        and seal.movement_reference == reference
    ):
        uow.seals.set_seal_status(seal.key, SealStatus.REGISTERED, None)
    movement = uow.movements.get(reference)
    if movement is not None:
        transit_inbound.log_event(
            uow,
            movement.reference,
            envelope,
            now,
            "seal_tracking_ended",
            {"seal_id": seal_id, "status": _text(fields, "MovementStatusCode")},
        )


def positions_forwarded(
    ctx: SealContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    """Points of a carriage handed over here: monitored like the operator's own."""
    fields = envelope.body.fields
    seal_id = _text(fields, "SealId")
    _from_tracking_operator(ctx, envelope)
    movement = transit_inbound.movement_or_wait(uow, ctx.state, _text(fields, "MovementReference"))
    if seal_id not in movement.declaration.seals.navigation_seal_ids:
        raise ActionInvalid(
            f"seal {seal_id} is not declared on {movement.reference}",
            [Violation("seal-not-on-movement", "/SealId", seal_id)],
        )
    ours = [
        a for a in uow.seals.activations_for_movement(movement.reference) if a.seal_id == seal_id
    ]
    if not ours:
        # Sent after the hand-over but delivered before it (a redelivery overtook it): the bus
        # brings it back after a pause, by which time the hand-over has taken effect. Bounded:
        # after the bus's last attempt it is a dead letter, kept with this reason.
        raise RetryLater(f"the hand-over of seal {seal_id} has not arrived yet")
    seal = uow.seals.get_seal(seal_id)
    if seal is None or not any(a.active for a in ours):
        raise ActionInvalid(
            f"seal {seal_id} was not handed over to {ctx.state} on {movement.reference}",
            [Violation("not-handed-over", "/SealId", seal_id)],
        )
    names = {code.value: name for name, code in ctx.signals.event_names.items()}
    points = fields["Position"]
    assert isinstance(points, tuple)
    batch = _forwarded_batch(seal.device_id, points, names, ctx.signals.battery_names[0])
    report = telemetry.ingest_within(ctx, uow, batch, source="exchange")
    if report.rejected:
        index, reason = report.rejected[0]
        raise ActionInvalid(
            f"{len(report.rejected)} forwarded position(s) refused: {reason}",
            [Violation("position-invalid", f"/Position/{index}", reason)],
        )


def _forwarded_batch(
    device_id: str, points: tuple[Any, ...], names: Mapping[str, str], battery: str
) -> PositionBatch:
    """The forwarded points as columns, as this operator reads positions: events under its own
    names, the charge under its battery name."""
    stamps: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    speed: list[float] = []
    course: list[int] = []
    flags: dict[str, list[bool | None]] = {}
    charge: list[IoValue | None] = []
    for index, point in enumerate(points):
        assert isinstance(point, Mapping)
        events = [str(e) for e in point.get("EventCode", ())]
        unknown = [e for e in events if e not in names]
        if unknown:
            raise ActionInvalid(
                f"event code {unknown[0]!r} is not a seal event",
                [Violation("event-code-unknown", f"/Position/{index}/EventCode", unknown[0])],
            )
        at = point["PositionDateTime"]
        assert isinstance(at, datetime)
        if at.utcoffset() is None:  # the schema asks for a zone; never read one into another
            raise ActionInvalid(
                "1 forwarded position(s) refused: time has no time zone",
                [Violation("position-invalid", f"/Position/{index}", "time has no time zone")],
            )
        stamps.append(at.timestamp())
        lat.append(float(str(point["Latitude"])))
        lon.append(float(str(point["Longitude"])))
        value = point.get("SpeedKmh")
        speed.append(math.nan if value is None else float(str(value)))
        degrees = point.get("CourseDegrees")
        course.append(-1 if degrees is None else int(str(degrees)))
        for event in events:
            flags.setdefault(names[event], [None] * len(points))[index] = True
        percent = point.get("BatteryPercent")
        charge.append(None if percent is None else int(str(percent)))
    return PositionBatch.of_device(
        device_id,
        t_ms=np.rint(np.array(stamps, dtype=np.float64) * 1000.0).astype(np.int64),
        lat=np.array(lat, dtype=np.float64),
        lon=np.array(lon, dtype=np.float64),
        speed_kmh=np.array(speed, dtype=np.float64),
        course=np.array(course, dtype=np.int64),
        flags=flags,
        io={battery: charge} if any(c is not None for c in charge) else {},
        protocol="exchange",
    )


_HANDLERS: Mapping[str, ContextHandler[SealContext]] = {
    seal_messages.ENQUIRY_CODE: seal_enquiry,
    seal_messages.ANSWER_CODE: seal_answer,
    seal_messages.HANDOVER_CODE: handover,
    seal_messages.COMPLETION_CODE: tracking_ended,
    seal_messages.POSITIONS_CODE: positions_forwarded,
}


def handlers(ctx: SealContext) -> dict[str, InboundHandler]:
    """Each P.SO.01 message's handler, bound to this node's seal operator."""
    return bind_handlers(_HANDLERS, ctx)


# --- the P.SO.01 conformance kit ---------------------------------------------------------------


def conformance_kit(ctx: SealContext, b_state: str, now: datetime) -> Kit:
    """P.SO.01: an enquiry about a seal B does not know, and a hand-over of a movement it lacks.

    Outside an interstate test B would wait for that movement's copy (the bus brings the
    hand-over back); inside one it answers at once that the message cannot apply yet."""
    reference = conformance_reference(ctx.state, now)
    seal_id = f"{ctx.state}CONF{uuid.uuid4().hex[:12].upper()}"
    enquiry = {
        "SealId": seal_id,
        "MovementReference": reference,
        "TrackingCountryCode": ctx.state,
        "EnquiryDateTime": now,
    }
    handover = {
        "MovementReference": reference,
        "SealId": seal_id,
        "RegistrationCountryCode": ctx.state,
        "FromCountryCode": ctx.state,
        "ToCountryCode": b_state,
        "HandoverDateTime": now,
        "Location": {"Latitude": Decimal("50.0"), "Longitude": Decimal("60.0")},
        "Device": {
            "ProtocolCode": "egts",
            "DeviceId": "356307000000000",
            "ReportingPeriodSeconds": 60,
        },
    }
    return Kit(
        accepted=(
            "seal-enquiry-accepted",
            lambda: scenario_envelope(
                ctx.state, b_state, "P.SO.01.MSG.901", ("P.SO.01.ACT.002", "P.SO.01.ACT.001"),
                enquiry, now,
            ),
        ),
        refused=(
            "unknown-movement-refused",
            scenario_envelope(
                ctx.state, b_state, "P.SO.01.MSG.903", ("P.SO.01.ACT.002", "P.SO.01.ACT.003"),
                handover, now,
            ),
            NOT_YET_APPLICABLE,
        ),
        tamper=reference,
    )  # fmt: skip


def kit(ctx: SealContext) -> KitBuilder:
    """The P.SO.01 kit, bound to this node's seal operator."""
    return partial(conformance_kit, ctx)
