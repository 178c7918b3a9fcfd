"""XML adapter: the Decision 5 envelope as SOAP 1.2, hardened parsing, shipped XSDs."""

from silkway.adapters.xml.codec import decode, encode
from silkway.adapters.xml.parsing import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_LIMITS", "Limits", "decode", "encode"]
