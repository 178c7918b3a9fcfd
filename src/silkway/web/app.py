"""ASGI applications: one per node, and the embedded Union that mounts them all."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fastapi import Depends, FastAPI, Response
from fastapi.responses import HTMLResponse

from silkway import __version__
from silkway.anchoring.api import build_anchor_router
from silkway.bootstrap import Node
from silkway.exchange.api import build_exchange_router
from silkway.exchange.ports import PartnerTestRuns
from silkway.guarantees.api import build_guarantee_router
from silkway.guarantees.api.ownership import GuaranteeOwnership
from silkway.identity.api import build_identity_router
from silkway.identity.domain.policy import Own
from silkway.seals.api import build_seal_router
from silkway.seals.listeners.runtime import DeviceBoard
from silkway.transit.api.routes import build_router
from silkway.web.guard import AccessLog, GuardSettings, make_guard
from silkway.web.headers import SecurityHeaders
from silkway.web.landing import landing_page
from silkway.web.problems import BodySizeLimit, install_problem_handlers
from silkway.web.responses import document_problems

MAX_BODY_BYTES = 1 << 20
"""The largest request body a node accepts (a 999-item declaration fits easily)."""


def create_node_app(
    node: Node,
    *,
    root_path: str = "",
    devices: DeviceBoard | None = None,
    partner_tests: PartnerTestRuns | None = None,
) -> FastAPI:
    """A node's API; ``partner_tests`` are the interstate tests of a running ``silkway node``,
    which its administrators may start on request (without them the route says why not)."""
    settings = node.settings
    owned = GuaranteeOwnership(node.guarantees)
    guard = make_guard(
        node.identity,
        GuardSettings(rate_limit=settings.rate_limit, token_rate_limit=settings.token_rate_limit),
        {Own.GUARANTEE: owned.guarantee, Own.GUARANTOR: owned.guarantor},
    )
    app = FastAPI(
        title=f"Silkway node {node.state}",
        version=__version__,
        description=f"The national transit system of {node.state}: declarations, movements, "
        "office worklists and the tamper-evident event log. Every route but the token "
        "endpoint, the keys and /health takes a bearer token (Authorize: a token from "
        "POST /api/v1/auth/token).",
        root_path=root_path,
        dependencies=[Depends(guard)],
    )
    install_problem_handlers(app)
    app.include_router(build_identity_router(node.identity))
    app.include_router(build_router(node.transit))
    app.include_router(build_guarantee_router(node))
    app.include_router(build_seal_router(node))
    app.include_router(build_exchange_router(node, partner_tests))
    app.include_router(build_anchor_router(node.anchoring))

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "node": node.state}

    board = devices or DeviceBoard()

    @app.get("/api/v1/devices/listeners", tags=["seals"])
    def device_listeners() -> dict[str, Any]:
        """What this process's device listeners have seen: per TCP port and for MQTT, the
        connections, frames, positions and failures since start."""
        return board.status()

    document_problems(app)
    app.add_middleware(AccessLog, ctx=node.identity)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app


def create_union_app(
    nodes: Mapping[str, Node],
    *,
    devices: DeviceBoard | None = None,
    ready: threading.Event | None = None,
) -> FastAPI:
    """The embedded set-up: a landing page at ``/`` and each node under ``/nodes/{state}``;
    ``/health`` answers 503 until ``ready`` is set (the demo's set-up is done)."""
    app = FastAPI(title="Silkway", version=__version__, docs_url=None, redoc_url=None)
    install_problem_handlers(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing() -> str:
        return landing_page(nodes)

    @app.get("/health")
    def health(response: Response) -> dict[str, object]:
        if ready is not None and not ready.is_set():
            response.status_code = 503
            return {"status": "starting", "nodes": sorted(nodes)}
        return {"status": "ok", "nodes": sorted(nodes)}

    for state, node in nodes.items():
        app.mount(f"/nodes/{state.lower()}", create_node_app(node, devices=devices))
    app.add_middleware(SecurityHeaders)
    return app
