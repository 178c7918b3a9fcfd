"""API routes of the node for Interstate exchange, under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from silkway.bootstrap import Node


def build_exchange_router(node: Node) -> APIRouter:
    return APIRouter(prefix="/api/v1")
