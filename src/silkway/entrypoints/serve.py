"""Starting servers: the embedded Union (``silkway run``) and one node (``silkway node``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httpx2
import uvicorn

from silkway.bootstrap import (
    Node,
    build_node,
    build_union,
    compose_nats_bus,
    publish_embedded_trust,
)
from silkway.entrypoints.scheduler import Duty, Scheduler, start_scheduler
from silkway.entrypoints.union_lock import hold
from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.ports import Bus
from silkway.exchange.conformance import ScenarioOutcome
from silkway.exchange.register import import_register, shipped_register
from silkway.exchange.runtime import ExchangeRuntime
from silkway.reference.model import COMMISSION, MEMBER_STATES
from silkway.seals.listeners import DeviceBoard, start_device_listeners
from silkway.settings import Settings
from silkway.sim.accounts import DEMO_PASSWORD, DemoAccount, ensure_demo_accounts
from silkway.sim.client import UnionClient
from silkway.sim.demo import DEMO_GUARANTOR, Demo, DemoTraffic, register_example_guarantees
from silkway.web.app import create_node_app, create_union_app
from silkway.web.headers import MAX_HEADER_BYTES

log = logging.getLogger("silkway")

# A request head above MAX_HEADER_BYTES is refused by the server itself, and an idle
# keep-alive connection is closed after a few seconds.
SERVER_LIMITS: dict[str, Any] = {
    "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    "timeout_keep_alive": 5,
}


LOG_LEVELS = ("debug", "info", "warning", "error")
"""What ``silkway run --log-level`` takes; ``warning`` by default."""


def configure_logging(level: str) -> None:
    """One line per record from ``level`` up. The libraries under Silkway speak only when they
    have something to say (warnings), except at ``debug``, where the demo's requests show too;
    SQL statements never do (they would drown everything else)."""
    if level not in LOG_LEVELS:
        raise ValueError(f"log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")
    numeric = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(level=numeric, format="%(levelname)s %(name)s: %(message)s")
    quiet = max(numeric, logging.WARNING)
    requests = logging.INFO if numeric == logging.DEBUG else quiet
    for name, at in {
        "sqlalchemy": quiet,
        "httpcore2": quiet,
        "httpcore": quiet,
        "multipart": quiet,
        "python_multipart": quiet,
        "httpx2": requests,
        "httpx": requests,
    }.items():
        logging.getLogger(name).setLevel(at)


def serve_union(
    settings: Settings,
    *,
    host: str,
    port: int,
    demo: bool,
    log_level: str = "warning",
    started: float | None = None,
) -> None:
    """The embedded Union, until stopped: one line per node and per device listener, the
    interstate tests' results per process, then the landing page and the demo accounts once
    the Union is ready (``/health`` answers 200). The rest is logged, from ``log_level`` up.

    ``started`` is when the command began (``time.monotonic``), for the time it took to be
    ready. Raises ``FolderInUse`` when another process runs the exchange of the same data
    folder, ``ServerNotStarted`` when the server could not listen."""
    t0 = time.monotonic() if started is None else started
    with hold(settings.data_dir, "silkway run"):
        configure_logging(log_level)
        _serve_union(settings, host=host, port=port, demo=demo, log_level=log_level, t0=t0)


def _serve_union(
    settings: Settings, *, host: str, port: int, demo: bool, log_level: str, t0: float
) -> None:
    nodes = build_union(settings)
    # The embedded Union is its own Commission: it publishes a signed list of every node's key.
    clock = next(iter(nodes.values())).transit.clock
    trust = publish_embedded_trust(settings, nodes, clock.now())
    devices = DeviceBoard()
    # /health answers 503 until the demo's set-up and the interstate tests are done: then a
    # caller finds the demo's guarantees, and messages go electronically between states.
    ready = threading.Event()
    app = create_union_app(nodes, devices=devices, ready=ready)
    base = f"http://{host}:{port}"
    print(f"Silkway: the embedded Union, data in {settings.data_dir}", flush=True)
    for state in nodes:
        print(
            f"  node {state}: API {base}/nodes/{state.lower()}/api/v1 "
            f"(docs {base}/nodes/{state.lower()}/docs)",
            flush=True,
        )
    # A device port already taken does not stop the demo; it is reported beside the others.
    listeners = start_device_listeners(settings, nodes, strict=False)
    devices.listeners = listeners
    runtime = start_exchange(settings, nodes)
    print(f"  trust list: version {trust.version}, {len(trust.keys)} keys", flush=True)
    scheduler = start_scheduler(nodes)
    warm_up = _WarmUp(
        nodes,
        runtime,
        ready,
        base=_reachable(host, port),
        shown=base,
        demo=demo,
        traffic=settings.demo_traffic,
        t0=t0,
    )
    server = _UnionServer(
        uvicorn.Config(
            app, host=host, port=port, log_level=_server_log_level(log_level), **SERVER_LIMITS
        ),
        on_exit=warm_up.stopping,
    )
    threading.Thread(target=warm_up.run, name="silkway-warm-up", daemon=True).start()
    try:
        server.run()
    except SystemExit as exc:  # the server gives up this way when it cannot listen
        if server.started:
            raise
        raise ServerNotStarted(
            f"Silkway could not listen on {host}:{port} (the error is above);"
            " SILKWAY_PORT or --port chooses another port"
        ) from exc
    finally:
        warm_up.stop()
        scheduler.stop()
        runtime.stop()
        if listeners:
            listeners.stop()
        for n in nodes.values():
            n.dispose()


class ServerNotStarted(RuntimeError):
    """The HTTP server could not start (its error is logged above: a port taken, most often)."""


def _server_log_level(level: str) -> str:
    # The server's own lines (one per request at info) are detail: shown at debug only.
    return "info" if level == "debug" else "warning"


class _UnionServer(uvicorn.Server):
    """The server, which tells the demo to stop as soon as it is asked to stop itself, so that
    no demo request meets a server going down."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def _reachable(host: str, port: int) -> str:
    """Where this process reaches its own server (a wildcard address is not one to call)."""
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"


class _WarmUp:
    """Once the server listens: the interstate tests (measured, not assumed) and, meanwhile,
    the demo's accounts and guarantees through the API; then the report, the ready signal, and
    the demo traffic that relies on both."""

    def __init__(
        self,
        nodes: Mapping[str, Node],
        runtime: ExchangeRuntime,
        ready: threading.Event,
        *,
        base: str,
        shown: str,
        demo: bool,
        traffic: bool,
        t0: float,
    ) -> None:
        self._nodes = nodes
        self._runtime = runtime
        self._ready = ready
        self._base = base
        self._shown = shown
        self._demo = demo
        self._traffic_wanted = traffic
        self._t0 = t0
        self._traffic: DemoTraffic | None = None
        self._http: httpx2.Client | None = None
        self._accounts: list[DemoAccount] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        tests = _InterstateTests(self._runtime)
        thread = threading.Thread(target=tests.run, name="silkway-interstate-tests", daemon=True)
        thread.start()
        try:
            if self._demo:
                self._set_up_demo()
        except Exception:  # the demo's set-up must not take the server down
            log.exception("the demo's set-up failed")
        thread.join()
        tests.report()
        print(
            f"Silkway is up: landing page {self._shown}/ "
            f"(ready in {time.monotonic() - self._t0:.1f} s)",
            flush=True,
        )
        if self._accounts:
            _print_accounts(self._base, self._accounts)
        self._ready.set()
        if self._traffic is not None and not self._stopping.is_set():
            self._traffic.start()

    def _set_up_demo(self) -> None:
        ensure_demo_accounts(self._nodes, DEMO_GUARANTOR)
        self._http = httpx2.Client(base_url=self._base, timeout=30)
        _wait_listening(self._http)
        clock = next(iter(self._nodes.values())).transit.clock
        reference = next(iter(self._nodes.values())).reference
        members = [s for s in self._nodes if s in MEMBER_STATES]
        demo = Demo(UnionClient(self._http, DEMO_PASSWORD), reference, clock, members)
        register_example_guarantees(demo)
        # The guarantors' accounts name the demo guarantor, registered just now.
        self._accounts = ensure_demo_accounts(self._nodes, DEMO_GUARANTOR)
        if self._traffic_wanted:
            self._traffic = DemoTraffic(demo)

    def stopping(self) -> None:
        """The server was asked to stop: the demo stops asking it (without waiting)."""
        self._stopping.set()
        if self._traffic is not None:
            self._traffic.stopping()

    def stop(self) -> None:
        self.stopping()
        if self._traffic is not None:
            self._traffic.stop()
        if self._http is not None:
            self._http.close()


def _wait_listening(http: httpx2.Client, attempts: int = 300) -> None:
    for _ in range(attempts):
        try:
            http.get("/health", timeout=1)
            return
        except httpx2.TransportError:
            threading.Event().wait(0.1)
    raise RuntimeError("the server did not start listening")


class _InterstateTests:
    """The start-up interstate tests between every pair of member states here, and their
    one-line report."""

    def __init__(self, runtime: ExchangeRuntime) -> None:
        self._runtime = runtime
        self._results: dict[str, dict[str, list[ScenarioOutcome]]] | None = None
        self._took = 0.0

    def run(self) -> None:
        began = time.monotonic()
        try:
            self._results = self._runtime.conformance_all()
        except Exception:  # a failed test run must not take the server down; the register shows it
            log.exception("the interstate tests could not run")
        self._took = time.monotonic() - began

    def report(self) -> None:
        if self._results is None:
            print(
                "  interstate tests: could not run (the error is above); messages between"
                " states go on paper until they pass",
                flush=True,
            )
            return
        line, problems = interstate_summary(self._results)
        print(f"{line} ({self._took:.1f} s)", flush=True)
        for problem in problems:
            log.warning("interstate test failed: %s", problem)


def interstate_summary(
    results: Mapping[str, Mapping[str, list[ScenarioOutcome]]],
) -> tuple[str, list[str]]:
    """One line for the interstate tests (``P.CP.01 20/20 directions pass, P.SO.01 20/20``)
    and one problem per failed scenario, naming what it means for the exchange."""
    parts: list[str] = []
    problems: list[str] = []
    for process, directions in results.items():
        passing = [d for d, outcomes in directions.items() if _passed(outcomes)]
        parts.append(f"{process} {len(passing)}/{len(directions)}")
        for direction, outcomes in directions.items():
            if _passed(outcomes):
                continue
            pair = " and ".join(direction.split("->"))
            consequence = f"{process} messages between {pair} go on paper"
            if not outcomes:
                problems.append(f"{process} {direction}: no scenario ran; {consequence}")
            for o in outcomes:
                if not o.passed:
                    problems.append(
                        f"{process} {direction} {o.scenario}: {o.detail}; {consequence}"
                    )
    if not parts:
        return "  interstate tests: no process to test", problems
    parts[0] += " directions pass"
    return "  interstate tests: " + ", ".join(parts), problems


def _passed(outcomes: list[ScenarioOutcome]) -> bool:
    return bool(outcomes) and all(o.passed for o in outcomes)


def _print_accounts(base: str, accounts: list[DemoAccount]) -> None:
    by_state: dict[str, list[str]] = {}
    for a in accounts:
        by_state.setdefault(a.state, []).append(a.username)
    print(f"  demo accounts (password {DEMO_PASSWORD}):", flush=True)
    for state, names in by_state.items():
        print(f"    {state}: {', '.join(names)}", flush=True)
    print(
        "  a token: curl -s -X POST "
        f"{base}/nodes/kz/api/v1/auth/token -d grant_type=password "
        f"-d username=declarant.kz -d password={DEMO_PASSWORD}",
        flush=True,
    )


def start_exchange(settings: Settings, nodes: Mapping[str, Node]) -> ExchangeRuntime:
    """The exchange of the nodes in this process, on NATS when configured, else in-process."""
    # The embedded bus stamps messages on the Union's clock, as a JetStream server on its own.
    clock = next(iter(nodes.values())).transit.clock
    bus: Bus = compose_nats_bus(settings) if settings.bus_url else InProcessBus(clock=clock.now)
    members = {s: n.exchange for s, n in nodes.items() if s in MEMBER_STATES}
    eec = nodes.get(COMMISSION)
    runtime = ExchangeRuntime(members, bus, journal=eec.exchange if eec else None)
    runtime.start()
    if eec is not None:
        with eec.transit.uow() as uow:
            if not uow.exchange.processes():
                import_register(uow, shipped_register(), eec.transit.clock.now(), source="shipped")
                uow.commit()
    print(f"  exchange: {'NATS ' + settings.bus_url if settings.bus_url else 'in-process bus'}")
    return runtime


def serve_node(
    state: str, settings: Settings, *, database_url: str | None, host: str, port: int
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node = build_node(state, settings, database_url=database_url)
    devices = DeviceBoard()
    listeners = start_device_listeners(settings, {node.state: node}, strict=True)
    devices.listeners = listeners
    runtime = start_exchange(settings, {node.state: node})
    scheduler = start_scheduler({node.state: node})
    partner_tests = start_partner_tests(node, runtime)
    # The app can start the partner tests now (POST /api/v1/partners/tests): it wakes their duty.
    app = create_node_app(node, devices=devices, partner_tests=partner_tests)
    print(
        f"Silkway node {state} is up: API http://{host}:{port}/api/v1 "
        f"(docs http://{host}:{port}/docs)",
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", **SERVER_LIMITS)
    finally:
        if partner_tests is not None:
            partner_tests.stop()
        scheduler.stop()
        runtime.stop()
        if listeners:
            listeners.stop()
        node.dispose()


@dataclass(frozen=True, slots=True)
class PartnerTests:
    """A node's interstate tests as its own scheduler runs them: at start-up, on their
    interval, and at once when asked (:meth:`run_now`, the API's ``POST /partners/tests``)."""

    scheduler: Scheduler
    duty: str
    partners: tuple[str, ...]

    def run_now(self) -> bool:
        return self.scheduler.run_now(self.duty)

    def stop(self) -> None:
        self.scheduler.stop()


def start_partner_tests(node: Node, runtime: ExchangeRuntime) -> PartnerTests | None:
    """A member state's node tests every other member state over the bus at start-up, then
    every ``SILKWAY_INTERSTATE_TESTS_INTERVAL_S``: that is what puts its processes in operation."""
    if node.state not in MEMBER_STATES:
        return None
    partners = tuple(s for s in node.settings.partners or MEMBER_STATES if s != node.state)

    def run() -> None:
        results = runtime.run_partner_tests(node.state, list(partners))
        for process, by_partner in results.items():
            passing = [p for p, v in by_partner.items() if v and all(o.passed for o in v)]
            log.info("%s %s in operation with: %s", node.state, process, ", ".join(passing))

    duty = f"{node.state}:interstate-tests"
    # A scheduler of their own: a run takes seconds per partner, and must not hold up the
    # node's other duties (overdue movements, anchors…).
    scheduler = Scheduler(
        [Duty(duty, node.settings.interstate_tests_interval_s, run)], first_run_s=0.0
    )
    scheduler.start()
    return PartnerTests(scheduler, duty, partners)
