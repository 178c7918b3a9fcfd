"""Which refusals a process's own interstate tests announce, and so keep quiet."""

from __future__ import annotations

import logging

from silkway.exchange.expected import ExpectedRefusals


def test_only_the_refusal_announced_is_quiet() -> None:
    expected = ExpectedRefusals()
    expected.expect("urn:uuid:1", "signature-invalid")
    assert expected.level("urn:uuid:1", "signature-invalid", logging.WARNING) == logging.DEBUG
    # Another code for the same message, another message, or none: as loud as ever.
    assert expected.level("urn:uuid:1", "key-unknown", logging.WARNING) == logging.WARNING
    assert expected.level("urn:uuid:2", "signature-invalid", logging.WARNING) == logging.WARNING
    assert expected.level(None, "signature-invalid", logging.INFO) == logging.INFO


def test_an_expectation_lapses() -> None:
    expected = ExpectedRefusals(ttl_s=0.0)
    expected.expect("urn:uuid:1", "message-replayed")
    assert expected.expected("urn:uuid:1", "message-replayed") is False


def test_the_expectations_kept_are_bounded() -> None:
    expected = ExpectedRefusals(ttl_s=0.0, limit=3)
    for n in range(10):
        expected.expect(f"urn:uuid:{n}", "key-unknown")
    assert len(expected._until) <= 3
