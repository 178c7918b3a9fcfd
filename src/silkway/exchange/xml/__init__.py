"""XML adapter: the Decision 5 envelope as SOAP 1.2, hardened parsing, shipped XSDs."""

from silkway.exchange.xml.codec import decode, encode
from silkway.exchange.xml.parsing import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_LIMITS", "Limits", "decode", "encode"]
