"""A node tests its partners on its own, over the live bus, and writes only its own view.

Each scenario of :func:`~silkway.exchange.conformance.run_pair` is a signed envelope this node
sends to the partner and the R.006 the partner's own node answers; nothing here touches the
partner's database or keys. A passing run from here to a partner means the partner opens,
checks and answers this node's messages correctly: it is what this node's relay needs to send
them electronically, so this node records it as its partner's status for that process, and
keeps the results as the evidence. The partner decides the other direction by testing back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from silkway.exchange.conformance import ScenarioOutcome, Settle, run_pair
from silkway.exchange.ports import ConformanceResult
from silkway.exchange.service import ExchangeContext, Send

log = logging.getLogger("silkway.exchange")


def run_partner_tests(
    ctx: ExchangeContext,
    partners: Iterable[str],
    send: Send,
    settle: Settle,
    *,
    timeout: float = 10.0,
) -> dict[str, dict[str, list[ScenarioOutcome]]]:
    """Run every process's kit from this node to each partner; record each outcome here."""
    results: dict[str, dict[str, list[ScenarioOutcome]]] = {p: {} for p in ctx.kits}
    for process in ctx.kits:
        for partner in partners:
            if partner == ctx.state:
                continue
            outcomes = run_pair(ctx, partner, send, settle, timeout=timeout, process=process)
            results[process][partner] = outcomes
            _record(ctx, process, partner, outcomes)
    return results


def _record(
    ctx: ExchangeContext, process: str, partner: str, outcomes: list[ScenarioOutcome]
) -> None:
    now = ctx.node.clock.now()
    run_id = str(uuid.uuid4())
    passed = bool(outcomes) and all(o.passed for o in outcomes)
    with ctx.node.uow() as uow:
        for o in outcomes:
            uow.exchange.conformance_add(
                ConformanceResult(
                    run_id, process, ctx.state, partner, o.scenario, o.passed, o.detail, now
                )
            )
        uow.exchange.set_partner(process, partner, passed, now, run_id)
        uow.commit()
    log.info(
        "interstate tests %s %s -> %s: %s",
        process,
        ctx.state,
        partner,
        "in operation" if passed else "not in operation",
    )
