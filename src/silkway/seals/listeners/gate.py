"""The listeners' door: which device identities a TCP listener lets in (``DeviceGate``).

A session asks the gate when its device names itself, and refuses the connection in the
protocol's own way when the gate says no. ``RegistryGate`` asks the node's seal registry
(:mod:`silkway.seals.admission`), off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from silkway.seals.admission import Admission, DeviceRegistry

__all__ = ["DeviceGate", "RegistryGate"]


class DeviceGate(Protocol):
    """Decides whether a device that names itself may go on."""

    async def admit(
        self, protocol: str, device_id: str | None, password: str | None = None
    ) -> Admission:
        """``device_id`` None: the device sent data without naming itself first."""
        ...


class RegistryGate:
    """The seal registry as the gate: its lookups and password checks run in a worker thread,
    so a slow database or an Argon2 check never holds up the other devices."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry

    async def admit(
        self, protocol: str, device_id: str | None, password: str | None = None
    ) -> Admission:
        return await asyncio.to_thread(self.registry.admit, protocol, device_id, password)
