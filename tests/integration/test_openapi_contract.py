"""The OpenAPI tells the truth: schemathesis runs every check over a node's API, in process.

Every phase runs (the schema's examples, coverage of each constraint's edges, fuzzing, and
stateful sequences that feed one response into the next request), with ``--checks all``'s
checks as ``schemathesis.toml`` configures them, which is where the one widened check says why.
The examples are bounded so that the run stays within a minute or two on two cores, and the
seed is fixed so that a failure here is a failure on every machine (``SILKWAY_CONTRACT_SEED``
and ``SILKWAY_CONTRACT_EXAMPLES`` explore further).

Why one node stands for all six: every node's app is :func:`create_node_app` over the same
routers, which :func:`test_every_node_publishes_the_same_contract` proves by comparing their
documents; the Union app mounts those apps unchanged under ``/nodes/{state}`` and documents
only its own ``/health``, which :func:`test_the_union_keeps_its_contract` runs through the same
checks.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import CacheConfig, SchemathesisConfig
from schemathesis.engine import events, from_schema
from tests.auth import demo_over_http, permitted_bearer

from silkway.bootstrap import Node, build_node
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.sim import demo
from silkway.web.app import create_node_app, create_union_app

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("SILKWAY_CONTRACT_SEED", "20261201"))
EXAMPLES = int(os.environ.get("SILKWAY_CONTRACT_EXAMPLES", "5"))
STATES = ("AM", "BY", "KZ", "KG", "RU", "EEC")


@pytest.fixture
def api_headers() -> dict[str, str]:
    """Headers every generated request carries; the bearer token is set per operation."""
    return {}


def _node(state: str, template: Path, tmp_path: Path, clock: ManualClock) -> Node:
    target = tmp_path / f"{state.lower()}.sqlite"
    shutil.copyfile(template, target)
    return build_node(
        state,
        Settings(data_dir=tmp_path / state.lower()),
        database_url=f"sqlite:///{target}",
        clock=clock,
        migrate=False,
    )


@pytest.fixture
def kz_with_traffic(sqlite_template: Path, tmp_path: Path, clock: ManualClock) -> Iterator[Node]:
    """The Kazakh node as the demo leaves it: guarantees, and movements in several states."""
    node = _node("KZ", sqlite_template, tmp_path, clock)
    with demo_over_http({"KZ": node}) as traffic:
        demo.register_example_guarantees(traffic)
        rng = random.Random(SEED)
        for serial in range(12):
            demo.tick(traffic, serial, rng)
    yield node
    node.dispose()


def _config(headers: dict[str, str]) -> SchemathesisConfig:
    # The hooks file in schemathesis.toml is named from the project's root.
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
    finally:
        os.chdir(cwd)
    config.update(seed=SEED, max_failures=None)
    # No replay of what an earlier run on this machine found: the seed alone decides the cases.
    config.cache = CacheConfig(enabled=False)
    project = config.projects.default
    project.update(headers=headers, workers=1)
    project.generation.update(max_examples=EXAMPLES)
    # The incident stream is a long poll held open for `wait` seconds (25 by default): it is
    # tested with no wait, every other parameter as generated.
    project.update(parameters={"wait": 0})
    return config


def _run(app: FastAPI, headers: dict[str, str], node: Node) -> tuple[int, list[str]]:
    """Cases run and failures found (each once, with how to reproduce it)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(headers))

    @schema.auth(refresh_interval=None)
    class PermittedCaller:
        """Each request carries a fresh token of a role its route's policy allows, so the checks
        reach the route itself; who may call what is tested in tests/integration/identity."""

        def get(self, case: Any, ctx: Any) -> dict[str, str]:
            path = str(case.operation.path).removeprefix("/nodes/kz")
            return permitted_bearer(node, case.operation.method.upper(), path, case.body)

        def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
            case.headers = {**(case.headers or {}), **data}

    cases = 0
    found: dict[tuple[str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (event.recorder.label, f"{failure.title}: {failure.message}")
                    found.setdefault(key, check.failure_info.code_sample)
        elif isinstance(event, events.NonFatalError):
            found[(event.label, f"error: {event.value!r}")] = ""
        elif isinstance(event, events.FatalError):
            found[("run", f"fatal: {event.exception!r}")] = ""
    return cases, [f"{where} — {what}\n    {sample}" for (where, what), sample in found.items()]


def test_every_operation_keeps_its_contract(
    kz_with_traffic: Node, api_headers: dict[str, str]
) -> None:
    cases, failures = _run(create_node_app(kz_with_traffic), api_headers, kz_with_traffic)
    assert cases > 100, f"only {cases} cases ran"
    assert not failures, f"{len(failures)} failure(s) in {cases} cases:\n" + "\n".join(failures)


def test_the_union_keeps_its_contract(kz_with_traffic: Node, api_headers: dict[str, str]) -> None:
    cases, failures = _run(create_union_app({"KZ": kz_with_traffic}), api_headers, kz_with_traffic)
    assert cases > 0
    assert not failures, "\n".join(failures)


def test_every_node_publishes_the_same_contract(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    documents: dict[str, dict[str, Any]] = {}
    for state in STATES:
        node = _node(state, sqlite_template, tmp_path, clock)
        document = create_node_app(node).openapi()
        documents[state] = {k: v for k, v in document.items() if k != "info"}
        node.dispose()
    assert all(d == documents["KZ"] for d in documents.values())


def test_every_refusal_is_documented_as_a_problem(kz_with_traffic: Node) -> None:
    document = create_node_app(kz_with_traffic).openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert {"401", "403", "429"} <= responses.keys(), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["required"])
