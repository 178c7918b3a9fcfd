"""Every table of a node database, on one MetaData (what Alembic compares migrations with)."""

from __future__ import annotations

from silkway.anchoring.db import tables as tables_anchoring  # noqa: F401 - imported for their tables
from silkway.exchange.db import tables as tables_exchange  # noqa: F401 - imported for their tables
from silkway.identity.db import tables as tables_identity  # noqa: F401 - imported for their tables
from silkway.node.db.tables import metadata

__all__ = ["metadata"]
