"""Loaded only by shifted-clock runs (``make test-shifted``), through ``PYTHONPATH``.

Debian 12's libfaketime (0.9.10) makes CPython's ``time.sleep`` fail with EINVAL: CPython sleeps
with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` and libfaketime shifts that deadline
even when told to leave the monotonic clock alone. A timed wait on an event uses the monotonic
clock without that call, so it sleeps as long as asked, in this process and in every Silkway
process the tests start.
"""

from __future__ import annotations

import threading
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
