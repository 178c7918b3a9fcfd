"""The shipped XSDs, compiled once each, and validation against them."""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from lxml import etree

from silkway.exchange.domain.envelope import EnvelopeRejected, RejectionCode
from silkway.exchange.domain.processes import STRUCTURES

SCHEMA_DIR = Path(__file__).parent / "schemas"


class CompiledSchema:
    """One compiled XSD. Validation is serialised because a validator keeps its error log."""

    def __init__(self, name: str) -> None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        self.name = name
        self._schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name), parser))
        self._lock = threading.Lock()

    def check(self, element: etree._Element, what: str) -> None:
        """Raise ``schema-invalid`` naming the first error when ``element`` breaks the schema."""
        with self._lock:
            if self._schema.validate(element):
                return
            error = next(iter(self._schema.error_log), None)
            detail = f"line {error.line}: {error.message}" if error is not None else "invalid"
        raise EnvelopeRejected(RejectionCode.SCHEMA_INVALID, f"{what}: {detail}"[:500])


@cache
def envelope_schema() -> CompiledSchema:
    """The Silkway SOAP 1.2 envelope profile (headers; the body is checked separately)."""
    return CompiledSchema("soap-envelope.xsd")


@cache
def structure_schema(code: str) -> CompiledSchema:
    """The schema of payload structure ``code``; ``KeyError`` for an unknown structure."""
    if code not in STRUCTURES:
        raise KeyError(code)
    return CompiledSchema(f"{code}.xsd")
