"""Hardened parsing of untrusted envelope bytes.

Inbound bytes come from another state's system through the integration platform; they are
parsed as hostile. No DTD is loaded or accepted (which also rules out entity expansion and
external entities), nothing is fetched from the network, libxml2's own size guards stay on,
and size, nesting depth and element count are bounded before the tree can grow past them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from silkway.exchange.domain.envelope import EnvelopeRejected, RejectionCode

_CHUNK = 64 * 1024
# Seen before parsing, because libxml2 may fail inside the internal subset (e.g. on entity
# amplification) before the tree shows a DOCTYPE. A legitimate envelope never contains the
# marker: text is escaped, so it could only appear in CDATA, which no EEC structure uses.
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one inbound document."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 32
    """Element nesting; an envelope needs about ten levels."""
    max_elements: int = 20_000


DEFAULT_LIMITS = Limits()


def _parser() -> etree.XMLPullParser:
    # A fresh parser per document: lxml parsers keep state and are not shareable across threads.
    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        collect_ids=False,
    )


def _reject_doctype(element: etree._Element) -> None:
    info = element.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise EnvelopeRejected(RejectionCode.XML_DOCTYPE_FORBIDDEN, "a DOCTYPE is not accepted")


def parse_untrusted(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse ``data`` into a tree, or raise :class:`EnvelopeRejected`; never anything else."""
    if not isinstance(data, bytes):
        raise EnvelopeRejected(RejectionCode.XML_MALFORMED, "expected bytes")
    if len(data) > limits.max_bytes:
        raise EnvelopeRejected(
            RejectionCode.XML_TOO_LARGE, f"{len(data)} bytes exceed {limits.max_bytes}"
        )
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise EnvelopeRejected(RejectionCode.XML_DOCTYPE_FORBIDDEN, "a DOCTYPE is not accepted")
    parser = _parser()
    depth = 0
    count = 0

    def consume() -> None:
        nonlocal depth, count
        for event, element in parser.read_events():
            if event != "start":
                depth -= 1
                continue
            if count == 0:
                _reject_doctype(element)
            depth += 1
            count += 1
            if depth > limits.max_depth:
                raise EnvelopeRejected(
                    RejectionCode.XML_TOO_DEEP, f"nesting exceeds {limits.max_depth}"
                )
            if count > limits.max_elements:
                raise EnvelopeRejected(
                    RejectionCode.XML_TOO_MANY_ELEMENTS, f"more than {limits.max_elements} elements"
                )

    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            consume()
        root = parser.close()
        consume()
    except etree.LxmlError as exc:
        # libxml2 stops on its own guards (depth 256, entity amplification) inside one feed;
        # the events it queued before stopping still tell which of our limits was crossed.
        consume()
        raise EnvelopeRejected(RejectionCode.XML_MALFORMED, str(exc)[:300]) from None
    except (ValueError, MemoryError) as exc:
        raise EnvelopeRejected(RejectionCode.XML_MALFORMED, type(exc).__name__) from None
    _reject_doctype(root)
    # SOAP 1.2 (Part 1, §5) forbids processing instructions in a message.
    tree_pis = [*root.itersiblings(etree.ProcessingInstruction, preceding=True)]
    tree_pis += root.itersiblings(etree.ProcessingInstruction)
    if tree_pis or next(root.iter(etree.ProcessingInstruction), None) is not None:
        raise EnvelopeRejected(RejectionCode.XML_PI_FORBIDDEN, "processing instructions")
    return root
