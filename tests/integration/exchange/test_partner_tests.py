"""Each node tests its partners on its own over NATS, as separate ``silkway node``s would.

Every node here has a runtime of its own (its own connection and consumer, ``node-KZ``,
``node-BY``), as in production; the test from KZ to BY travels over the bus and is answered by
BY's own node, and each node records only its own view of its partners.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import federation
from tests.integration.exchange.test_live_bus import _nats
from tests.natsd import NatsServer

from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.runtime import ExchangeRuntime


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    yield from _nats(tmp_path)


def test_a_node_puts_its_partners_in_operation_by_itself(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    with federation(tmp_path, ("KZ", "BY"), START) as fed:
        runtimes = {
            s: ExchangeRuntime({s: fed.contexts[s]}, NatsBus(nats_server.url), relay_interval=0.01)
            for s in ("KZ", "BY")
        }
        for runtime in runtimes.values():
            runtime.start()
        try:
            answered = runtimes["KZ"].run_partner_tests("KZ", ["BY"], timeout=20)
            # RU has no node on this bus: nothing answers, so it is not in operation.
            silent = runtimes["KZ"].run_partner_tests("KZ", ["RU"], timeout=0.2)
        finally:
            for runtime in runtimes.values():
                runtime.stop()
        for process in ("P.CP.01", "P.SO.01"):
            outcomes = answered[process]["BY"]
            assert (len(outcomes), [o.scenario for o in outcomes if not o.passed]) == (5, [])
            assert not any(o.passed for o in silent[process]["RU"])
            with fed.nodes["KZ"].transit.read() as uow:
                assert uow.exchange.partners(process) == {"BY": True, "RU": False}
                results = uow.exchange.conformance_latest(process)
            assert {(r.from_state, r.to_state) for r in results} == {("KZ", "BY"), ("KZ", "RU")}
            # BY's own view is BY's to measure: KZ wrote nothing there.
            with fed.nodes["BY"].transit.read() as uow:
                assert uow.exchange.partners(process) == {}
