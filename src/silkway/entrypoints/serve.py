"""Starting servers: the embedded Union (``silkway run``) and one node (``silkway node``)."""

from __future__ import annotations

import logging

import uvicorn

from silkway.bootstrap import build_node, build_union
from silkway.entrypoints.api.app import create_node_app, create_union_app
from silkway.settings import Settings

log = logging.getLogger("silkway")


def serve_union(settings: Settings, *, host: str, port: int, demo: bool) -> None:
    from silkway.sim.demo import DemoTraffic

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    nodes = build_union(settings)
    app = create_union_app(nodes)
    traffic = DemoTraffic(nodes) if demo and settings.demo_traffic else None
    base = f"http://{host}:{port}"
    print(f"Silkway is up: landing page {base}/", flush=True)
    for state in nodes:
        print(
            f"  node {state}: API {base}/nodes/{state.lower()}/api/v1 "
            f"(docs {base}/nodes/{state.lower()}/docs)",
            flush=True,
        )
    if traffic:
        traffic.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if traffic:
            traffic.stop()
        for n in nodes.values():
            n.dispose()


def serve_node(
    state: str, settings: Settings, *, database_url: str | None, host: str, port: int
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node = build_node(state, settings, database_url=database_url)
    app = create_node_app(node)
    print(
        f"Silkway node {state} is up: API http://{host}:{port}/api/v1 "
        f"(docs http://{host}:{port}/docs)",
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        node.dispose()
