"""The simulator's traffic model: transit declarations on every corridor, deterministic by seed.

Each movement starts from the example declaration of its corridor (the examples cover every
corridor of the reference data: the Western road and rail routes, the Northern rail route,
KG–KZ, Irkeshtam, and RU → AM via Verkhny Lars) and varies what a real consignment varies:
which of the corridor's goods it carries and how much of them (masses, packages, values, in
the examples' currencies), the vehicle's registration, its customs and navigation seals, and
its LRN. The same seed gives the same declarations, item for item.

The corridor shares are Silkway's assumption, not a published statistic; the one figure the
domain notes give (Khorgos / Nur Zholy: 650–1,000 trucks a day, ``../shared/DOMAIN.md`` §7)
puts the Western road first, and the rail routes follow.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from silkway.examples import example_declaration, example_names
from silkway.transit.domain.declaration import TransitDeclaration

__all__ = ["CORRIDOR_SHARES", "TrafficModel", "corridor_names"]

CORRIDOR_SHARES: Mapping[str, int] = MappingProxyType(
    {
        "western-road": 30,
        "western-rail": 25,
        "northern-rail": 15,
        "kg-kz-road": 10,
        "irkeshtam-road": 10,
        "north-south-ru-am-road": 10,
    }
)
"""Weight of each corridor's example in the traffic (an assumption; see the module's note)."""

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class TrafficModel:
    """Declarations for ``count`` movements, lodged on ``today``, numbered from ``first``."""

    seed: int
    shares: Mapping[str, int] = field(default_factory=lambda: dict(CORRIDOR_SHARES))
    lrn_prefix: str = "SIM-"

    def __post_init__(self) -> None:
        unknown = set(self.shares) - set(example_names())
        if unknown:
            raise ValueError(f"no corridor example named {sorted(unknown)}")
        if not any(w > 0 for w in self.shares.values()):
            raise ValueError("at least one corridor needs a positive share")
        if not re.fullmatch(r"[A-Za-z0-9\-_/.]{1,8}", self.lrn_prefix):
            raise ValueError(f"LRN prefix {self.lrn_prefix!r}: 1 to 8 of A-Z a-z 0-9 - _ / .")

    def declarations(
        self, count: int, today: date, *, first: int = 1
    ) -> list[tuple[str, TransitDeclaration]]:
        """``(corridor example, declaration)`` for movements ``first`` … ``first + count - 1``."""
        if count < 0 or first < 1:
            raise ValueError("count must not be negative and numbering starts at 1")
        names = sorted(n for n, w in self.shares.items() if w > 0)
        weights = [self.shares[n] for n in names]
        out = []
        for serial in range(first, first + count):
            # One generator per movement: movement n is the same whatever the batch it is in.
            rng = random.Random(f"{self.seed}/{serial}")
            name = rng.choices(names, weights)[0]
            out.append((name, self._vary(example_declaration(name, today), serial, rng)))
        return out

    def _vary(
        self, template: TransitDeclaration, serial: int, rng: random.Random
    ) -> TransitDeclaration:
        data = template.model_dump(mode="json")
        data["lrn"] = f"{self.lrn_prefix}{self.seed % 10_000:04d}-{serial:07d}"
        chosen = sorted(rng.sample(range(len(data["items"])), rng.randint(1, len(data["items"]))))
        data["items"] = [
            _scaled(data["items"][i], number, rng) for number, i in enumerate(chosen, start=1)
        ]
        for leg in data["transport"]:
            if leg["mode"] == "road":
                leg["identity"] = _redigit(leg["identity"], rng)
        seals = data["seals"]
        tag = f"{self.seed % 100:02d}{serial:06d}"
        seals["customs_seal_ids"] = [
            f"{s.rsplit('-', 1)[0]}-{tag}{k}" for k, s in enumerate(seals["customs_seal_ids"])
        ]
        seals["navigation_seal_ids"] = [
            f"{s[:4]}{tag}{k}" for k, s in enumerate(seals["navigation_seal_ids"])
        ]
        return TransitDeclaration.model_validate(data)


def _scaled(item: dict[str, Any], number: int, rng: random.Random) -> dict[str, Any]:
    """The item with its quantity scaled (masses, packages, value together) and renumbered."""
    factor = Decimal(str(round(rng.uniform(0.6, 1.4), 3)))
    price = Decimal(str(round(rng.uniform(0.92, 1.08), 3)))  # the price varies a little too
    gross = (Decimal(item["gross_mass_kg"]) * factor).quantize(_TENTH, ROUND_HALF_UP)
    net = (Decimal(item["net_mass_kg"]) * factor).quantize(_TENTH, ROUND_HALF_UP)
    out = {
        **item,
        "item_number": number,
        "gross_mass_kg": str(gross),
        "net_mass_kg": str(min(net, gross)),
        "value": str((Decimal(item["value"]) * factor * price).quantize(_CENT, ROUND_HALF_UP)),
    }
    if item.get("packages") is not None:
        out["packages"] = max(1, round(int(item["packages"]) * float(factor)))
    if item.get("supplementary_quantity") is not None:
        quantity = Decimal(str(item["supplementary_quantity"])) * factor
        out["supplementary_quantity"] = str(max(Decimal(1), quantity.quantize(Decimal(1))))
    return out


def _redigit(identity: str, rng: random.Random) -> str:
    """Another vehicle of the same registration format: every digit drawn anew."""
    return "".join(str(rng.randrange(10)) if c.isdigit() else c for c in identity)


def corridor_names(declarations: Sequence[tuple[str, TransitDeclaration]]) -> dict[str, int]:
    """How many of ``declarations`` travel each corridor example."""
    counts: dict[str, int] = {}
    for name, _ in declarations:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))
