"""XML namespaces of the interstate envelope."""

from __future__ import annotations

from typing import Final

SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
WSA: Final = "http://www.w3.org/2005/08/addressing"
INTERACTION: Final = "urn:EEC:Interaction:v1.0"
SIGNATURE: Final = "urn:Silkway:Signature:v1.0"

ENVELOPE_NSMAP: Final[dict[str | None, str]] = {"soap": SOAP, "wsa": WSA, "int": INTERACTION}


def qname(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` as lxml spells element names."""
    return f"{{{namespace}}}{local}"
