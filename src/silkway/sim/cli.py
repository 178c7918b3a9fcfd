"""``silkway simulate``: a bounded run of simulated traffic against a running Union."""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import httpx2
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silkway.entrypoints.cli_output import emit, fail
from silkway.node.clock import SystemClock
from silkway.reference.loader import load_reference
from silkway.reference.model import MEMBER_STATES
from silkway.settings import Settings
from silkway.sim.accounts import DEMO_PASSWORD
from silkway.sim.client import CallRefused, UnionClient
from silkway.sim.simulation import Simulation
from silkway.sim.traffic import TrafficModel

__all__ = ["simulate"]


def _wait_ready(http: httpx2.Client, base: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            answer = http.get("/health")
            if answer.status_code == 200:
                return
            problem = f"/health answers {answer.status_code}"
        except httpx2.HTTPError as exc:
            problem = str(exc)
        if time.monotonic() > deadline:
            fail("union-unreachable", f"no Union ready at {base}: {problem}")
        time.sleep(0.5)


def simulate(
    api: Annotated[
        str | None,
        typer.Option(help="The Union's address as `silkway run` prints it (default: its own)."),
    ] = None,
    movements: Annotated[int, typer.Option(min=1, max=100_000, help="Movements to lodge.")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same traffic.")] = 1,
    first: Annotated[
        int,
        typer.Option(
            "--from", min=1, help="Number of the first movement (a later run lodges new ones)."
        ),
    ] = 1,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for every movement to end.")
    ] = 600.0,
    password: Annotated[
        str,
        typer.Option(envvar="SILKWAY_SIM_PASSWORD", help="The demo accounts' password."),
    ] = DEMO_PASSWORD,
    seals: Annotated[
        bool,
        typer.Option(
            help="Register the seals of movements from the node the device listeners feed"
            " (SILKWAY_LISTENER_NODE) and have them report through their protocols."
        ),
    ] = True,
    tamper: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of tracked movements whose seal reports tampering."
        ),
    ] = 0.0,
    wait: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds to wait for a Union that is still starting."),
    ] = 120.0,
    quiet: Annotated[bool, typer.Option(help="No progress bar, only the summary.")] = False,
) -> None:
    """Lodge simulated traffic on every corridor through the API, drive each movement to its
    end as the officers on its route would, and print what became of all of it (JSON).

    Exit status 0 when every movement is accounted for, 2 when one is not."""
    settings = Settings()
    base = api or f"http://{settings.host}:{settings.port}"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with httpx2.Client(base_url=base, timeout=30) as http:
        _wait_ready(http, base, wait)
        sim = Simulation(
            UnionClient(http, password),
            load_reference(),
            SystemClock(),
            list(MEMBER_STATES),
            TrafficModel(seed),
            tracked_state=settings.listener_node.upper() if seals else None,
            tamper_share=tamper,
        )
        planned = sim.plan(movements, first=first)
        try:
            sim.wait_in_operation()
            if quiet:
                summary = sim.run(planned, timeout=timeout)
            else:
                with Progress(
                    TextColumn("movements at their end"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=Console(file=sys.stderr),
                ) as bar:
                    task = bar.add_task("run", total=len(planned))
                    summary = sim.run(
                        planned,
                        timeout=timeout,
                        progress=lambda done, lodged: bar.update(task, completed=done),
                    )
        except CallRefused as exc:
            fail(exc.code, f"the Union refused the simulator: {exc}")
        except TimeoutError as exc:
            fail("not-in-operation", str(exc))
    emit(summary.as_dict())
    if not summary.accounted:
        raise typer.Exit(2)
