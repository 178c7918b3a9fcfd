"""Abuse limits and response headers on a real HTTP server (uvicorn, as `silkway node` runs it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from silkway.bootstrap import Node
from silkway.entrypoints.serve import SERVER_LIMITS
from silkway.web.app import create_node_app
from silkway.web.headers import MAX_HEADER_BYTES


@pytest.fixture
def server(kz_node: Node) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        create_node_app(kz_node), host="127.0.0.1", port=port, log_level="error", **SERVER_LIMITS
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_every_answer_carries_the_security_headers(kz_node: Node) -> None:
    with TestClient(create_node_app(kz_node)) as c:
        for response in (c.get("/health"), c.get("/api/v1/movements"), c.get("/nope")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["cache-control"] == "no-store"
            assert "default-src 'none'" in response.headers["content-security-policy"]
        docs = c.get("/docs")
        assert docs.headers["x-frame-options"] == "DENY"
        assert "content-security-policy" not in docs.headers  # the page loads its own scripts


def test_an_oversized_request_head_is_refused_by_the_server(server: str) -> None:
    assert httpx.get(f"{server}/health").status_code == 200
    # h11 counts what it buffers of an unfinished head; the server reads 64 KiB at a time.
    huge = {"X-Padding": "a" * (16 * MAX_HEADER_BYTES)}
    try:
        status = httpx.get(f"{server}/health", headers=huge).status_code
    except httpx.TransportError:
        status = 0  # the server closed the connection without an answer: refused all the same
    assert status in (0, 400, 431)
