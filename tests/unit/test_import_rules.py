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
)

GUARANTEES = ("silkway.services.guarantee", "silkway.domain.guarantee", "silkway.domain.liability")
SEALS = (
    "silkway.services.seal",
    "silkway.services.telemetry",
    "silkway.domain.seal",
    "silkway.domain.telemetry",
)

TRANSIT = (
    "silkway.services.transit",
    "silkway.domain.movement",
    "silkway.domain.declaration",
    "silkway.domain.transit_messages",
    "silkway.examples",
)
EXCHANGE = (
    "silkway.services.exchange",
    "silkway.services.conformance",
    "silkway.services.journal",
    "silkway.services.register",
    "silkway.services.inbound",
    "silkway.services.outbound",
    "silkway.services.bus_ports",
)


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
            # ``from silkway.services import seals`` imports the module silkway.services.seals.
            found.update(
                f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")
            )
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def _reaching(importers: str | tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    """``importer -> imported`` for every import of a ``targets`` module by an ``importers`` one."""
    return [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if module.startswith(importers)
        for imported in sorted(imports)
        if imported.startswith(targets)
    ]


def test_the_graph_covers_the_whole_package() -> None:
    assert "silkway.bootstrap" in GRAPH
    assert "silkway.domain.movement" in GRAPH
    assert "silkway.services.transit" in GRAPH
    # The walker sees imports inside functions too (the CLI imports lazily).
    assert "silkway.bootstrap" in GRAPH["silkway.entrypoints.cli"]


def test_the_domain_imports_no_layer_above_it() -> None:
    assert (
        _reaching(
            "silkway.domain.",
            (
                "silkway.services",
                "silkway.adapters",
                "silkway.entrypoints",
                "silkway.bootstrap",
                "silkway.settings",
                "silkway.sim",
            ),
        )
        == []
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_domain_imports_no_framework(framework: str) -> None:
    assert _reaching("silkway.domain.", (framework,)) == []


def test_services_reach_adapters_only_through_ports() -> None:
    assert (
        _reaching(
            "silkway.services.",
            ("silkway.adapters", "silkway.entrypoints", "silkway.bootstrap", "silkway.settings"),
        )
        == []
    )


def test_adapters_import_no_use_case_only_ports() -> None:
    found = _reaching("silkway.adapters.", ("silkway.services", "silkway.entrypoints"))
    assert [line for line in found if not line.endswith("ports")] == []


def test_guarantees_and_seals_do_not_import_each_other() -> None:
    assert _reaching(GUARANTEES, SEALS) == []
    assert _reaching(SEALS, GUARANTEES) == []


def test_transit_reaches_guarantees_and_seals_only_through_ports() -> None:
    assert _reaching("silkway.services.transit", (*GUARANTEES, *SEALS)) == []


def test_the_exchange_imports_no_capability() -> None:
    # Handlers and conformance kits come from the capabilities, through bootstrap.
    assert _reaching(EXCHANGE, (*TRANSIT, *GUARANTEES, *SEALS)) == []


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
    GRAPH["silkway.domain._probe"] = {"silkway.adapters.db.engine"}
    try:
        assert _reaching("silkway.domain.", ("silkway.adapters",)) == [
            "silkway.domain._probe -> silkway.adapters.db.engine"
        ]
    finally:
        del GRAPH["silkway.domain._probe"]
