"""The typed error and plausibility limits of device decoders; ``Position`` lives in the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from silkway.seals.domain.telemetry import IoValue, Position

__all__ = [
    "EARLIEST_FIX",
    "MAX_ALTITUDE_M",
    "MAX_CLOCK_AHEAD",
    "MAX_COURSE",
    "MAX_SATELLITES",
    "MAX_SPEED_KMH",
    "MIN_ALTITUDE_M",
    "DecodeError",
    "IoValue",
    "Position",
    "check_altitude",
    "check_coordinates",
    "check_course",
    "check_satellites",
    "check_speed",
    "check_time",
    "utc_from_unix_ms",
]

# A road vehicle or a container under seal never reaches these; a value beyond them is a
# corrupted frame or a broken receiver, and storing it would poison corridor analytics.
MAX_SPEED_KMH = 500.0
MAX_COURSE = 359
MAX_SATELLITES = 64
MIN_ALTITUDE_M = -1000.0
MAX_ALTITUDE_M = 10000.0
EARLIEST_FIX = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(days=1)

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Largest millisecond timestamp that still fits a datetime (year 9999).
_MAX_UNIX_MS = 253_402_300_799_999


class DecodeError(ValueError):
    """A frame or line that cannot be accepted.

    ``code`` is the protocol's own answer for the failure, when it has one: an EGTS processing
    result code (int, e.g. 138 EGTS_PC_DATACRC_ERROR), a Wialon answer code exactly as written on
    the wire (str, e.g. ``"13"`` or ``"01"``), or 0 for Teltonika (no record acknowledged).
    """

    def __init__(self, protocol: str, reason: str, code: int | str | None = None) -> None:
        super().__init__(f"{protocol}: {reason}")
        self.protocol = protocol
        self.reason = reason
        self.code = code


def utc_from_unix_ms(protocol: str, ms: int, code: int | str | None) -> datetime:
    """An aware UTC datetime from milliseconds since the Unix epoch."""
    if not 0 <= ms <= _MAX_UNIX_MS:
        raise DecodeError(protocol, f"absurd value: timestamp {ms} ms out of range", code)
    return _UNIX_EPOCH + timedelta(milliseconds=ms)


def check_time(protocol: str, time: datetime, now: datetime | None, code: int | str | None) -> None:
    """Reject a fix time before 2000, or more than a day ahead of ``now`` when it is given."""
    if time < EARLIEST_FIX:
        raise DecodeError(protocol, f"absurd value: time {time.isoformat()} before 2000", code)
    if now is not None and time > now + MAX_CLOCK_AHEAD:
        raise DecodeError(
            protocol, f"absurd value: time {time.isoformat()} more than a day in the future", code
        )


def check_coordinates(protocol: str, lat: float, lon: float, code: int | str | None) -> None:
    """Reject a latitude beyond ±90 or a longitude beyond ±180 degrees."""
    if not -90.0 <= lat <= 90.0:
        raise DecodeError(protocol, f"absurd value: latitude {lat}", code)
    if not -180.0 <= lon <= 180.0:
        raise DecodeError(protocol, f"absurd value: longitude {lon}", code)


def check_speed(protocol: str, speed_kmh: float | None, code: int | str | None) -> None:
    """Reject a negative speed or one above ``MAX_SPEED_KMH``."""
    if speed_kmh is not None and not 0.0 <= speed_kmh <= MAX_SPEED_KMH:
        raise DecodeError(protocol, f"absurd value: speed {speed_kmh} km/h", code)


def check_course(protocol: str, course: int | None, code: int | str | None) -> None:
    """Reject a course outside 0–359 degrees."""
    if course is not None and not 0 <= course <= MAX_COURSE:
        raise DecodeError(protocol, f"absurd value: course {course}", code)


def check_altitude(protocol: str, altitude_m: float | None, code: int | str | None) -> None:
    """Reject an altitude outside ``MIN_ALTITUDE_M``–``MAX_ALTITUDE_M``."""
    if altitude_m is not None and not MIN_ALTITUDE_M <= altitude_m <= MAX_ALTITUDE_M:
        raise DecodeError(protocol, f"absurd value: altitude {altitude_m} m", code)


def check_satellites(protocol: str, satellites: int | None, code: int | str | None) -> None:
    """Reject a negative satellite count or one above ``MAX_SATELLITES``."""
    if satellites is not None and not 0 <= satellites <= MAX_SATELLITES:
        raise DecodeError(protocol, f"absurd value: {satellites} satellites", code)
