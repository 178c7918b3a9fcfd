"""Wialon IPS 1.1 / 2.0 text protocol: line handling, answers, decoders and builders.

Answer codes follow the published protocol. ``#ASD#``: -1 structure, 0 time, 1 accepted,
10 coordinates, 11 speed/course/height, 12 satellites, 13 checksum. ``#AD#`` shares the codes up
to 12 (12 also covers HDOP) and continues with 13 inputs/outputs, 14 ADC, 15 parameters and
16 checksum: a tracker reads ``#AD#13`` as an input/output error, so the checksum failure of an
extended packet is answered with 16. ``#AB#`` carries the number of records accepted, and is sent
empty when the black box checksum fails.

Data before login: a line without a prior successful ``#L#`` (and without the ``2.0;IMEI``
prefix that identifies UDP and v2 packets) raises ``DecodeError`` with no code. The connection
should be closed without an answer, so that the tracker keeps its data, logs in again and resends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from silkway.seals.devices.crc import crc16_arc
from silkway.seals.devices.records import (
    DecodeError,
    IoValue,
    Position,
    check_altitude,
    check_course,
    check_satellites,
    check_speed,
    check_time,
)

__all__ = [
    "Login",
    "WialonSession",
    "d_body",
    "decode_d",
    "decode_lines",
    "decode_login",
    "decode_sd",
    "encode_black_box",
    "encode_d",
    "encode_login",
    "encode_ping",
    "encode_sd",
    "packet_parts",
    "prefix_unit",
    "sd_body",
    "wialon_crc",
]

PROTOCOL = "wialon"
Kind = Literal["SD", "D"]

STRUCTURE = "-1"
TIME = "0"
ACCEPTED = "1"
COORDINATES = "10"
MOTION = "11"
SATELLITES = "12"
SD_CHECKSUM = "13"
INPUTS_OUTPUTS = "13"
ADC = "14"
PARAMS = "15"
D_CHECKSUM = "16"
# The checksum failure of a black box is answered with an empty count: "#AB#".
BLACK_BOX_CHECKSUM = ""
LOGIN_OK = "1"
LOGIN_REJECTED = "0"
LOGIN_PASSWORD = "01"
LOGIN_CHECKSUM = "10"

_SD_FIELDS = 10
_D_FIELDS = 16
_INT = re.compile(r"[0-9]+", re.ASCII)
_SIGNED_INT = re.compile(r"-?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_SIGNED_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_DATE = re.compile(r"[0-9]{6}", re.ASCII)
_TIME = re.compile(r"([0-9]{6})(?:\.([0-9]{1,9}))?", re.ASCII)
_CRC = re.compile(r"[0-9A-Fa-f]{4}", re.ASCII)
_UNIT_ID = re.compile(r"[0-9A-Za-z_.\-]{1,32}", re.ASCII)
_VERSION = re.compile(r"2\.[0-9]", re.ASCII)
_PARAM_NAME = re.compile(r"[^:,;|#]+")
_NA = "NA"


def _fail(reason: str, code: str | None) -> DecodeError:
    return DecodeError(PROTOCOL, reason, code)


def wialon_crc(text: str) -> str:
    """CRC-16/ARC of ``text`` as the 4 uppercase hex digits Wialon IPS 2.0 writes."""
    return f"{crc16_arc(text.encode('utf-8', 'surrogatepass')):04X}"


def _check_crc(covered: str, written: str, code: str) -> None:
    if not _CRC.fullmatch(written):
        raise _fail(f"checksum field {written!r} is not 4 hex digits", code)
    expected = wialon_crc(covered)
    if written.upper() != expected:
        raise _fail(f"checksum {written}, computed {expected}", code)


# ---------------------------------------------------------------------------------------------
# Field decoding


def _decode_time(date: str, time: str, now: datetime | None) -> datetime:
    if date == _NA and time == _NA:
        # The protocol lets the server stamp such a message with its own clock.
        if now is None:
            raise _fail("date and time are NA and no server time is given", TIME)
        return now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    clock = _TIME.fullmatch(time)
    if not _DATE.fullmatch(date) or clock is None:
        raise _fail(f"bad date/time {date!r} {time!r}", TIME)
    hms, fraction = clock.group(1), clock.group(2) or ""
    millis = int((fraction + "000")[:3])
    try:
        stamp = datetime(
            2000 + int(date[4:6]),
            int(date[2:4]),
            int(date[0:2]),
            int(hms[0:2]),
            int(hms[2:4]),
            int(hms[4:6]),
            millis * 1000,
            tzinfo=UTC,
        )
    except ValueError:
        raise _fail(f"impossible date/time {date!r} {time!r}", TIME) from None
    check_time(PROTOCOL, stamp, now, TIME)
    return stamp


def _degrees(text: str, hemisphere: str, positive: str, negative: str, limit: float) -> float:
    if not _NUMBER.fullmatch(text) or hemisphere not in (positive, negative):
        raise _fail(f"bad coordinate {text!r} {hemisphere!r}", COORDINATES)
    value = float(text)
    degrees = int(value // 100)
    minutes = value - degrees * 100
    if minutes >= 60:
        raise _fail(f"coordinate {text!r} has {minutes:.4f} minutes", COORDINATES)
    result = degrees + minutes / 60
    if result > limit:
        raise _fail(f"absurd value: coordinate {text}{hemisphere}", COORDINATES)
    return -result if hemisphere == negative else result


def _optional(text: str, pattern: re.Pattern[str], name: str, code: str) -> str | None:
    if text == _NA:
        return None
    if not pattern.fullmatch(text):
        raise _fail(f"bad {name} {text!r}", code)
    return text


def _decode_fields(
    fields: Sequence[str],
    kind: Kind,
    *,
    device_id: str | None,
    now: datetime | None,
    stored: bool,
) -> Position:
    expected = _SD_FIELDS if kind == "SD" else _D_FIELDS
    if len(fields) != expected:
        raise _fail(f"{kind} packet has {len(fields)} fields, expected {expected}", STRUCTURE)
    time = _decode_time(fields[0], fields[1], now)
    coordinates = fields[2:6]
    if all(f == _NA for f in coordinates):
        lat = lon = 0.0
        valid = False
    elif _NA in coordinates:
        raise _fail("coordinates are partly NA", COORDINATES)
    else:
        lat = _degrees(fields[2], fields[3], "N", "S", 90.0)
        lon = _degrees(fields[4], fields[5], "E", "W", 180.0)
        valid = True
    speed_text = _optional(fields[6], _NUMBER, "speed", MOTION)
    course_text = _optional(fields[7], _NUMBER, "course", MOTION)
    height_text = _optional(fields[8], _SIGNED_NUMBER, "height", MOTION)
    speed = None if speed_text is None else float(speed_text)
    course = None if course_text is None else round(float(course_text))
    altitude = None if height_text is None else float(height_text)
    check_speed(PROTOCOL, speed, MOTION)
    check_course(PROTOCOL, course, MOTION)
    check_altitude(PROTOCOL, altitude, MOTION)
    sats_text = _optional(fields[9], _INT, "satellite count", SATELLITES)
    satellites = None if sats_text is None else int(sats_text)
    check_satellites(PROTOCOL, satellites, SATELLITES)
    io = _decode_extended(fields[10:]) if kind == "D" else {}
    return Position(
        device_id=device_id,
        time=time,
        lat=lat,
        lon=lon,
        speed_kmh=speed,
        course=course,
        altitude_m=altitude,
        satellites=satellites,
        valid=valid,
        stored=stored,
        io=io,
        protocol=PROTOCOL,
    )


def _decode_extended(fields: Sequence[str]) -> dict[str, IoValue]:
    hdop, inputs, outputs, adc, ibutton, params = fields
    io: dict[str, IoValue] = {}
    hdop_text = _optional(hdop, _NUMBER, "hdop", SATELLITES)
    if hdop_text is not None:
        io["hdop"] = float(hdop_text)
    for name, text in (("inputs", inputs), ("outputs", outputs)):
        value = _optional(text, _INT, name, INPUTS_OUTPUTS)
        if value is not None:
            io[name] = int(value)
    if adc not in ("", _NA):
        for number, item in enumerate(adc.split(","), start=1):
            if not _SIGNED_NUMBER.fullmatch(item):
                raise _fail(f"bad ADC value {item!r}", ADC)
            io[f"adc{number}"] = float(item)
    if ibutton != _NA:
        io["ibutton"] = ibutton
    if params not in ("", _NA):
        io.update(_decode_params(params))
    return io


def _decode_params(params: str) -> dict[str, IoValue]:
    io: dict[str, IoValue] = {}
    for item in params.split(","):
        parts = item.split(":", 2)
        if len(parts) != 3 or not _PARAM_NAME.fullmatch(parts[0]):
            raise _fail(f"parameter {item!r} is not NAME:TYPE:VALUE", PARAMS)
        name, kind, value = parts
        if kind == "1" and _SIGNED_INT.fullmatch(value):
            io[name] = int(value)
        elif kind == "2" and _SIGNED_NUMBER.fullmatch(value):
            io[name] = float(value)
        elif kind == "3":
            io[name] = value
        else:
            raise _fail(f"parameter {item!r} has a bad type or value", PARAMS)
    return io


def decode_sd(
    body: str,
    *,
    with_crc: bool,
    device_id: str | None = None,
    now: datetime | None = None,
    stored: bool = False,
) -> Position:
    """Decode the body of ``#SD#`` (everything after the second '#').

    Raises ``DecodeError`` whose ``code`` is the ``#ASD#`` answer code.
    """
    return _decode_data(body, "SD", with_crc=with_crc, device_id=device_id, now=now, stored=stored)


def decode_d(
    body: str,
    *,
    with_crc: bool,
    device_id: str | None = None,
    now: datetime | None = None,
    stored: bool = False,
) -> Position:
    """Decode the body of ``#D#``; params ``NAME:TYPE:VALUE`` land in ``io`` under NAME.

    Raises ``DecodeError`` whose ``code`` is the ``#AD#`` answer code.
    """
    return _decode_data(body, "D", with_crc=with_crc, device_id=device_id, now=now, stored=stored)


def _decode_data(
    body: str,
    kind: Kind,
    *,
    with_crc: bool | None,
    device_id: str | None,
    now: datetime | None,
    stored: bool,
) -> Position:
    fields = body.split(";")
    expected = (_SD_FIELDS if kind == "SD" else _D_FIELDS) + 1
    if with_crc is None:
        with_crc = len(fields) == expected
    if with_crc:
        if len(fields) != expected:
            raise _fail(f"{kind} packet has {len(fields)} fields, expected {expected}", STRUCTURE)
        covered = body[: body.rfind(";") + 1]
        _check_crc(covered, fields[-1], SD_CHECKSUM if kind == "SD" else D_CHECKSUM)
        fields = fields[:-1]
    return _decode_fields(fields, kind, device_id=device_id, now=now, stored=stored)


# ---------------------------------------------------------------------------------------------
# Lines and logins


def packet_parts(line: str) -> tuple[str, str, str]:
    """(prefix, type, body) of one line without its line end, ``2.0;IMEI#SD#body`` giving
    ("2.0;IMEI", "SD", "body"); ``DecodeError`` with no code when it is not ``#TYPE#body``."""
    prefix, hash_at, rest = line.partition("#")
    if not hash_at:
        raise _fail("line does not hold #TYPE#", None)
    kind, second_hash, body = rest.partition("#")
    if not second_hash:
        raise _fail("line does not hold #TYPE#", None)
    return prefix, kind, body


def prefix_unit(prefix: str) -> str | None:
    """The unit id a well-formed ``2.0;IMEI`` prefix names, else None."""
    version, separator, imei = prefix.partition(";")
    if separator and _VERSION.fullmatch(version) and _UNIT_ID.fullmatch(imei):
        return imei
    return None


@dataclass(frozen=True, slots=True)
class Login:
    """What a ``#L#`` packet says: protocol version, unit id (IMEI) and password (``NA``: none)."""

    version: str
    imei: str
    password: str


def decode_login(body: str) -> Login:
    """The body of ``#L#``; ``DecodeError`` whose code is the ``#AL#`` answer (``10`` checksum,
    ``0`` anything else wrong with it)."""
    fields = body.split(";")
    if len(fields) == 4 and _VERSION.fullmatch(fields[0]):
        version, imei, password = fields[0], fields[1], fields[2]
        _check_crc(body[: body.rfind(";") + 1], fields[3], LOGIN_CHECKSUM)
    elif len(fields) == 2:
        version = "1.1"
        imei, password = fields
    else:
        raise _fail(f"login has {len(fields)} fields", LOGIN_REJECTED)
    if not _UNIT_ID.fullmatch(imei):
        raise _fail(f"bad unit id {imei!r}", LOGIN_REJECTED)
    return Login(version, imei, password)


# ---------------------------------------------------------------------------------------------
# Session


class WialonSession:
    """One tracker connection: login state and the answer to each line.

    ``check_password(imei, password)`` decides ``#AL#01``; without it any password is accepted.
    ``require_login=False`` accepts data from an anonymous tracker (used for offline decoding).
    ``last_error`` holds the reason for the last rejection (the answer only carries a code).
    """

    def __init__(
        self,
        *,
        check_password: Callable[[str, str], bool] | None = None,
        require_login: bool = True,
    ) -> None:
        self.imei: str | None = None
        self.version: str | None = None
        self.last_error: DecodeError | None = None
        self._check_password = check_password
        self._require_login = require_login

    def handle_line(self, line: str, *, now: datetime | None = None) -> tuple[str, list[Position]]:
        """Answer one or more ``\\r\\n``-terminated lines; return the answer text and positions.

        Raises ``DecodeError`` only when no answer exists: an unknown packet type, a line that is
        not ``#TYPE#body``, or data before login.
        """
        self.last_error = None
        answers: list[str] = []
        positions: list[Position] = []
        for single in line.split("\n"):
            single = single.removesuffix("\r")
            if not single:
                continue
            answer, found = self._handle(single, now)
            answers.append(answer + "\r\n")
            positions.extend(found)
        if not answers:
            raise _fail("empty line", None)
        return "".join(answers), positions

    def _handle(self, line: str, now: datetime | None) -> tuple[str, list[Position]]:
        prefix, kind, body = packet_parts(line)
        answer_type = {"L": "AL", "SD": "ASD", "D": "AD", "B": "AB", "P": "AP"}.get(kind)
        if answer_type is None:
            raise _fail(f"unsupported packet type {kind!r}", None)
        if kind == "P":
            return "#AP#", []
        try:
            if kind == "L":
                return f"#AL#{self._login(body)}", []
            version, device_id = self._sender(prefix)
            # An anonymous sender (offline decoding) shows its version by the checksum field.
            with_crc = None if version is None else version != "1.1"
            if kind == "B":
                return self._black_box(body, with_crc, device_id, now)
            position = _decode_data(
                body,
                "SD" if kind == "SD" else "D",
                with_crc=with_crc,
                device_id=device_id,
                now=now,
                stored=False,
            )
        except DecodeError as error:
            if error.code is None:
                raise
            self.last_error = error
            if kind == "B":
                return f"#AB#{'' if error.code == BLACK_BOX_CHECKSUM else 0}", []
            return f"#{answer_type}#{error.code}", []
        return f"#{answer_type}#{ACCEPTED}", [position]

    def _sender(self, prefix: str) -> tuple[str | None, str | None]:
        if prefix:
            version, separator, imei = prefix.partition(";")
            if not separator or not _VERSION.fullmatch(version) or not _UNIT_ID.fullmatch(imei):
                raise _fail(f"bad packet prefix {prefix!r}", STRUCTURE)
            return version, imei
        if self.imei is None:
            if self._require_login:
                raise _fail("data before login", None)
            return None, None
        return self.version or "1.1", self.imei

    def _login(self, body: str) -> str:
        try:
            login = decode_login(body)
        except DecodeError as error:
            self.last_error = error
            return str(error.code)
        if self._check_password is not None and not self._check_password(
            login.imei, login.password
        ):
            self.last_error = _fail(f"wrong password for {login.imei}", LOGIN_PASSWORD)
            return LOGIN_PASSWORD
        self.logged_in(login)
        return LOGIN_OK

    def logged_in(self, login: Login) -> None:
        """Take ``login`` as this connection's: its data lines are the unit's from now on (for a
        caller that checked the login itself, as the listener does against the registry)."""
        self.imei, self.version = login.imei, login.version

    def _black_box(
        self, body: str, with_crc: bool | None, device_id: str | None, now: datetime | None
    ) -> tuple[str, list[Position]]:
        records = body.split("|")
        if with_crc is None:
            with_crc = len(records) > 1 and ";" not in records[-1]
        if with_crc:
            _check_crc(body[: body.rfind("|") + 1], records[-1], BLACK_BOX_CHECKSUM)
            records = records[:-1]
        positions: list[Position] = []
        for record in records:
            fields = record.split(";")
            kind: Kind = "SD" if len(fields) == _SD_FIELDS else "D"
            try:
                positions.append(
                    _decode_fields(fields, kind, device_id=device_id, now=now, stored=True)
                )
            except DecodeError as error:
                self.last_error = error
        return f"#AB#{len(positions)}", positions


def decode_lines(text: str, *, now: datetime | None = None) -> list[Position]:
    """Decode Wialon lines offline, without login; any rejected line or record raises."""
    session = WialonSession(require_login=False)
    positions: list[Position] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        _answer, found = session.handle_line(line.strip(), now=now)
        if session.last_error is not None:
            raise session.last_error
        positions.extend(found)
    return positions


# ---------------------------------------------------------------------------------------------
# Builders


def _coordinate(value: float, width: int) -> tuple[str, bool]:
    total_minutes = round(abs(value) * 60, 4)
    degrees = int(total_minutes // 60)
    minutes = total_minutes - degrees * 60
    return f"{degrees:0{width}d}{minutes:07.4f}", value < 0


def _na(value: object) -> str:
    return _NA if value is None else str(value)


def sd_body(
    time: datetime | None,
    lat: float | None,
    lon: float | None,
    *,
    speed_kmh: float | None = None,
    course: int | None = None,
    altitude_m: float | None = None,
    satellites: int | None = None,
) -> str:
    """The ten SD fields (no checksum) for one fix; None is written NA."""
    stamp = [_NA, _NA] if time is None else [time.strftime("%d%m%y"), time.strftime("%H%M%S")]
    if lat is None or lon is None:
        place = [_NA] * 4
    else:
        lat_text, south = _coordinate(lat, 2)
        lon_text, west = _coordinate(lon, 3)
        place = [lat_text, "S" if south else "N", lon_text, "W" if west else "E"]
    motion = [_na(speed_kmh), _na(course), _na(altitude_m), _na(satellites)]
    return ";".join([*stamp, *place, *motion])


def d_body(
    time: datetime | None,
    lat: float | None,
    lon: float | None,
    *,
    speed_kmh: float | None = None,
    course: int | None = None,
    altitude_m: float | None = None,
    satellites: int | None = None,
    hdop: float | None = None,
    inputs: int | None = None,
    outputs: int | None = None,
    adc: Sequence[float] = (),
    ibutton: str | None = None,
    params: Mapping[str, int | float | str] | None = None,
) -> str:
    """The sixteen D fields (no checksum); params are typed from their Python type."""
    base = sd_body(
        time,
        lat,
        lon,
        speed_kmh=speed_kmh,
        course=course,
        altitude_m=altitude_m,
        satellites=satellites,
    )
    encoded = []
    for name, value in (params or {}).items():
        kind = 3 if isinstance(value, str) else 2 if isinstance(value, float) else 1
        encoded.append(f"{name}:{kind}:{value}")
    extra = [
        _na(hdop),
        _na(inputs),
        _na(outputs),
        ",".join(str(v) for v in adc),
        _na(ibutton),
        ",".join(encoded),
    ]
    return ";".join([base, *extra])


def _line(kind: str, body: str, version: str, separator: str, prefix_imei: str | None) -> str:
    if version != "1.1":
        body = f"{body}{separator}{wialon_crc(body + separator)}"
    prefix = f"{version};{prefix_imei}" if prefix_imei else ""
    return f"{prefix}#{kind}#{body}\r\n"


def encode_login(imei: str, password: str = _NA, *, version: str = "2.0") -> str:
    """A ``#L#`` line; version "1.1" has neither version field nor checksum."""
    if version == "1.1":
        return f"#L#{imei};{password}\r\n"
    return _line("L", f"{version};{imei};{password}", version, ";", None)


def encode_sd(body: str, *, version: str = "2.0", prefix_imei: str | None = None) -> str:
    """An ``#SD#`` line around ``sd_body(...)``, with checksum unless version is "1.1"."""
    return _line("SD", body, version, ";", prefix_imei)


def encode_d(body: str, *, version: str = "2.0", prefix_imei: str | None = None) -> str:
    """A ``#D#`` line around ``d_body(...)``, with checksum unless version is "1.1"."""
    return _line("D", body, version, ";", prefix_imei)


def encode_black_box(
    bodies: Sequence[str], *, version: str = "2.0", prefix_imei: str | None = None
) -> str:
    """A ``#B#`` line of SD or D bodies separated by '|', checksum after the last '|'."""
    return _line("B", "|".join(bodies), version, "|", prefix_imei)


def encode_ping() -> str:
    """A ``#P#`` line."""
    return "#P#\r\n"
