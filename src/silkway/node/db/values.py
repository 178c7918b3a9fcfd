"""Column values as the node's code expects them, whichever database returned them."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """A timestamp column's value, made aware: SQLite hands back naive datetimes, and everything
    Silkway stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    """A nullable timestamp column's value, made aware."""
    return None if value is None else utc(value)
