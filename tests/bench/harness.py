"""What every benchmark returns, and how results are written and shown."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": round(self.ratio, 4)}


def rate(count: int, work: Callable[[], object]) -> float:
    """Run ``work`` once and return ``count`` divided by the seconds it took."""
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    return count / elapsed if elapsed > 0 else float("inf")


def best_of(times: int, measure: Callable[[], float]) -> float:
    """The best of several runs: the least disturbed by other work on a shared machine."""
    return max(measure() for _ in range(times))


def write(results: list[Result], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")


def show(results: list[Result]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Silkway benchmarks (ratio = value / baseline, same run)")
    for column in ("name", "value", "unit", "baseline", "baseline value", "ratio"):
        table.add_column(
            column, justify="right" if "value" in column or column == "ratio" else "left"
        )
    for r in results:
        table.add_row(
            r.name,
            f"{r.value:,.0f}",
            r.unit,
            r.baseline_name,
            f"{r.baseline_value:,.0f}",
            f"{r.ratio:.2f}",
        )
    Console().print(table)
