"""What every use case of a node needs from outside: its clock, and the failures storage reports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class ConcurrentUpdate(Exception):
    """Another transaction changed the movement between read and write."""


class DuplicateKey(Exception):
    """A unique key (e.g. declarant and LRN) is already taken by a concurrent transaction."""
