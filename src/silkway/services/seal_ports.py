"""What the navigation-seal registry, positions and incidents services need from storage."""

from __future__ import annotations

from typing import Protocol


class SealRepository(Protocol):
    """Storage of the navigation-seal registry, positions and incidents, inside the node's unit of work."""
