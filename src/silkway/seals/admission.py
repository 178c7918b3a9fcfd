"""Which devices the listeners let in: registered identities, and Wialon IPS passwords.

A TCP device names itself once per connection (EGTS TERM_IDENTITY, the Wialon IPS login, the
Teltonika IMEI handshake). The identity must be the ``device_id`` of a seal in this operator's
registry, registered for the protocol it speaks and not retired; otherwise the listener refuses
the connection in the protocol's own way.

Passwords (Wialon IPS, the one protocol whose login carries one): a device registered with a
password must log in with it; it is checked against the stored Argon2id hash. A device
registered without one is let in only while passwords are not required
(``SILKWAY_DEVICE_PASSWORDS_REQUIRED=false``); by default they are, and such a device is refused
as a wrong password until one is set for it.

Registrations are read through a cache: an identity found is trusted for ``ttl_s`` (a retired
seal or a new password takes effect within that time), an identity not found is looked up again
at its next connection, so a device registered while the listener runs is let in at once.
Lookups and hash checks are blocking: listeners run them in a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from silkway.seals.domain.seals import PASSWORD_PROTOCOLS, Seal, SealStatus
from silkway.seals.passwords import verify_password
from silkway.seals.service import SealContext

__all__ = ["Admission", "DeviceRegistry", "Refusal"]


class Refusal(StrEnum):
    """Why a device was not let in."""

    UNIDENTIFIED = "unidentified"
    """It sent data before naming itself."""
    UNKNOWN_DEVICE = "unknown_device"
    """Its identity is not a seal of this registry in service for the protocol."""
    WRONG_PASSWORD = "wrong_password"
    """Its login did not carry the password registered for it (or none is, and one is required)."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to a device naming itself: let in, or refused and why."""

    device_id: str | None
    refusal: Refusal | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class _Entry:
    seal: Seal
    until: float


class DeviceRegistry:
    """The operator's registry as the listeners ask it: who may connect (thread-safe)."""

    def __init__(
        self,
        ctx: SealContext,
        *,
        passwords_required: bool,
        ttl_s: float = 60.0,
        max_entries: int = 500_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ctx = ctx
        self.passwords_required = passwords_required
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._found: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, protocol: str, device_id: str | None, password: str | None = None) -> Admission:
        """Whether the device naming itself ``device_id`` on ``protocol`` may connect.

        ``password`` is what its login carried (Wialon IPS), None when it sent none.
        """
        if not device_id:
            return Admission(None, Refusal.UNIDENTIFIED, "data before the device named itself")
        seal = self.lookup(device_id)
        if seal is None:
            return Admission(device_id, Refusal.UNKNOWN_DEVICE, f"{device_id} is not registered")
        if seal.status is SealStatus.RETIRED:
            return Admission(device_id, Refusal.UNKNOWN_DEVICE, f"{device_id} is retired")
        if seal.protocol.value != protocol:
            return Admission(
                device_id,
                Refusal.UNKNOWN_DEVICE,
                f"{device_id} is registered for {seal.protocol.value}, not {protocol}",
            )
        if protocol in PASSWORD_PROTOCOLS:
            return self._password(seal, device_id, password)
        return Admission(device_id)

    def _password(self, seal: Seal, device_id: str, password: str | None) -> Admission:
        if seal.password_hash is None:
            if self.passwords_required:
                return Admission(
                    device_id,
                    Refusal.WRONG_PASSWORD,
                    f"no password is registered for {device_id} and passwords are required",
                )
            return Admission(device_id)
        if password is None or not verify_password(seal.password_hash, password):
            return Admission(device_id, Refusal.WRONG_PASSWORD, f"wrong password for {device_id}")
        return Admission(device_id)

    def lookup(self, device_id: str) -> Seal | None:
        """The seal whose device presents ``device_id``: from the cache while fresh, else read."""
        now = self._monotonic()
        with self._lock:
            entry = self._found.get(device_id)
            if entry is not None and entry.until > now:
                self._found.move_to_end(device_id)
                return entry.seal
        with self._ctx.uow() as uow:
            found = uow.seals.seals_for_devices([device_id])
        seal = next((s for s in found if s.device_id == device_id), None)
        with self._lock:
            if seal is None:
                self._found.pop(device_id, None)
            else:
                self._found[device_id] = _Entry(seal, now + self._ttl_s)
                self._found.move_to_end(device_id)
                while len(self._found) > self._max_entries:
                    self._found.popitem(last=False)
        return seal
