"""``silkway simulate`` against a real ``silkway run``: the whole chain through the public API.

The Union runs as ``make run`` starts it (its own process, SQLite, the in-process bus; on NATS
in the second case), its demo traffic off so that what the run counts is its own. The
simulator lodges traffic on every corridor as the demo's declarants and drives each movement
to its end as the officers on its route would; every movement must be accounted for, every
message answered positively on the bus, every guarantee lock credited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from tests.natsd import NatsServer, free_port, require_nats
from tests.union import silkway_run
from typer.testing import CliRunner

from silkway.entrypoints.cli import app

runner = CliRunner()


@pytest.fixture(params=["inproc", "nats"])
def union(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    env = {"SILKWAY_DEMO_TRAFFIC": "false"}
    with ExitStack() as stack:
        if request.param == "nats":
            require_nats()
            nats = NatsServer(tmp_path / "nats")
            nats.start()
            stack.callback(nats.stop)
            nats.wait_ready()
            env["SILKWAY_BUS_URL"] = nats.url
        yield stack.enter_context(silkway_run(tmp_path / "data", env=env)).base


def _simulate(base: str, *options: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["simulate", "--api", base, "--quiet", *options])
    return result.exit_code, json.loads(result.stdout)


def test_every_simulated_movement_ends_and_is_accounted_for(union: str) -> None:
    code, summary = _simulate(
        union, "--movements", "12", "--seed", "5", "--timeout", "240", "--tamper", "0.5"
    )
    assert code == 0, summary
    assert (summary["planned"], summary["lodged"], summary["refused_at_lodging"]) == (12, 12, {})
    assert sum(summary["by_corridor"].values()) == 12
    assert len(summary["by_corridor"]) >= 3  # several corridors, not one example repeated
    assert summary["outcomes"] == {"completed": 12}
    assert summary["every_movement_accounted_for"] is True
    steps = summary["steps"]
    assert steps["accept"] == steps["release"] == steps["arrival"] == 12
    # Every message about the run's movements (transit, and the seal operators' hand-overs)
    # went on the bus and was answered positively.
    assert set(summary["messages"]) <= {"P.CP.01 bus accepted", "P.SO.01 bus accepted"}
    assert summary["messages"]["P.CP.01 bus accepted"] >= 3 * 12
    # The seals of the movements from Kazakhstan (the node the listeners feed) reported over
    # their protocols; the node stored every fix acknowledged, and each tampering reported
    # opened its incident, nothing else.
    positions = summary["positions"]
    assert positions
    assert set(positions) <= {"egts", "wialon", "teltonika"}
    assert all(p["acknowledged"] == p["sent"] > 0 for p in positions.values())
    assert summary["stored_positions"] == sum(p["sent"] for p in positions.values())
    assert summary["tampered"]
    assert summary["incidents"] == summary["tampered"]
    # Every lock taken at release was credited at completion.
    assert summary["guarantees"]
    assert {g["locked"] for g in summary["guarantees"].values()} == {"0.00"}

    # Same seed, same traffic: lodged again, every declaration is the very one already lodged
    # (an LRN reused with another byte would be refused), and the outcomes are the same.
    code, again = _simulate(union, "--movements", "12", "--seed", "5", "--timeout", "60")
    assert code == 0, again
    assert (again["lodged"], again["refused_at_lodging"]) == (12, {})
    assert (again["by_corridor"], again["outcomes"]) == (
        summary["by_corridor"],
        summary["outcomes"],
    )
    assert again["steps"] == {}  # nothing left to do: they had all ended


def test_a_union_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    code, answer = _simulate(f"http://127.0.0.1:{free_port()}", "--movements", "1", "--wait", "0")
    assert code == 1
    assert answer["error"] == "union-unreachable"
