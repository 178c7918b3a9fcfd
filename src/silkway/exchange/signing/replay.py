"""The receiver's guard against replayed envelopes (implemented by the node's message store)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class ReplayGuard(Protocol):
    """Remembers MessageIDs of accepted envelopes.

    Signature verification already refuses envelopes signed more than ``max_age`` ago, so an
    implementation only needs to remember ids for ``max_age`` plus the allowed clock skew.
    """

    def first_sighting(self, message_id: UUID, signed_at: datetime) -> bool:
        """Record ``message_id``; true when it had not been seen before."""
        ...
