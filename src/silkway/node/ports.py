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


class DatabaseMissing(Exception):
    """A command that works on a node's existing data found no database where it looked.

    Raised instead of creating an empty one (a SQLite file springs into being on first
    connection), which would answer every question with "nothing here"."""

    code = "database-missing"

    def __init__(self, state: str, path: str, hint: str) -> None:
        super().__init__(f"no database for node {state} at {path}: {hint}")
        self.state = state
        self.path = path
