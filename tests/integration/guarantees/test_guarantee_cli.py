"""``silkway guarantee register|show|balance|history`` and ``silkway claims report|problems``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.auth import cli_user
from typer.testing import CliRunner

from silkway.entrypoints.cli import app
from silkway.identity.domain.principal import Role
from silkway.kernel.codes import validate_grn
from silkway.node.clock import SystemClock

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SILKWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SILKWAY_DATABASE_URL", raising=False)
    # The commands that change state run as a user whose role may run them.
    cli_user(monkeypatch, "KZ", Role.OFFICER)
    return tmp_path


def invoke(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, list(args))
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.stdout


def test_register_then_show_balance_and_history() -> None:
    code, done = invoke(
        "guarantee", "register", "--node", "KZ", "--amount", "500000", "--holder",
        "210340012345", "--holder-name", "Silk Road LLP", "--qualified",
        "--guarantor-name", "Halyk Bank", "--national-pct", "50", "--states", "KZ,RU,BY",
    )  # fmt: skip
    assert code == 0, done
    grn = done["grn"]
    assert validate_grn(grn).valid
    assert len(done["access_code"]) == 4

    code, shown = invoke("guarantee", "show", grn)  # the node is read from the GRN
    assert code == 0, shown
    assert shown["valid_states"] == ["BY", "KZ", "RU"]
    assert shown["guarantor"]["reduction_pct"] == "50.00"
    assert shown["holder"]["qualified"] is True

    code, balance = invoke("guarantee", "balance", grn)
    assert (code, balance["available"], balance["usages"]) == (0, "500000.00", [])
    code, history = invoke("guarantee", "history", grn)
    assert code == 0
    assert [h["kind"] for h in history] == ["register"]

    # The report runs to the CLI node's today (the real clock): start the period in its year.
    year_start = SystemClock().now().date().replace(month=1, day=1).isoformat()
    code, report = invoke("claims", "report", "--node", "KZ", "--from", year_start)
    assert code == 0, report
    assert report["balanced"] is True
    assert report["lines"] == []
    code, problems = invoke("claims", "problems", "--node", "KZ")
    assert (code, problems) == (0, {"total": 0, "problems": []})


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("guarantee", "register", "--node", "KZ", "--amount", "lots", "--holder", "H"),
         "amount-invalid"),
        (("guarantee", "register", "--node", "KZ", "--amount", "5", "--holder", "H"),
         "guarantor-missing"),
        (("guarantee", "register", "--node", "KZ", "--amount", "5", "--holder", "H",
          "--guarantor-id", "KZ-GR000009"), "guarantee-registration-invalid"),
        (("guarantee", "show", "26KZ19201G0004171"), "guarantee-not-found"),
        (("guarantee", "balance", "XX"), "node-unknown"),
        (("claims", "report"), "node-unknown"),
        (("claims", "problems"), "node-unknown"),
        (("claims", "report", "--node", "KZ", "--from", "2026-13-01"), "date-invalid"),
    ],
)  # fmt: skip
def test_refusals_exit_1_with_the_reason(args: tuple[str, ...], error: str) -> None:
    code, out = invoke(*args)
    assert code == 1
    assert out["error"] == error
