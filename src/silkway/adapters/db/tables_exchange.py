"""Interstate exchange tables: inbox, dead letters, journal, process register, foreign movements."""

from __future__ import annotations

from silkway.adapters.db.tables import metadata

__all__ = ["metadata"]
