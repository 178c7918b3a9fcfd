"""Example transit declarations, one per corridor, shipped with the package.

The files are written as if lodged on :data:`EXAMPLE_EPOCH`; :func:`example_declaration` moves
every date by the same number of days so that an example is valid on the day it is used.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from silkway.transit.domain.declaration import TransitDeclaration

EXAMPLE_EPOCH = date(2026, 12, 1)
_DATE_FIELDS = ("time_limit", "issued_on")
_LRN_MAX = 22
_SUFFIX_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@cache
def example_names() -> tuple[str, ...]:
    folder = resources.files(__name__)
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")))


def _load(name: str) -> dict[str, Any]:
    if name not in example_names():
        raise KeyError(name)
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _shift(value: Any, delta: timedelta) -> Any:
    if isinstance(value, dict):
        return {
            k: (date.fromisoformat(v) + delta).isoformat()
            if k in _DATE_FIELDS and isinstance(v, str)
            else _shift(v, delta)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    return value


def example_declaration(name: str, today: date) -> TransitDeclaration:
    """The example ``name`` with its dates moved so that it reads as lodged on ``today``.

    ``today`` is required: it comes from the clock of the node the example is lodged at, so an
    example never mixes the machine's date with a node's simulated one."""
    delta = today - EXAMPLE_EPOCH
    return TransitDeclaration.model_validate(_shift(_load(name), delta))


def fresh_lrn(example_lrn: str, now: datetime) -> str:
    """A new LRN in the example declarant's series: its prefix, the time, a random suffix.

    ``"SRF-WR-2026-0001"`` at 2026-12-06 21:45:19 becomes e.g. ``"SRF-261206214519-K3Q"``;
    two made in the same second differ by the random suffix (one of 32³)."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(3))
    stamp = now.strftime("%y%m%d%H%M%S")
    prefix = example_lrn.split("-", 1)[0][: _LRN_MAX - len(stamp) - len(suffix) - 2]
    return f"{prefix}-{stamp}-{suffix}" if prefix else f"{stamp}-{suffix}"
