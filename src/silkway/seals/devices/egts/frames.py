"""EGTS frame contents as values: result codes, packet, service and subrecord types, records, and
the binary layouts they are read with.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np

from silkway.seals.devices.records import (
    DecodeError,
    Position,
)

PROTOCOL = "egts"


NTM_EPOCH = datetime(2010, 1, 1, tzinfo=UTC)


MAX_NTM = (datetime(9999, 1, 1, tzinfo=UTC) - NTM_EPOCH).days * 86400


class ResultCode(IntEnum):
    """EGTS processing result codes (GOST 33472-2015, appendix B) used by this decoder."""

    OK = 0
    UNS_PROTOCOL = 128
    DECRYPT_ERROR = 129
    INC_HEADERFORM = 131
    INC_DATAFORM = 132
    UNS_TYPE = 133
    HEADERCRC_ERROR = 137
    DATACRC_ERROR = 138
    INVDATALEN = 139
    AUTH_DENIED = 151
    """Authorisation refused: a terminal sending data before it named itself."""
    ID_NFOUND = 153
    """Identity not found: a terminal that is not a registered device."""
    INC_DATETIME = 154


class PacketType(IntEnum):
    """Transport packet types (PT)."""

    RESPONSE = 0
    APPDATA = 1
    SIGNED_APPDATA = 2


class Service(IntEnum):
    """Services addressed by SST/RST."""

    AUTH = 1
    TELEDATA = 2
    COMMANDS = 4


class SubrecordType(IntEnum):
    """Subrecord types (SRT) this module decodes; others are kept as raw bytes."""

    RECORD_RESPONSE = 0
    TERM_IDENTITY = 1
    RESULT_CODE = 9
    POS_DATA = 16
    EXT_POS_DATA = 17
    AD_SENSORS_DATA = 18


@dataclass(frozen=True, slots=True)
class Route:
    """Routing fields present when RTE=1."""

    pra: int
    rca: int
    ttl: int


@dataclass(frozen=True, slots=True)
class TermIdentity:
    """EGTS_SR_TERM_IDENTITY: who the terminal says it is."""

    tid: int
    imei: str | None = None
    imsi: str | None = None
    hdid: int | None = None
    language: str | None = None
    network_id: int | None = None
    buffer_size: int | None = None
    msisdn: str | None = None
    ssra: bool = False


@dataclass(frozen=True, slots=True)
class RecordResponse:
    """EGTS_SR_RECORD_RESPONSE: confirmation of record ``crn`` with status ``rst``."""

    crn: int
    rst: int


@dataclass(frozen=True, slots=True)
class ExtPosData:
    """EGTS_SR_EXT_POS_DATA: dilution of precision (units of 0.1 on the wire) and satellites."""

    vdop: float | None = None
    hdop: float | None = None
    pdop: float | None = None
    satellites: int | None = None
    navigation_systems: int | None = None


@dataclass(frozen=True, slots=True)
class AdSensorsData:
    """EGTS_SR_AD_SENSORS_DATA: extra digital input octets, outputs and analog inputs."""

    digital_inputs: Mapping[int, int]
    digital_outputs: int
    analog_inputs: Mapping[int, int]


SubrecordValue = TermIdentity | RecordResponse | ExtPosData | AdSensorsData | Position | int


@dataclass(frozen=True, slots=True)
class Subrecord:
    """One subrecord: its type, raw data and the decoded value when the type is known."""

    srt: int
    data: bytes
    value: SubrecordValue | None = None


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One service data record; ``result`` is 0 when accepted, else the EGTS result code."""

    rn: int
    sst: int
    rst: int
    subrecords: tuple[Subrecord, ...]
    oid: int | None = None
    evid: int | None = None
    time: datetime | None = None
    result: int = ResultCode.OK
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EgtsPacket:
    """A decoded transport packet; ``positions`` come from accepted records only."""

    pid: int
    pt: int
    skid: int
    priority: int
    records: tuple[ServiceRecord, ...]
    positions: tuple[Position, ...]
    route: Route | None = None
    rpid: int | None = None
    pr: int | None = None

    @property
    def identity(self) -> TermIdentity | None:
        """The first TERM_IDENTITY carried by the packet, if any."""
        return find_identity(self.records)

    @property
    def rejected(self) -> tuple[ServiceRecord, ...]:
        """Records not accepted, each with its result code and reason."""
        return tuple(r for r in self.records if r.result != ResultCode.OK)


HEADER = struct.Struct("<BBBBBHHB")


ROUTE = struct.Struct("<HHB")


RECORD_HEAD = struct.Struct("<HHB")


SUBRECORD_HEAD = struct.Struct("<BH")


U16 = struct.Struct("<H")


U32 = struct.Struct("<I")


RESPONSE_HEAD = struct.Struct("<HB")


# The fixed part of POS_DATA in wire order, read by struct (one fix) and numpy (many) alike.
_POS_LAYOUT = (
    ("ntm", "I"),  # seconds since 2010-01-01 UTC
    ("lat", "I"),  # |latitude| / 90 * 0xFFFFFFFF
    ("lon", "I"),  # |longitude| / 180 * 0xFFFFFFFF
    ("flg", "B"),
    ("spd", "H"),  # speed in 0.1 km/h (14 bits), ALTS, DIRH
    ("dir", "B"),  # course, low 8 bits
    ("odm", "3s"),  # odometer in 0.1 km
    ("din", "B"),
    ("src", "B"),
)


_NUMPY_FORMAT: dict[str, tuple[str] | tuple[str, tuple[int]]] = {
    "I": ("<u4",),
    "H": ("<u2",),
    "B": ("u1",),
    "3s": ("u1", (3,)),
}


POS = struct.Struct("<" + "".join(code for _, code in _POS_LAYOUT))


POS_DTYPE = np.dtype([(name, *_NUMPY_FORMAT[code]) for name, code in _POS_LAYOUT])


ALT_LEN = 3


SRCD_LEN = 2


POS_MAX_LEN = POS.size + ALT_LEN + SRCD_LEN


SRT_POS_DATA = int(SubrecordType.POS_DATA)


SRT_EXT_POS_DATA = int(SubrecordType.EXT_POS_DATA)


SHORT_HEADER_LEN = 11


ROUTED_HEADER_LEN = 16


FLG_VLD, FLG_CS, FLG_FIX, FLG_BB, FLG_MV, FLG_LAHS, FLG_LOHS, FLG_ALTE = (
    1 << bit for bit in range(8)
)


SPD_ALTS = 1 << 14


SPD_DIRH = 1 << 15


LAT_SCALE = 90.0 / 0xFFFFFFFF


LON_SCALE = 180.0 / 0xFFFFFFFF


def fail(reason: str, code: int) -> DecodeError:
    return DecodeError(PROTOCOL, reason, code)


def find_identity(records: Sequence[ServiceRecord]) -> TermIdentity | None:
    for record in records:
        for subrecord in record.subrecords:
            if isinstance(subrecord.value, TermIdentity):
                return subrecord.value
    return None
