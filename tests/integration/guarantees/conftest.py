"""Nodes whose release gate is the guarantee ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from silkway.bootstrap import Node, build_node
from silkway.node.clock import ManualClock
from silkway.settings import Settings


@pytest.fixture
def node(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Node]:
    """The Kazakh node, on SQLite and on PostgreSQL, with the ledger as its release gate."""
    built = build_node(
        "KZ", Settings(data_dir=tmp_path), database_url=database_url, clock=clock, migrate=False
    )
    yield built
    built.dispose()


@pytest.fixture
def sqlite_node(
    sqlite_template: Path, clock: ManualClock, tmp_path: Path
) -> Iterator[Callable[[str], Node]]:
    """Builds a node of the given state on its own SQLite file (disposed at teardown)."""
    built: list[Node] = []

    def make(state: str) -> Node:
        target = tmp_path / f"{state.lower()}-{len(built)}.sqlite"
        shutil.copyfile(sqlite_template, target)
        n = build_node(
            state,
            Settings(data_dir=tmp_path),
            database_url=f"sqlite:///{target}",
            clock=clock,
            migrate=False,
        )
        built.append(n)
        return n

    yield make
    for n in built:
        n.dispose()
