"""A small federation of real nodes for exchange tests: SQLite each, a shared key folder, and a
trust list the Commission signed (as the embedded Union publishes it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from silkway.bootstrap import (
    Node,
    build_node,
    compose_exchange,
    compose_sealer,
    publish_embedded_trust,
    trust_publisher,
)
from silkway.exchange import service as exchange
from silkway.exchange.journal import journal_envelope
from silkway.exchange.signing.commission import TrustPublisher
from silkway.exchange.signing.keystore import KeyStore
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit.security import QuotedSecurityGate


@dataclass
class Federation:
    nodes: dict[str, Node]
    contexts: dict[str, exchange.ExchangeContext]
    clock: ManualClock
    keys: KeyStore
    publisher: TrustPublisher
    settings: Settings
    wire: list[tuple[str, bytes, str]] = field(default_factory=list)
    receipts: list[tuple[str, exchange.Receipt]] = field(default_factory=list)

    def send(self, subject: str, data: bytes, message_id: str) -> None:
        self.wire.append((subject, data, message_id))

    def pump(self, rounds: int = 10) -> int:
        """Relay every outbox and deliver what was sent, until nothing moves."""
        delivered = 0
        for _ in range(rounds):
            for ctx in self.contexts.values():
                exchange.relay(ctx, self.send)
            if not self.wire:
                return delivered
            batch, self.wire = self.wire, []
            for subject, data, _message_id in batch:
                to_state = subject.split(".")[1]
                if "EEC" in self.contexts:
                    journal_envelope(self.contexts["EEC"], data)
                if to_state in self.contexts:
                    self.receipts.append(
                        (to_state, exchange.receive(self.contexts[to_state], data))
                    )
                    delivered += 1
        return delivered

    def open_all(self, process: str = "P.CP.01") -> None:
        """Mark the process in operation between every pair (as a passing interstate test would)."""
        for state, node in self.nodes.items():
            with node.transit.uow() as uow:
                for other in self.nodes:
                    if other != state:
                        uow.exchange.set_partner(process, other, True, self.clock.now(), "test")
                uow.commit()

    def close(self) -> None:
        for node in self.nodes.values():
            node.dispose()


@contextmanager
def federation(
    folder: Path, states: tuple[str, ...], start: datetime, *, guaranteed: bool = False
) -> Iterator[Federation]:
    """Nodes for ``states``; releases check only the security's format unless ``guaranteed``."""
    clock = ManualClock(start)
    settings = Settings(data_dir=folder)
    keys = KeyStore(settings.key_folder())
    publish_embedded_trust(settings, states, start)
    nodes = {
        s: build_node(
            s,
            settings,
            clock=clock,
            security=None if guaranteed else QuotedSecurityGate(),
        )
        for s in states
    }
    contexts = {
        s: compose_exchange(n.transit, n.guarantees, n.seals, compose_sealer(s, settings))
        for s, n in nodes.items()
    }
    fed = Federation(nodes, contexts, clock, keys, trust_publisher(settings), settings)
    try:
        yield fed
    finally:
        fed.close()
