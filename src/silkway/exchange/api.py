"""API routes of the node for the interstate exchange, under ``/api/v1``.

Every node: its outbound messages and what became of them (bus or paper, R.006 outcome), its
inbox, dead letters (and retrying one), and where each process is in operation; a running
member state's node also runs its interstate tests on request. The Commission's node also
answers for the integration journal and the register of processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from silkway.bootstrap import Node
from silkway.exchange import register
from silkway.exchange import service as exchange
from silkway.exchange.ports import (
    ConformanceResult,
    InboxEntry,
    JournalEntry,
    OutboxView,
    PartnerTestRuns,
)
from silkway.identity.access import Actor
from silkway.kernel.errors import DomainError
from silkway.kernel.wire import QueryFlag
from silkway.reference.model import COMMISSION
from silkway.web.problems import ApiProblem
from silkway.web.responses import problem, problems

MessageId = Annotated[str, Path(pattern=r"^urn:uuid:[0-9a-f-]{36}$")]
StateQuery = Annotated[str | None, Query(pattern=r"^(AM|BY|KZ|KG|RU|EEC)$")]
MAX_ID = 2_147_483_647
"""The largest number a query takes (a 32-bit column's): larger ones cannot be stored."""


class DeadLetterOut(BaseModel):
    id: int
    message_id: str | None
    subject: str
    reason: str
    attempts: int
    created_at: datetime
    retried_at: datetime | None
    resolved: bool


class PartnerTestsRequested(BaseModel):
    """A run of the interstate tests, asked for: it runs in the background, and its results
    replace the last run's where those are read (``links``)."""

    state: str
    partners: list[str]
    processes: list[str]
    requested_at: datetime
    links: dict[str, str]


def build_exchange_router(node: Node, partner_tests: PartnerTestRuns | None = None) -> APIRouter:
    """The exchange's routes; ``partner_tests`` are the running node's interstate tests, which
    only a ``silkway node`` of a member state has (None: nothing to run on request)."""
    router = APIRouter(prefix="/api/v1", tags=["exchange"])
    uow = node.transit.uow
    read = node.transit.read

    @router.get("/messages", response_model=list[OutboxView], summary="Outbound messages")
    def messages(
        movement: Annotated[str | None, Query(max_length=24)] = None,
        channel: Annotated[str | None, Query(pattern="^(bus|paper|dead|pending)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[OutboxView]:
        with read() as u:
            return u.exchange.outbox_views(
                movement_reference=movement, channel=channel, limit=limit, offset=offset
            )

    @router.get("/messages/{message_id}", response_model=OutboxView, responses=problems(404))
    def message(message_id: MessageId) -> OutboxView:
        with read() as u:
            views = u.exchange.outbox_views(message_id=message_id, limit=1)
        if not views:
            raise ApiProblem(404, "message-not-found", "Message not found", message_id)
        return views[0]

    @router.get("/inbox", response_model=list[InboxEntry], summary="Inbound envelopes processed")
    def inbox(
        relates_to: Annotated[str | None, Query(max_length=45)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[InboxEntry]:
        with read() as u:
            return u.exchange.inbox(relates_to=relates_to, limit=limit, offset=offset)

    @router.get("/dead-letters", response_model=list[DeadLetterOut])
    def dead_letters(include_resolved: QueryFlag = False) -> list[DeadLetterOut]:
        with read() as u:
            letters = u.exchange.dead_letters(include_resolved=include_resolved)
        return [DeadLetterOut.model_validate(d, from_attributes=True) for d in letters]

    @router.post(
        "/dead-letters/{dead_letter_id}/retry",
        summary="Process a dead letter again",
        responses=problems(404),
    )
    def retry(dead_letter_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
        try:
            receipt = exchange.retry_dead_letter(node.exchange, dead_letter_id)
        except DomainError as exc:
            raise ApiProblem(404, exc.code, "Dead letter not found", exc.message) from exc
        return {
            "outcome": receipt.outcome,
            "message_id": receipt.message_id,
            "errors": receipt.errors,
        }

    @router.get("/partners", summary="Where each process is in operation, as measured")
    def partner_status(
        process: Annotated[str, Query(pattern=r"^P\.[A-Z]{2}\.\d{2}$")] = "P.CP.01",
    ) -> dict[str, bool]:
        with read() as u:
            return u.exchange.partners(process)

    @router.post(
        "/partners/tests",
        status_code=202,
        response_model=PartnerTestsRequested,
        summary="Run the interstate tests against every partner now",
        responses={
            409: problem(
                409,
                "No run was asked for: one is under way or already asked for "
                "(`partner-tests-running`; its results will appear at /partners and "
                "/conformance), or this node has no live exchange of its own to test over "
                "(`partner-tests-unavailable`: the embedded Union measures its pairs at "
                "start-up, and the Commission is no partner).",
            )
        },
    )
    def partner_tests_now(request: Request) -> PartnerTestsRequested:
        if partner_tests is None:
            # A conflict with how this node runs, not a fault: it will not change by retrying.
            raise ApiProblem(
                409,
                "partner-tests-unavailable",
                "No live exchange to test over",
                "the Commission is no partner in a process: its node runs no interstate tests"
                if node.state == COMMISSION
                else f"this app of the {node.state} node runs no interstate tests of its own: "
                "it is not a 'silkway node' on a live bus (the embedded Union measures every "
                "pair at start-up)",
            )
        if not partner_tests.run_now():
            raise ApiProblem(
                409,
                "partner-tests-running",
                "Interstate tests already running",
                f"the {node.state} node's interstate tests against "
                f"{', '.join(partner_tests.partners)} are under way or already asked for: "
                "their results will appear at /api/v1/partners and /api/v1/conformance",
            )
        # The node's own mount point, as the Union mounts each node's app under /nodes/{state}.
        base = f"{request.scope.get('root_path', '')}/api/v1"
        return PartnerTestsRequested(
            state=node.state,
            partners=list(partner_tests.partners),
            processes=sorted(node.exchange.kits),
            requested_at=node.transit.clock.now(),
            links={"partners": f"{base}/partners", "conformance": f"{base}/conformance"},
        )

    @router.get("/journal", response_model=list[JournalEntry], summary="Integration journal (EEC)")
    def journal(
        conversation: Annotated[str | None, Query(max_length=36)] = None,
        process: Annotated[str | None, Query(max_length=16)] = None,
        from_state: StateQuery = None,
        to_state: StateQuery = None,
        outcome: Annotated[str | None, Query(pattern="^(accepted|rejected|unanswered)$")] = None,
        min_latency_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[JournalEntry]:
        with read() as u:
            return u.exchange.journal(
                conversation_id=conversation,
                process=process,
                from_state=from_state,
                to_state=to_state,
                outcome=outcome,
                min_latency_ms=min_latency_ms,
                limit=limit,
                offset=offset,
            )

    @router.get("/register", summary="Common processes: approved vs in operation (EEC)")
    def register_headline() -> dict[str, Any]:
        with read() as u:
            return register.headline(u)

    @router.post(
        "/register/import",
        summary="Import the register of processes from CSV (EEC)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def register_import(request: Request, actor: Actor) -> dict[str, int]:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiProblem(400, "encoding-invalid", "Not UTF-8", str(exc)) from exc

        def run() -> dict[str, int]:
            now = node.transit.clock.now()
            with uow() as u:
                report = register.import_register(u, text, now, source=f"{actor}: import")
                u.commit()
            return {"processes": report.processes, "stages": report.stages}

        return await run_in_threadpool(run)

    @router.get(
        "/conformance", response_model=list[ConformanceResult], summary="Latest test results"
    )
    def conformance(
        process: Annotated[str | None, Query(max_length=16)] = None,
    ) -> list[ConformanceResult]:
        with read() as u:
            return u.exchange.conformance_latest(process)

    return router
