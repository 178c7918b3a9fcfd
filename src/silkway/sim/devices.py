"""Emulated navigation seals: each sends a track to a listener exactly as a real device does.

One device per protocol, speaking only that protocol over the network, with the encoders of
:mod:`silkway.seals.devices`:

- :class:`EgtsTerminal`: EGTS over TCP, TERM_IDENTITY in the AUTH service and the server's
  RESULT_CODE confirmed, then a packet of POS_DATA records per batch, each record's
  RECORD_RESPONSE read back;
- :class:`WialonTracker`: Wialon IPS 2.0 over TCP, ``#L#`` with the IMEI and password, then a
  ``#D#`` line per live fix and a ``#B#`` black box for stored fixes, every answer checked;
- :class:`TeltonikaTracker`: the IMEI handshake, then a Codec 8 AVL packet per batch (cut to
  the protocol's 1,280 bytes), each acknowledged with its record count;
- :class:`MqttSeal`: the seal JSON published with QoS 1 on its operator's topic, logged in
  with the operator's broker credentials when given.

``send(address, fixes)`` connects, names the device, sends the fixes in batches and hangs up,
returning a :class:`Delivery` (how many fixes the listener acknowledged, which it refused).
A refused identity or password raises :class:`DeviceRefused`, a listener that does not answer
in time or hangs up :class:`NoAnswer`, an answer the protocol does not allow :class:`BadAnswer`.

Seal events travel where the listeners read them (:mod:`silkway.seals.domain.signals`): EGTS in
POS_DATA's SRC (02 housing opened, 04 malfunction), Wialon IPS as ``#D#`` parameters and MQTT
in ``events`` (01, 02, 04, 07). Teltonika has no IO element the node reads as a seal event, so
a Teltonika tracker carries none; a fix with an event a device cannot carry is refused before
anything is sent (:class:`EventNotCarried`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Protocol

import aiomqtt

from silkway.seals.devices import egts, teltonika, wialon
from silkway.seals.devices.egts import PacketType, ResultCode, Service, SubrecordType
from silkway.seals.devices.egts.frames import RecordResponse
from silkway.seals.devices.records import DecodeError
from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.signals import EGTS_SOURCE_EVENTS, GENERIC_EVENT_NAMES
from silkway.sim.track import Fix

__all__ = [
    "Address",
    "BadAnswer",
    "Delivery",
    "Device",
    "DeviceError",
    "DeviceRefused",
    "EgtsTerminal",
    "EventNotCarried",
    "MqttSeal",
    "NoAnswer",
    "Rejection",
    "TeltonikaTracker",
    "WialonTracker",
]

Address = tuple[str, int]

DEFAULT_TIMEOUT_S = 10.0
"""How long a device waits for each answer before it gives up (:class:`NoAnswer`)."""

_EVENT_NAMES: Mapping[IncidentCode, str] = MappingProxyType(
    {code: name for name, code in GENERIC_EVENT_NAMES.items()}
)
_EGTS_SOURCES: Mapping[IncidentCode, int] = MappingProxyType(
    {
        code: min(source for source, c in EGTS_SOURCE_EVENTS.items() if c is code)
        for code in set(EGTS_SOURCE_EVENTS.values())
    }
)
_TELTONIKA_OVERHEAD = len(teltonika.encode_avl_packet([]))
"""Preamble, data length, codec, both record counts and CRC of an AVL packet."""
_READ_BYTES = 65_536


# --- what a device reports -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejection:
    """Fixes the listener answered but did not take: ``count`` of them from index ``first`` of
    the fixes sent, with the listener's answer as the protocol writes it."""

    first: int
    count: int
    answer: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one ``send``."""

    protocol: str
    device_id: str
    sent: int
    """Fixes put on the wire."""
    acknowledged: int
    """Fixes the listener (for MQTT: the broker) acknowledged."""
    packets: int
    rejections: tuple[Rejection, ...] = ()


class DeviceError(Exception):
    """A send that could not finish; ``acknowledged`` fixes had been acknowledged before."""

    def __init__(self, protocol: str, device_id: str, reason: str, *, acknowledged: int) -> None:
        super().__init__(f"{protocol} device {device_id}: {reason}")
        self.protocol = protocol
        self.device_id = device_id
        self.reason = reason
        self.acknowledged = acknowledged


class DeviceRefused(DeviceError):
    """The listener (or broker) refused the device's identity or password: ``answer`` is its
    refusal as the protocol writes it (``#AL#0``, ``00``, an EGTS result code…)."""

    def __init__(self, protocol: str, device_id: str, answer: str, reason: str) -> None:
        super().__init__(protocol, device_id, f"refused ({answer}): {reason}", acknowledged=0)
        self.answer = answer


class NoAnswer(DeviceError):
    """The listener did not answer in time, could not be reached, or hung up unanswered."""


class BadAnswer(DeviceError):
    """The listener answered something the protocol does not allow at that point."""


class EventNotCarried(ValueError):
    """A fix holds a seal event the device's protocol has no way to report."""


class Device(Protocol):
    """An emulated seal of one protocol."""

    protocol: ClassVar[str]
    events: ClassVar[frozenset[IncidentCode]]
    """The seal events this device can report."""

    @property
    def device_id(self) -> str: ...

    async def send(self, address: Address, fixes: Sequence[Fix]) -> Delivery:
        """Connect to ``address``, send ``fixes`` in batches, hang up."""
        ...


def _check_batch_size(protocol: str, batch_size: int, limit: int) -> int:
    if not 1 <= batch_size <= limit:
        raise ValueError(f"{protocol}: batch_size {batch_size} must be 1 to {limit}")
    return batch_size


def _check_events(protocol: str, carried: frozenset[IncidentCode], fixes: Sequence[Fix]) -> None:
    for index, fix in enumerate(fixes):
        missing = fix.events - carried
        if missing:
            names = ", ".join(sorted(code.value for code in missing))
            can = ", ".join(sorted(code.value for code in carried)) or "none"
            raise EventNotCarried(
                f"{protocol}: fix {index} ({fix.time.isoformat()}) reports {names}; this"
                f" protocol carries {can}"
            )


def _batches(fixes: Sequence[Fix], size: int) -> list[tuple[int, Sequence[Fix]]]:
    return [(start, fixes[start : start + size]) for start in range(0, len(fixes), size)]


# --- TCP -----------------------------------------------------------------------------------------


class _Connection:
    """One TCP connection of a device, every wait bounded."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeout_s: float,
        protocol: str,
        device_id: str,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout_s = timeout_s
        self.protocol = protocol
        self.device_id = device_id
        self.acknowledged = 0
        self.buffer = b""

    @classmethod
    async def open(
        cls, address: Address, timeout_s: float, protocol: str, device_id: str
    ) -> _Connection:
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(*address)
        except (OSError, TimeoutError) as error:
            raise NoAnswer(
                protocol,
                device_id,
                f"cannot connect to {address[0]}:{address[1]}: {error!r}",
                acknowledged=0,
            ) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, timeout_s, protocol, device_id)

    def fail(self, kind: type[DeviceError], reason: str) -> DeviceError:
        return kind(self.protocol, self.device_id, reason, acknowledged=self.acknowledged)

    async def write(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            async with asyncio.timeout(self.timeout_s):
                await self.writer.drain()
        except (ConnectionError, TimeoutError) as error:
            raise self.fail(NoAnswer, f"the listener stopped reading: {error!r}") from None

    async def more(self, waiting_for: str) -> None:
        """Read what the listener sent next into ``buffer``; ``NoAnswer`` when it hung up."""
        try:
            async with asyncio.timeout(self.timeout_s):
                chunk = await self.reader.read(_READ_BYTES)
        except TimeoutError:
            raise self.fail(
                NoAnswer, f"no answer to {waiting_for} within {self.timeout_s} s"
            ) from None
        except ConnectionError as error:
            raise self.fail(
                NoAnswer, f"connection lost awaiting {waiting_for}: {error!r}"
            ) from None
        if not chunk:
            raise self.fail(NoAnswer, f"the listener hung up without answering {waiting_for}")
        self.buffer += chunk

    async def exactly(self, size: int, waiting_for: str) -> bytes:
        while len(self.buffer) < size:
            await self.more(waiting_for)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    async def line(self, waiting_for: str) -> str:
        while b"\n" not in self.buffer:
            await self.more(waiting_for)
        raw, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return raw.decode("ascii").removesuffix("\r")
        except UnicodeDecodeError:
            raise self.fail(BadAnswer, f"answer to {waiting_for} is not ASCII: {raw!r}") from None

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


# --- EGTS ----------------------------------------------------------------------------------------


class EgtsTerminal:
    """An EGTS terminal named by its IMEI (and terminal id) in TERM_IDENTITY."""

    protocol: ClassVar[str] = "egts"
    events: ClassVar[frozenset[IncidentCode]] = frozenset(_EGTS_SOURCES)

    def __init__(
        self,
        imei: str,
        *,
        terminal_id: int = 1,
        batch_size: int = 20,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.imei = imei
        self.terminal_id = terminal_id
        self.batch_size = _check_batch_size(self.protocol, batch_size, 1000)
        self.timeout_s = timeout_s
        self._pid = 0
        self._rn = 0

    @property
    def device_id(self) -> str:
        return self.imei

    async def send(self, address: Address, fixes: Sequence[Fix]) -> Delivery:
        _check_events(self.protocol, self.events, fixes)
        for index, fix in enumerate(fixes):
            if len(fix.events) > 1:
                raise EventNotCarried(
                    f"egts: fix {index} ({fix.time.isoformat()}) reports {len(fix.events)}"
                    " events; POS_DATA carries one reason (SRC) per fix"
                )
        link = await _Connection.open(address, self.timeout_s, self.protocol, self.device_id)
        try:
            await self._authenticate(link)
            rejections: list[Rejection] = []
            packets = 0
            for start, batch in _batches(fixes, self.batch_size):
                rejections += await self._positions(link, start, batch)
                packets += 1
        finally:
            await link.close()
        return Delivery(
            self.protocol, self.device_id, len(fixes), link.acknowledged, packets, tuple(rejections)
        )

    def _next_pid(self) -> int:
        pid, self._pid = self._pid, (self._pid + 1) & 0xFFFF
        return pid

    def _next_rn(self) -> int:
        self._rn = (self._rn + 1) & 0xFFFF
        return self._rn

    async def _frame(self, link: _Connection, waiting_for: str) -> egts.EgtsPacket:
        """The next frame the listener sends, decoded."""
        while True:
            try:
                frames, rest = egts.split_frames(link.buffer)
            except DecodeError as error:
                raise link.fail(BadAnswer, f"answer to {waiting_for}: {error.reason}") from None
            if frames:
                link.buffer = b"".join(frames[1:]) + rest
                try:
                    return egts.decode_packet(frames[0])
                except DecodeError as error:
                    raise link.fail(BadAnswer, f"answer to {waiting_for}: {error.reason}") from None
            await link.more(waiting_for)

    async def _response(self, link: _Connection, pid: int, what: str) -> egts.EgtsPacket:
        """The PT=0 response to our packet ``pid``; the listener's own packets are confirmed."""
        while True:
            packet = await self._frame(link, what)
            if packet.pt == PacketType.RESPONSE:
                if packet.rpid != pid:
                    raise link.fail(
                        BadAnswer, f"response to packet {packet.rpid} while awaiting {pid}"
                    )
                return packet
            await self._confirm(link, packet)

    async def _confirm(self, link: _Connection, packet: egts.EgtsPacket) -> None:
        confirmations = [
            egts.encode_record(
                self._next_rn(),
                [egts.encode_record_response(record.rn, ResultCode.OK)],
                sst=record.rst,
                rst=record.sst,
            )
            for record in packet.records
        ]
        await link.write(
            egts.encode_packet(
                self._next_pid(), confirmations, pt=PacketType.RESPONSE, rpid=packet.pid
            )
        )

    async def _authenticate(self, link: _Connection) -> None:
        identity = egts.encode_term_identity(self.terminal_id, imei=self.imei)
        pid, rn = self._next_pid(), self._next_rn()
        await link.write(
            egts.encode_packet(pid, [egts.encode_record(rn, [identity], sst=Service.AUTH)])
        )
        answer = await self._response(link, pid, "TERM_IDENTITY")
        status = _record_statuses(answer).get(rn)
        if answer.pr != ResultCode.OK or status != ResultCode.OK:
            code = answer.pr if answer.pr != ResultCode.OK else status
            raise DeviceRefused(
                self.protocol, self.device_id, _egts_code(code), "TERM_IDENTITY not confirmed"
            )
        verdict = await self._frame(link, "TERM_IDENTITY (RESULT_CODE)")
        result = _result_code(verdict)
        if result is None:
            raise link.fail(BadAnswer, "no RESULT_CODE after TERM_IDENTITY")
        if result != ResultCode.OK:
            raise DeviceRefused(
                self.protocol, self.device_id, _egts_code(result), f"IMEI {self.imei} not admitted"
            )
        await self._confirm(link, verdict)

    async def _positions(
        self, link: _Connection, start: int, batch: Sequence[Fix]
    ) -> list[Rejection]:
        numbers = [self._next_rn() for _ in batch]
        records = [
            egts.encode_record(
                rn,
                [
                    egts.encode_pos_data(
                        fix.time,
                        fix.lat,
                        fix.lon,
                        speed_kmh=fix.speed_kmh,
                        course=fix.course,
                        stored=fix.stored,
                        moving=fix.speed_kmh > 0,
                        source=next((_EGTS_SOURCES[e] for e in fix.events), 0),
                    )
                ],
            )
            for rn, fix in zip(numbers, batch, strict=True)
        ]
        pid = self._next_pid()
        await link.write(egts.encode_packet(pid, records))
        answer = await self._response(link, pid, f"packet {pid}")
        if answer.pr != ResultCode.OK:
            return [Rejection(start, len(batch), _egts_code(answer.pr))]
        statuses = _record_statuses(answer)
        rejections = []
        for offset, rn in enumerate(numbers):
            status = statuses.get(rn)
            if status == ResultCode.OK:
                link.acknowledged += 1
            else:
                answer_text = "unconfirmed" if status is None else _egts_code(status)
                rejections.append(Rejection(start + offset, 1, answer_text))
        return rejections


def _record_statuses(packet: egts.EgtsPacket) -> dict[int, int]:
    """Confirmed record number → its status, from a response's RECORD_RESPONSE subrecords."""
    return {
        sub.value.crn: sub.value.rst
        for record in packet.records
        for sub in record.subrecords
        if sub.srt == SubrecordType.RECORD_RESPONSE and isinstance(sub.value, RecordResponse)
    }


def _result_code(packet: egts.EgtsPacket) -> int | None:
    for record in packet.records:
        for sub in record.subrecords:
            if sub.srt == SubrecordType.RESULT_CODE and isinstance(sub.value, int):
                return sub.value
    return None


def _egts_code(code: int | None) -> str:
    if code is None:
        return "no result"
    try:
        return f"{code} {ResultCode(code).name}"
    except ValueError:
        return str(code)


# --- Wialon IPS ----------------------------------------------------------------------------------


class WialonTracker:
    """A Wialon IPS 2.0 tracker logging in with its IMEI and, when it has one, its password."""

    protocol: ClassVar[str] = "wialon"
    events: ClassVar[frozenset[IncidentCode]] = frozenset(_EVENT_NAMES)

    def __init__(
        self,
        imei: str,
        password: str | None = None,
        *,
        batch_size: int = 20,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.imei = imei
        self.password = password
        self.batch_size = _check_batch_size(self.protocol, batch_size, 500)
        self.timeout_s = timeout_s

    @property
    def device_id(self) -> str:
        return self.imei

    async def send(self, address: Address, fixes: Sequence[Fix]) -> Delivery:
        _check_events(self.protocol, self.events, fixes)
        link = await _Connection.open(address, self.timeout_s, self.protocol, self.device_id)
        try:
            await self._login(link)
            rejections: list[Rejection] = []
            packets = 0
            for start, batch in _batches(fixes, self.batch_size):
                for first, run in _runs(start, batch):
                    if run[0].stored:
                        rejections += await self._black_box(link, first, run)
                        packets += 1
                    else:
                        rejections += await self._live(link, first, run)
                        packets += len(run)
        finally:
            await link.close()
        return Delivery(
            self.protocol, self.device_id, len(fixes), link.acknowledged, packets, tuple(rejections)
        )

    async def _login(self, link: _Connection) -> None:
        await link.write(wialon.encode_login(self.imei, self.password or "NA").encode("ascii"))
        answer = await link.line("#L#")
        if answer == f"#AL#{wialon.LOGIN_OK}":
            return
        if answer == f"#AL#{wialon.LOGIN_REJECTED}":
            raise DeviceRefused(self.protocol, self.device_id, answer, "unit not admitted")
        if answer == f"#AL#{wialon.LOGIN_PASSWORD}":
            raise DeviceRefused(self.protocol, self.device_id, answer, "password refused")
        raise link.fail(BadAnswer, f"login answered {answer!r}")

    async def _live(self, link: _Connection, start: int, run: Sequence[Fix]) -> list[Rejection]:
        await link.write("".join(wialon.encode_d(_d_body(f)) for f in run).encode("ascii"))
        rejections = []
        for offset in range(len(run)):
            answer = await link.line(f"#D# of fix {start + offset}")
            code = answer.removeprefix("#AD#")
            if code == answer:
                raise link.fail(BadAnswer, f"#D# answered {answer!r}")
            if code == wialon.ACCEPTED:
                link.acknowledged += 1
            else:
                rejections.append(Rejection(start + offset, 1, answer))
        return rejections

    async def _black_box(
        self, link: _Connection, start: int, run: Sequence[Fix]
    ) -> list[Rejection]:
        await link.write(wialon.encode_black_box([_d_body(f) for f in run]).encode("ascii"))
        answer = await link.line(f"#B# of fixes {start}-{start + len(run) - 1}")
        count = answer.removeprefix("#AB#")
        if count == answer or not (count == "" or count.isdigit()) or int(count or 0) > len(run):
            raise link.fail(BadAnswer, f"#B# of {len(run)} records answered {answer!r}")
        taken = int(count or 0)
        link.acknowledged += taken
        return [] if taken == len(run) else [Rejection(start, len(run) - taken, answer)]


def _runs(start: int, batch: Sequence[Fix]) -> list[tuple[int, Sequence[Fix]]]:
    """The batch cut where fixes change between live and stored."""
    runs: list[tuple[int, Sequence[Fix]]] = []
    first = 0
    for i in range(1, len(batch) + 1):
        if i == len(batch) or batch[i].stored != batch[first].stored:
            runs.append((start + first, batch[first:i]))
            first = i
    return runs


def _d_body(fix: Fix) -> str:
    return wialon.d_body(
        fix.time,
        fix.lat,
        fix.lon,
        speed_kmh=fix.speed_kmh,
        course=fix.course,
        satellites=fix.satellites,
        params={_EVENT_NAMES[e]: 1 for e in sorted(fix.events)},
    )


# --- Teltonika -----------------------------------------------------------------------------------


class TeltonikaTracker:
    """A Teltonika tracker: IMEI handshake, then Codec 8 AVL packets."""

    protocol: ClassVar[str] = "teltonika"
    events: ClassVar[frozenset[IncidentCode]] = frozenset()

    def __init__(
        self, imei: str, *, batch_size: int = 20, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.imei = imei
        self.batch_size = _check_batch_size(self.protocol, batch_size, 255)
        self.timeout_s = timeout_s

    @property
    def device_id(self) -> str:
        return self.imei

    async def send(self, address: Address, fixes: Sequence[Fix]) -> Delivery:
        _check_events(self.protocol, self.events, fixes)
        link = await _Connection.open(address, self.timeout_s, self.protocol, self.device_id)
        try:
            await link.write(teltonika.encode_imei_handshake(self.imei))
            verdict = await link.exactly(1, "the IMEI handshake")
            if verdict == teltonika.IMEI_REJECT:
                raise DeviceRefused(
                    self.protocol, self.device_id, verdict.hex(), f"IMEI {self.imei} not admitted"
                )
            if verdict != teltonika.IMEI_ACCEPT:
                raise link.fail(BadAnswer, f"handshake answered {verdict.hex()}")
            rejections: list[Rejection] = []
            packets = 0
            for start, batch in _batches(fixes, self.batch_size):
                for first, records in _packets(start, [_avl_record(f) for f in batch]):
                    await link.write(teltonika.encode_avl_packet(records))
                    ack = await link.exactly(4, f"the AVL packet of fixes from {first}")
                    taken = int.from_bytes(ack, "big")
                    if taken > len(records):
                        raise link.fail(
                            BadAnswer, f"{len(records)} records acknowledged as {taken}"
                        )
                    link.acknowledged += taken
                    if taken < len(records):
                        rejections.append(Rejection(first + taken, len(records) - taken, ack.hex()))
                    packets += 1
        finally:
            await link.close()
        return Delivery(
            self.protocol, self.device_id, len(fixes), link.acknowledged, packets, tuple(rejections)
        )


def _avl_record(fix: Fix) -> teltonika.AvlRecord:
    moving = fix.speed_kmh > 0
    return teltonika.AvlRecord(
        time=fix.time,
        lat=fix.lat,
        lon=fix.lon,
        angle=fix.course,
        satellites=fix.satellites,
        speed_kmh=round(fix.speed_kmh),
        io={240: (1, int(moving))},
    )


def _packets(
    start: int, records: Sequence[teltonika.AvlRecord]
) -> list[tuple[int, Sequence[teltonika.AvlRecord]]]:
    """The records cut into packets of at most ``teltonika.MAX_PACKET_BYTES``."""
    sizes = [len(teltonika.encode_avl_packet([r])) - _TELTONIKA_OVERHEAD for r in records]
    packets: list[tuple[int, Sequence[teltonika.AvlRecord]]] = []
    first, total = 0, _TELTONIKA_OVERHEAD
    for i, size in enumerate(sizes):
        if i > first and total + size > teltonika.MAX_PACKET_BYTES:
            packets.append((start + first, records[first:i]))
            first, total = i, _TELTONIKA_OVERHEAD
        total += size
    if first < len(records):
        packets.append((start + first, records[first:]))
    return packets


# --- MQTT ----------------------------------------------------------------------------------------


class MqttSeal:
    """A seal publishing the seal JSON on ``{prefix}/{operator}/seals/{seal_id}/telemetry``."""

    protocol: ClassVar[str] = "mqtt"
    events: ClassVar[frozenset[IncidentCode]] = frozenset(_EVENT_NAMES)

    def __init__(
        self,
        seal_id: str,
        operator: str,
        *,
        username: str | None = None,
        password: str | None = None,
        topic_prefix: str = "silkway",
        batch_size: int = 20,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.seal_id = seal_id
        self.operator = operator
        self.username = username
        self._password = password
        self.topic = f"{topic_prefix}/{operator}/seals/{seal_id}/telemetry"
        self.batch_size = _check_batch_size(self.protocol, batch_size, 1000)
        self.timeout_s = timeout_s

    @property
    def device_id(self) -> str:
        return self.seal_id

    async def send(self, address: Address, fixes: Sequence[Fix]) -> Delivery:
        _check_events(self.protocol, self.events, fixes)
        client = aiomqtt.Client(
            *address,
            username=self.username,
            password=self._password,
            identifier=f"{self.seal_id}-{uuid.uuid4().hex[:8]}",
            timeout=self.timeout_s,
        )
        acknowledged = packets = 0
        connected = False
        try:
            async with client:
                connected = True
                for _start, batch in _batches(fixes, self.batch_size):
                    payload = json.dumps([_seal_json(f) for f in batch]).encode("utf-8")
                    await client.publish(self.topic, payload, qos=1)
                    acknowledged += len(batch)
                    packets += 1
        except aiomqtt.MqttCodeError as error:
            if not connected:  # a negative CONNACK: the broker refused the login
                user = self.username or "(anonymous)"
                raise DeviceRefused(
                    self.protocol, self.device_id, str(error), f"broker refused {user}"
                ) from None
            raise NoAnswer(
                self.protocol, self.device_id, f"broker: {error}", acknowledged=acknowledged
            ) from None
        except aiomqtt.MqttError as error:
            raise NoAnswer(
                self.protocol, self.device_id, f"broker: {error}", acknowledged=acknowledged
            ) from None
        return Delivery(self.protocol, self.device_id, len(fixes), acknowledged, packets)


def _seal_json(fix: Fix) -> dict[str, object]:
    fields: dict[str, object] = {
        "time": fix.time.isoformat().replace("+00:00", "Z"),
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "course": fix.course,
        "satellites": fix.satellites,
    }
    if fix.stored:
        fields["stored"] = True
    if fix.events:
        fields["events"] = [_EVENT_NAMES[e] for e in sorted(fix.events)]
    return fields
