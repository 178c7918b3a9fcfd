"""Lock requests from many clients, applied many per transaction.

With one transaction per lock, a hot guarantee is limited by commit latency (every commit waits
for the disk) and by the row lock each transaction holds until it commits. The batcher queues
requests; one worker thread takes up to ``max_batch`` of them and applies them in one
transaction with :meth:`GuaranteeRepository.lock_many`, which still answers each request on
its own (guarded updates: a refused request never fails the others, nothing is ever
over-committed). A batch that cannot commit as a whole (an idempotency key used before, a
deadlock, a busy database) is retried request by request, each in its own transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from silkway.guarantees.domain.guarantee import LedgerError, Outcome
from silkway.guarantees.ports import LockRequest
from silkway.node.ports import DuplicateKey
from silkway.unit_of_work import UnitOfWork

log = logging.getLogger("silkway.guarantees")

DEFAULT_MAX_BATCH = 256
DEFAULT_LINGER = 0.005
"""At most this many seconds a batch waits for more requests while they keep arriving."""
_GAP = 0.0003
"""A batch stops waiting when no request came for this long (what a lone request pays)."""


@dataclass(slots=True)
class _Pending:
    request: LockRequest
    answer: Future[Outcome]


_STOP = object()


class LockBatcher:
    """Applies queued lock requests in batches on one worker thread (started on first use)."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        if max_batch < 1 or linger < 0:
            raise ValueError("max_batch must be at least 1 and linger not negative")
        self._uow = uow
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, request: LockRequest) -> Future[Outcome]:
        """Queue ``request``; the future holds its Outcome or its LedgerError."""
        answer: Future[Outcome] = Future()
        with self._guard:
            if self._closed:
                raise RuntimeError("the lock batcher is closed")
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="silkway-lock-batcher", daemon=True
                )
                self._worker.start()
            self._queue.put(_Pending(request, answer))
        return answer

    def lock(self, request: LockRequest, timeout: float | None = 60.0) -> Outcome:
        """Apply ``request`` in the next batch; raises its LedgerError if refused."""
        return self.submit(request).result(timeout)

    def close(self) -> None:
        """Answer what is queued, then stop the worker."""
        with self._guard:
            self._closed = True
            worker = self._worker
            self._worker = None
        if worker is not None:
            self._queue.put(_STOP)
            worker.join(timeout=30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            # Linger while requests keep coming: the clients answered by the last batch are
            # sending their next ones right now. Taking them in this batch means fewer
            # transactions, and the database round trips below then run while every client
            # waits, instead of each one queueing behind busy clients for the interpreter. A
            # lone request waits one short gap.
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                left = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=max(0.0, min(_GAP, left)))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._apply([p for p in batch if isinstance(p, _Pending)])

    def _apply(self, batch: Sequence[_Pending]) -> None:
        answers: Sequence[Outcome | Exception]
        try:
            answers = self._together([p.request for p in batch])
        except (DuplicateKey, DBAPIError) as exc:
            log.info("lock batch of %d retried one by one: %s", len(batch), exc)
            answers = [self._alone(p.request) for p in batch]
        except Exception as exc:  # the worker must survive anything; every caller learns of it
            log.exception("lock batch failed")
            answers = [exc] * len(batch)
        for pending, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Outcome):
                pending.answer.set_result(answer)
            else:
                pending.answer.set_exception(answer)

    def _together(self, requests: Sequence[LockRequest]) -> list[Outcome | LedgerError]:
        # Repeated keys are rare (a client retrying after a timeout): a batch assumes its keys
        # new, and the rare batch that holds a repeat is retried request by request, where each
        # repeat gets its first answer back.
        with self._uow() as uow:
            answers = uow.guarantees.lock_many(requests, assume_new=len(requests) > 1)
            uow.commit()
        return answers

    def _alone(self, request: LockRequest) -> Outcome | Exception:
        for _attempt in range(3):
            try:
                return self._together([request])[0]
            except (DuplicateKey, DBAPIError) as exc:
                # A key taken meanwhile is a replay the next attempt answers; others are transient.
                last: Exception = exc
            except Exception as exc:  # noqa: BLE001 - answered to the caller, who raises it
                return exc
        return last
