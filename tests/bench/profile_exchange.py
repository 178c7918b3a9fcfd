"""Where an envelope's time goes: ``python -m tests.bench.profile_exchange``.

Two nodes (KZ, BY) on SQLite in one thread: KZ's relay seals and sends 200 release
notifications, BY opens, applies and answers each, KZ records the answers (the federation's
``pump``, the node work the exchange runtime does, without its threads), under cProfile. The
breakdown in ``docs/PERFORMANCE.md`` comes from this command.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from silkway.examples import example_declaration
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release
from tests.conftest import START
from tests.integration.exchange.federation import federation

COUNT = 200


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="silkway-profile-") as tmp,
        federation(Path(tmp), ("KZ", "BY"), START) as fed,
    ):
        kz = fed.nodes["KZ"].transit
        decl = example_declaration("western-road", START.date())
        for i in range(COUNT):
            d = decl.model_copy(update={"lrn": f"PX{i:06d}"})
            ref = transit.lodge_declaration(kz, d).movement.reference
            transit.act(kz, ref, Accept())
            transit.act(kz, ref, Release(d.security[0].reference, d.departure_office))
        fed.open_all()
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        delivered = fed.pump(rounds=50)
        profile.disable()
        elapsed = time.perf_counter() - start
    print(
        f"{delivered} envelopes delivered (messages and answers) in {elapsed:.2f} s:"
        f" {delivered / elapsed:.0f}/s"
    )
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
