"""A KZ node on the test's database (SQLite and PostgreSQL) for the seal integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.seals.seal_support import seal_node

from silkway.bootstrap import Node
from silkway.node.clock import ManualClock


@pytest.fixture
def node(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Node]:
    n = seal_node(database_url, clock, tmp_path)
    yield n
    n.dispose()
