"""Refusals a process provokes on purpose: the interstate tests' own envelopes.

The conformance kit sends envelopes that must be refused (a replay, a message about something
unknown, a tampered envelope, an unknown key). When the receiving nodes run in the same process
(``silkway run``, the embedded Union), the kit tells them here which MessageID it expects
refused and with which code; a receiver that refuses exactly that logs it at DEBUG, not as a
warning that looks like an attack. Anything else is logged as before: another code, another
MessageID, or the same one once the expectation has lapsed.

Nothing is taken from the envelope itself (its ProcedureID is not signed when its signature is
what fails), and a node in another process never hears of the expectation, so a partner's real
refusals always show.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["ExpectedRefusals"]


class ExpectedRefusals:
    """``(MessageID, refusal code)`` pairs announced by this process's interstate tests."""

    def __init__(self, ttl_s: float = 300.0, limit: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._limit = limit
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def expect(self, message_id: str, code: str) -> None:
        """The envelope ``message_id`` is sent to be refused with ``code``."""
        now = time.monotonic()
        with self._lock:
            if len(self._until) >= self._limit:
                self._until = {k: t for k, t in self._until.items() if t > now}
            self._until[(message_id, code)] = now + self._ttl_s

    def expected(self, message_id: str | None, code: str) -> bool:
        """Whether refusing ``message_id`` with ``code`` is what this process asked for."""
        if message_id is None:
            return False
        with self._lock:
            until = self._until.get((message_id, code))
        return until is not None and until > time.monotonic()

    def level(self, message_id: str | None, code: str, level: int) -> int:
        """``level`` for a refusal nobody here provoked; DEBUG for one this process's tests did."""
        return logging.DEBUG if self.expected(message_id, code) else level
