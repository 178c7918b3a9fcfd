"""Silkway's versioned reference data: member states, offices, border points, corridors, rates,
the tariff sample and duty shares, read from the package's data files by one loader."""

from silkway.reference.loader import (
    REFERENCE_FILES,
    ReferenceDataError,
    load_reference,
    parse_reference,
)

__all__ = ["REFERENCE_FILES", "ReferenceDataError", "load_reference", "parse_reference"]
