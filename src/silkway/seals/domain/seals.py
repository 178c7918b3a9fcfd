"""Navigation seals as a national operator sees them: the registry, incidents and thresholds.

A seal is registered by the operator of one member state (its *registration operator*), is
activated on a movement at release and deactivated at completion. While active, its positions
are checked against the movement's corridor and raise the incidents the Union defines (codes
01–07, DOMAIN.md §5) plus Silkway's own: an unplanned stop, a state not on the route, lateness.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import MEMBER_STATES


class SealInvalid(DomainError):
    """A registration or a change of a seal breaks a rule of the registry."""

    code = "seal-invalid"


class SealTransitionForbidden(DomainError):
    """The seal's status does not allow this change (e.g. activating a seal already in use)."""

    code = "seal-status-forbids"


class DeviceProtocol(StrEnum):
    """How a seal reports: a device wire protocol, or JSON over HTTP/MQTT."""

    EGTS = "egts"
    WIALON = "wialon"
    TELTONIKA = "teltonika"
    MQTT = "mqtt"
    HTTP = "http"


PASSWORD_PROTOCOLS = frozenset({DeviceProtocol.WIALON})
"""Protocols whose login carries a password (Wialon IPS ``#L#``)."""

_PASSWORD_HASH = re.compile(
    r"^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"
)
"""A PHC-format Argon2 hash, as the registry stores device passwords."""
MAX_PASSWORD_HASH = 128


class SealStatus(StrEnum):
    REGISTERED = "registered"
    """Known to the operator, not on a movement."""
    ACTIVE = "active"
    """Sealing a movement: its positions are monitored."""
    RETIRED = "retired"
    """Taken out of service; kept for the record."""


class SealEvent(StrEnum):
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    RETIRE = "retire"


SEAL_TRANSITIONS: Mapping[tuple[SealStatus, SealEvent], SealStatus] = MappingProxyType(
    {
        (SealStatus.REGISTERED, SealEvent.ACTIVATE): SealStatus.ACTIVE,
        (SealStatus.ACTIVE, SealEvent.DEACTIVATE): SealStatus.REGISTERED,
        (SealStatus.REGISTERED, SealEvent.RETIRE): SealStatus.RETIRED,
    }
)
"""Every allowed (status, event) pair of a seal and the status it leads to."""


def seal_transition(status: SealStatus, event: SealEvent) -> SealStatus:
    """The status after ``event``, or :class:`SealTransitionForbidden`."""
    after = SEAL_TRANSITIONS.get((status, event))
    if after is None:
        raise SealTransitionForbidden(
            f"a {status.value} seal cannot {event.value}",
            [Violation("seal-status-forbids", "/status", f"seal is {status.value}")],
        )
    return after


_SEAL_ID = re.compile(r"^[A-Z0-9][A-Z0-9\-]{3,34}$")
_IMEI = re.compile(r"^\d{15}$")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9\-_.:]{1,35}$")
MIN_REPORTING_PERIOD_S = 10
MAX_REPORTING_PERIOD_S = 86_400


@dataclass(frozen=True, slots=True)
class Seal:
    """One navigation seal in the registry of this node's operator."""

    seal_id: str
    operator: str
    """The registration operator's member state."""
    protocol: DeviceProtocol
    device_id: str
    """The identity the device presents on the wire: IMEI for EGTS/Wialon/Teltonika."""
    reporting_period_s: int
    registered_at: datetime
    password_hash: str | None = None
    """The Argon2id hash of the Wialon IPS login password, when one is set; never the password."""
    battery_pct: int | None = None
    firmware: str | None = None
    status: SealStatus = SealStatus.REGISTERED
    movement_reference: str | None = None
    """The movement it seals while active."""
    key: int | None = None
    """Storage key, set once stored."""


def new_seal(
    *,
    seal_id: str,
    operator: str,
    protocol: str,
    device_id: str | None,
    reporting_period_s: int,
    registered_at: datetime,
    password: str | None = None,
    password_hash: str | None = None,
    hash_password: Callable[[str], str] | None = None,
    battery_pct: int | None = None,
    firmware: str | None = None,
) -> Seal:
    """A seal ready to register, or :class:`SealInvalid` listing every broken rule.

    A device password is given in clear (``password``, hashed with ``hash_password`` once every
    rule holds) or, for a seal another operator described, as the hash it sent
    (``password_hash``); only the hash is kept.
    """
    if password is not None and password_hash is not None:
        raise ValueError("give a device password or its hash, not both")
    found: list[Violation] = []
    if not _SEAL_ID.match(seal_id):
        found.append(
            Violation(
                "seal-id-invalid",
                "/seal_id",
                "4 to 35 capital letters, digits or hyphens, starting with a letter or digit",
            )
        )
    if operator not in MEMBER_STATES:
        found.append(
            Violation("operator-unknown", "/operator", f"{operator!r} is not a member state")
        )
    try:
        proto = DeviceProtocol(protocol)
    except ValueError:
        found.append(
            Violation(
                "protocol-unknown",
                "/protocol",
                f"expected one of {', '.join(p.value for p in DeviceProtocol)}",
            )
        )
        proto = DeviceProtocol.HTTP
    identity = device_id if device_id is not None else seal_id
    wire = proto in (DeviceProtocol.EGTS, DeviceProtocol.WIALON, DeviceProtocol.TELTONIKA)
    if wire and not _IMEI.match(identity):
        found.append(Violation("imei-invalid", "/imei", "a device protocol needs a 15-digit IMEI"))
    elif not _DEVICE_ID.match(identity):
        found.append(Violation("device-id-invalid", "/imei", "1 to 35 letters, digits or -_.:"))
    if (password is not None or password_hash is not None) and proto not in PASSWORD_PROTOCOLS:
        found.append(
            Violation("password-unexpected", "/password", f"{proto.value} has no password")
        )
    if password is not None and not 1 <= len(password) <= 32:
        found.append(Violation("password-invalid", "/password", "1 to 32 characters"))
    if password_hash is not None and not (
        len(password_hash) <= MAX_PASSWORD_HASH and _PASSWORD_HASH.match(password_hash)
    ):
        found.append(Violation("password-hash-invalid", "/password", "an Argon2 hash in PHC form"))
    if not MIN_REPORTING_PERIOD_S <= reporting_period_s <= MAX_REPORTING_PERIOD_S:
        found.append(
            Violation(
                "reporting-period-invalid",
                "/reporting_period_s",
                f"{MIN_REPORTING_PERIOD_S} to {MAX_REPORTING_PERIOD_S} seconds",
            )
        )
    if battery_pct is not None and not 0 <= battery_pct <= 100:
        found.append(Violation("battery-invalid", "/battery_pct", "0 to 100"))
    if firmware is not None and not 1 <= len(firmware) <= 40:
        found.append(Violation("firmware-invalid", "/firmware", "1 to 40 characters"))
    if registered_at.tzinfo is None:
        found.append(Violation("naive-datetime", "/registered_at", "a time zone is required"))
    if found:
        raise SealInvalid(f"the seal breaks {len(found)} rule(s)", found)
    if password is not None:
        if hash_password is None:
            raise ValueError("a device password needs hash_password to be stored")
        password_hash = hash_password(password)
    return Seal(
        seal_id=seal_id,
        operator=operator,
        protocol=proto,
        device_id=identity,
        reporting_period_s=reporting_period_s,
        registered_at=registered_at,
        password_hash=password_hash,
        battery_pct=battery_pct,
        firmware=firmware,
    )


def registration_state(seal_id: str) -> str | None:
    """The member state whose operator registered a seal, read from its id (``RUNS…`` is RU's).

    Operators number their seals with their state's code first; an id without one cannot be
    traced to a registration operator, so a third-party seal with such an id stays unresolved.
    """
    prefix = seal_id[:2]
    return prefix if prefix in MEMBER_STATES else None


# --- incidents -----------------------------------------------------------------------------------


class IncidentCode(StrEnum):
    """The Union's incident codes (нештатные ситуации) and Silkway's own additions."""

    SEAL_BROKEN = "01"
    """Sealing element integrity violated (event from the seal)."""
    HOUSING_OPENED = "02"
    """Electronic unit housing integrity violated (event from the seal)."""
    DEVIATION = "03"
    """Road carriage deviates from the route beyond the threshold."""
    MALFUNCTION = "04"
    """Seal malfunction (event from the seal)."""
    BATTERY_LOW = "05"
    """Battery below the threshold."""
    SILENCE = "06"
    """No messages for the configured number of reporting periods."""
    UNAUTHORISED = "07"
    """Unauthorised actions (event from the seal)."""
    UNPLANNED_STOP = "stop"
    """Stationary too long away from the route's customs offices and border points."""
    STATE_OFF_ROUTE = "state"
    """Positions in a state the declared route does not cross."""
    LATE = "late"
    """The expected arrival falls after the time limit."""


SEAL_EVENT_CODES: tuple[IncidentCode, ...] = (
    IncidentCode.SEAL_BROKEN,
    IncidentCode.HOUSING_OPENED,
    IncidentCode.MALFUNCTION,
    IncidentCode.UNAUTHORISED,
)
"""Incidents the seal itself reports; an officer closes them after inspection."""


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident on one activation (a seal on a movement).

    At most one incident per (activation, code) is open at a time: a flood of points showing the
    same condition updates it (``points``, ``last_at``, ``worst``) instead of opening another.
    """

    code: IncidentCode
    activation_id: int
    movement_reference: str
    seal_id: str
    opened_at: datetime
    """When the condition was first seen (the time of the first point showing it)."""
    last_at: datetime
    """The latest point showing the condition."""
    points: int
    lat: float | None
    lon: float | None
    worst: float | None = None
    """The extreme value seen: km off the corridor, lowest battery %, minutes stopped, hours late."""
    status: IncidentStatus = IncidentStatus.OPEN
    closed_at: datetime | None = None
    closed_by: str | None = None
    """Who closed it (an officer, as :attr:`Principal.actor` writes them)."""
    detail: dict[str, str | float | int | None] = field(default_factory=dict)
    id: int | None = None
    seq: int = 0
    """Change sequence: grows with every change, so a live stream can resume after the last."""


# --- thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitoringThresholds:
    """The rule thresholds: configuration, with defaults from DOMAIN.md §5."""

    deviation_km: float = 50.0
    """Incident 03 beyond this distance from the corridor (">50 km, or as set by the control body")."""
    battery_pct: float = 15.0
    """Incident 05 below this charge."""
    silent_periods: int = 2
    """Incident 06 after this many reporting periods without a message."""
    stop_after: timedelta = timedelta(minutes=60)
    """Unplanned stop: stationary at least this long…"""
    stop_speed_kmh: float = 3.0
    """…below this speed…"""
    stop_radius_km: float = 0.5
    """…within this distance of where the stop began…"""
    stop_place_radius_km: float = 5.0
    """…and farther than this from every customs office and border point of the route."""
    off_route_state_km: float = 25.0
    """A point farther than this from the corridor is checked for the state it lies in."""
    lateness_grace: timedelta = timedelta(0)
    """The "late" incident opens once the expected arrival passes the time limit by more."""
    recent_speed_window: timedelta = timedelta(hours=2)
    """ETA uses the mean speed over this window of the latest points."""

    def __post_init__(self) -> None:
        found = [
            Violation("threshold-invalid", f"/{name}", "must be positive")
            for name, value in (
                ("deviation_km", self.deviation_km),
                ("battery_pct", self.battery_pct),
                ("silent_periods", self.silent_periods),
                ("stop_speed_kmh", self.stop_speed_kmh),
                ("stop_radius_km", self.stop_radius_km),
                ("stop_place_radius_km", self.stop_place_radius_km),
                ("off_route_state_km", self.off_route_state_km),
                ("stop_after", self.stop_after.total_seconds()),
                ("recent_speed_window", self.recent_speed_window.total_seconds()),
            )
            if not value > 0
        ]
        if found:
            raise SealInvalid("monitoring thresholds must be positive", found)
