"""The layering rules of docs/ARCHITECTURE.md, checked over the import graph of ``src/silkway``.

Every import statement of every module counts, including those inside functions and under
``TYPE_CHECKING``: a rule that holds only at run time would still let the shape rot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "silkway"

# Frameworks and I/O libraries the pure domain must not reach (pydantic shapes the declaration,
# numpy does the geometry: both are pure computation).
FRAMEWORKS = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "nats",
    "aiomqtt",
    "paho",
    "lxml",
    "cryptography",
    "typer",
    "httpx",
    "pydantic_settings",
    "joserfc",
    "pwdlib",
    "pyotp",
    "limits",
)

CAPABILITIES = ("identity", "exchange", "transit", "guarantees", "seals", "anchoring")
IN_A_CAPABILITY = tuple(f"silkway.{c}." for c in CAPABILITIES)

# Where adapters and entrypoints live inside a capability; everything else there is the domain
# (``<capability>.domain``) or its use cases and ports.
ADAPTERS = (
    "silkway.node.db",
    "silkway.node.clock",
    *(f"silkway.{c}.db" for c in CAPABILITIES),
    "silkway.exchange.bus.inproc",
    "silkway.exchange.bus.nats",
    "silkway.exchange.bus.runner",
    "silkway.exchange.bus.handling",
    "silkway.exchange.bus.subjects",
    "silkway.exchange.signing",
    "silkway.exchange.xml",
    "silkway.seals.devices",
)
ENTRYPOINTS = (
    *(f"silkway.{c}.api" for c in CAPABILITIES),
    *(f"silkway.{c}.cli" for c in CAPABILITIES),
    "silkway.exchange.runtime",
    "silkway.seals.listeners",
    "silkway.web",
    "silkway.entrypoints",
    "silkway.sim",
)
COMPOSITION = ("silkway.bootstrap", "silkway.settings")
# Composing every capability's storage is their job, as composing the node is bootstrap's.
COMPOSERS = ("silkway.node.db.unit_of_work", "silkway.node.db.schema", "silkway.node.db.migrations")
PORTS = ("silkway.unit_of_work", "silkway.node.ports", "silkway.exchange.bus.ports")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    package = _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from silkway.seals import service`` imports the module silkway.seals.service.
            found.update(
                f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")
            )
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def _reaching(importers: str | tuple[str, ...] | list[str], targets: tuple[str, ...]) -> list[str]:
    """``importer -> imported`` for every import of a ``targets`` module by an ``importers`` one.

    Importers are module prefixes, or (a list) the exact modules."""
    return [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if (module in importers if isinstance(importers, list) else module.startswith(importers))
        for imported in sorted(imports)
        if imported.startswith(targets)
    ]


def _is_domain(module: str) -> bool:
    return module.startswith(("silkway.kernel", "silkway.reference.model")) or any(
        module.startswith(f"silkway.{c}.domain") for c in CAPABILITIES
    )


def _use_cases() -> list[str]:
    """Capability modules that are neither domain, adapter nor entrypoint."""
    return [
        m
        for m in GRAPH
        if m.startswith(IN_A_CAPABILITY)
        and not _is_domain(m)
        and not m.startswith((*ADAPTERS, *ENTRYPOINTS))
    ]


def test_the_graph_covers_the_whole_package() -> None:
    assert "silkway.bootstrap" in GRAPH
    assert "silkway.transit.domain.movement" in GRAPH
    assert "silkway.transit.service" in GRAPH
    assert "silkway.guarantees.gate" in _use_cases()
    # The walker sees imports inside functions too (the CLI imports lazily).
    assert "silkway.bootstrap" in GRAPH["silkway.entrypoints.cli"]


def test_the_domain_imports_only_the_domain() -> None:
    found = [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if _is_domain(module)
        for imported in sorted(imports)
        if imported.startswith("silkway.") and not _is_domain(imported)
    ]
    assert found == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_domain_imports_no_framework(framework: str) -> None:
    assert _reaching([m for m in GRAPH if _is_domain(m)], (framework,)) == []


def test_use_cases_reach_adapters_only_through_ports() -> None:
    assert _reaching(_use_cases(), (*ADAPTERS, *ENTRYPOINTS, *COMPOSITION)) == []


def test_adapters_import_no_use_case_only_ports_and_the_domain() -> None:
    adapters = [m for m in GRAPH if m.startswith(ADAPTERS) and not m.startswith(COMPOSERS)]
    found = _reaching(adapters, IN_A_CAPABILITY)
    allowed = (*ADAPTERS, *PORTS)
    assert [
        line
        for line in found
        if not (
            _is_domain(line.split(" -> ")[1])
            or line.endswith((".ports", ".hooks"))
            or line.split(" -> ")[1].startswith(allowed)
        )
    ] == []


def test_node_and_kernel_import_no_capability() -> None:
    plumbing = [
        m
        for m in GRAPH
        if m.startswith(("silkway.node", "silkway.kernel")) and not m.startswith(COMPOSERS)
    ]
    assert _reaching(plumbing, tuple(f"silkway.{c}" for c in CAPABILITIES)) == []


def test_guarantees_and_seals_do_not_import_each_other() -> None:
    assert _reaching("silkway.guarantees", ("silkway.seals",)) == []
    assert _reaching("silkway.seals", ("silkway.guarantees",)) == []


def test_transit_reaches_guarantees_and_seals_only_through_ports() -> None:
    assert _reaching("silkway.transit", ("silkway.guarantees", "silkway.seals")) == []


def test_identity_imports_no_other_capability() -> None:
    # Every capability's routes ask identity who is calling; identity knows none of them.
    others = ("silkway.exchange", "silkway.transit", "silkway.guarantees", "silkway.seals")
    assert _reaching("silkway.identity", others) == []


def test_the_exchange_imports_no_capability() -> None:
    # Handlers and conformance kits come from the capabilities, through bootstrap.
    assert (
        _reaching(
            "silkway.exchange",
            ("silkway.transit", "silkway.guarantees", "silkway.seals", "silkway.examples"),
        )
        == []
    )


def _circles() -> list[list[str]]:
    """Every set of modules that import each other round a circle (Tarjan's components)."""
    edges = {m: sorted(i for i in imports if i in GRAPH and i != m) for m, imports in GRAPH.items()}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in edges[module]:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in edges:
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    assert _circles() == []


def test_a_circle_is_found() -> None:
    GRAPH["silkway._probe_a"] = {"silkway._probe_b"}
    GRAPH["silkway._probe_b"] = {"silkway._probe_a"}
    try:
        assert _circles() == [["silkway._probe_a", "silkway._probe_b"]]
    finally:
        del GRAPH["silkway._probe_a"], GRAPH["silkway._probe_b"]


def test_the_rules_catch_a_violation() -> None:
    # The check itself can fail: a domain module importing an adapter is reported.
    GRAPH["silkway.transit.domain._probe"] = {"silkway.node.db.engine"}
    try:
        with pytest.raises(AssertionError):
            test_the_domain_imports_only_the_domain()
        assert _reaching("silkway.transit.domain.", ("silkway.node.db",)) == [
            "silkway.transit.domain._probe -> silkway.node.db.engine"
        ]
    finally:
        del GRAPH["silkway.transit.domain._probe"]
