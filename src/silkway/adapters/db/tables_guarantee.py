"""The guarantee registry and ledger tables."""

from __future__ import annotations

from silkway.adapters.db.tables import metadata

__all__ = ["metadata"]
