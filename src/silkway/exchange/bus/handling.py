"""What to do with one delivery: the rules both buses share.

A handler that returns acknowledges the message. A handler that raises :class:`RetryLater`, or
fails in any other way, has the message redelivered after an exponential backoff; the
description of the failure is kept, and once ``max_attempts`` deliveries have failed the message
goes to the dead-letter handler with that description and is never delivered again. A delivery
whose attempt number is already past ``max_attempts`` (the consumer died or was stopped during
the last attempt) is dead-lettered without running the handler again, so a message that kills
its consumer cannot kill it forever. If the dead-letter handler itself fails, the message is
redelivered later, so it is never dropped silently.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from dataclasses import dataclass

from silkway.exchange.bus.ports import DeadLetterHandler, Delivery, Handler, RetryLater

log = logging.getLogger("silkway.bus")

_REMEMBERED_REASONS = 10_000
"""Failure descriptions kept for messages awaiting redelivery (oldest forgotten first)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Redelivery delay after a failed attempt: ``base * 2 ** (attempt - 1)``, at most ``cap``."""

    base: float = 0.5
    cap: float = 60.0

    def __post_init__(self) -> None:
        if not (0 < self.base <= self.cap):
            raise ValueError(f"retry policy needs 0 < base <= cap, got {self.base}, {self.cap}")

    def delay(self, attempt: int) -> float:
        # min() first on the exponent keeps 2 ** n small for very high attempt counts.
        return min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), 62))


class Verdict(enum.Enum):
    ACK = "ack"
    """Handled: acknowledge."""
    RETRY = "retry"
    """Failed: redeliver after ``Outcome.delay`` seconds."""
    DEAD = "dead"
    """Given up on and handed to the dead-letter handler: never redeliver."""


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    delay: float = 0.0


ACK = Outcome(Verdict.ACK)
DEAD = Outcome(Verdict.DEAD)


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DeliveryProcessor:
    """Runs a subscription's handler on each delivery and says what the bus must do next."""

    def __init__(
        self,
        handler: Handler,
        on_dead_letter: DeadLetterHandler,
        *,
        max_attempts: int,
        retry: RetryPolicy,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.handler = handler
        self.on_dead_letter = on_dead_letter
        self.max_attempts = max_attempts
        self.retry = retry
        self._reasons: OrderedDict[object, str] = OrderedDict()

    async def process(self, delivery: Delivery, key: object) -> Outcome:
        """Handle ``delivery``; ``key`` identifies the stored message across redeliveries."""
        if delivery.attempt > self.max_attempts:
            return await self._dead_letter(delivery, key, self._reasons.pop(key, None))
        try:
            await self.handler(delivery)
        except asyncio.CancelledError:
            raise
        except RetryLater as exc:
            failure = describe(exc)
        except Exception as exc:
            # Not the handler's way of asking for a retry: keep the traceback in the log and the
            # description for the dead letter.
            log.exception(
                "handler failed on %s (message %s, attempt %d)",
                delivery.subject,
                delivery.message_id,
                delivery.attempt,
            )
            failure = describe(exc)
        else:
            self._reasons.pop(key, None)
            return ACK
        if delivery.attempt < self.max_attempts:
            self._remember(key, failure)
            return Outcome(Verdict.RETRY, self.retry.delay(delivery.attempt))
        self._reasons.pop(key, None)
        return await self._dead_letter(delivery, key, failure)

    def _reason(self, failure: str | None) -> str:
        if failure is None:
            return (
                f"no outcome after {self.max_attempts} attempts: the consumer stopped during"
                " the last one"
            )
        return f"gave up after {self.max_attempts} attempts: {failure}"

    async def _dead_letter(self, delivery: Delivery, key: object, failure: str | None) -> Outcome:
        try:
            await self.on_dead_letter(delivery, self._reason(failure))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "dead-letter handler failed on %s (message %s); redelivering later",
                delivery.subject,
                delivery.message_id,
            )
            if failure is not None:
                self._remember(key, failure)
            return Outcome(Verdict.RETRY, self.retry.delay(delivery.attempt))
        return DEAD

    def _remember(self, key: object, reason: str) -> None:
        self._reasons[key] = reason
        self._reasons.move_to_end(key)
        while len(self._reasons) > _REMEMBERED_REASONS:
            self._reasons.popitem(last=False)
