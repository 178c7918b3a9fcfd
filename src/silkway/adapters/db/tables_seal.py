"""Navigation-seal registry, positions and incident tables."""

from __future__ import annotations

from silkway.adapters.db.tables import metadata

__all__ = ["metadata"]
