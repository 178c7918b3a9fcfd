"""What the guarantee registry and ledger services need from storage."""

from __future__ import annotations

from typing import Protocol


class GuaranteeRepository(Protocol):
    """Storage of the guarantee registry and ledger, inside the node's unit of work."""
