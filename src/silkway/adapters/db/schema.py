"""Every table of a node database, on one MetaData (what Alembic compares migrations with)."""

from __future__ import annotations

from silkway.adapters.db import (  # noqa: F401 - imported for their tables
    tables_exchange,
    tables_guarantee,
    tables_seal,
)
from silkway.adapters.db.tables import metadata

__all__ = ["metadata"]
