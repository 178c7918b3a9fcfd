"""What the interstate exchange (inbox, dead letters, journal, register, foreign movements) services need from storage."""

from __future__ import annotations

from typing import Protocol


class ExchangeRepository(Protocol):
    """Storage of the interstate exchange (inbox, dead letters, journal, register, foreign movements), inside the node's unit of work."""
