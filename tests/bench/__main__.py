"""``make bench``: run every benchmark, print a table, write var/bench/results.json.

``python -m tests.bench [NAME-PREFIX ...]`` runs only the benchmarks whose module name starts
with one of the prefixes (e.g. ``lodge``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import tests.bench as bench_package
from tests.bench.harness import Result, show, write


def main(argv: list[str]) -> int:
    results: list[Result] = []
    modules = sorted(
        m.name for m in pkgutil.iter_modules(bench_package.__path__) if m.name.startswith("bench_")
    )
    for name in modules:
        short = name.removeprefix("bench_")
        if argv and not any(short.startswith(p) for p in argv):
            continue
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"running {short} ...", flush=True)
        results.extend(module.run())
    write(results, Path("var/bench/results.json"))
    show(results)
    print("written to var/bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
