"""Starting servers: the embedded Union (``silkway run``) and one node (``silkway node``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
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
from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.ports import Bus
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


def serve_union(settings: Settings, *, host: str, port: int, demo: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    nodes = build_union(settings)
    # The embedded Union is its own Commission: it publishes a signed list of every node's key.
    clock = next(iter(nodes.values())).transit.clock
    trust = publish_embedded_trust(settings, nodes, clock.now())
    devices = DeviceBoard()
    # /health answers 503 until the demo's set-up is done: then a caller finds its guarantees.
    ready = threading.Event()
    app = create_union_app(nodes, devices=devices, ready=ready)
    if demo:
        ensure_demo_accounts(nodes, DEMO_GUARANTOR)
    base = f"http://{host}:{port}"
    print(f"Silkway is up: landing page {base}/", flush=True)
    print(f"  trust list: version {trust.version}, {len(trust.keys)} keys", flush=True)
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
    scheduler = start_scheduler(nodes)
    warm_up = _WarmUp(
        nodes, runtime, ready, base=_reachable(host, port), demo=demo, traffic=settings.demo_traffic
    )
    threading.Thread(target=warm_up.run, name="silkway-warm-up", daemon=True).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", **SERVER_LIMITS)
    finally:
        warm_up.stop()
        scheduler.stop()
        runtime.stop()
        if listeners:
            listeners.stop()
        for n in nodes.values():
            n.dispose()


def _reachable(host: str, port: int) -> str:
    """Where this process reaches its own server (a wildcard address is not one to call)."""
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"


class _WarmUp:
    """Once the server listens: the demo's guarantees through the API, then the interstate
    tests (measured, not assumed), then the demo traffic that relies on both."""

    def __init__(
        self,
        nodes: Mapping[str, Node],
        runtime: ExchangeRuntime,
        ready: threading.Event,
        *,
        base: str,
        demo: bool,
        traffic: bool,
    ) -> None:
        self._nodes = nodes
        self._runtime = runtime
        self._ready = ready
        self._base = base
        self._demo = demo
        self._traffic_wanted = traffic
        self._traffic: DemoTraffic | None = None
        self._http: httpx2.Client | None = None

    def run(self) -> None:
        try:
            if self._demo:
                self._set_up_demo()
        except Exception:  # the demo's set-up must not take the server down
            log.exception("the demo's set-up failed")
        finally:
            self._ready.set()
        _run_interstate_tests(self._runtime)
        if self._traffic is not None:
            self._traffic.start()

    def _set_up_demo(self) -> None:
        self._http = httpx2.Client(base_url=self._base, timeout=30)
        _wait_listening(self._http)
        clock = next(iter(self._nodes.values())).transit.clock
        reference = next(iter(self._nodes.values())).reference
        members = [s for s in self._nodes if s in MEMBER_STATES]
        demo = Demo(UnionClient(self._http, DEMO_PASSWORD), reference, clock, members)
        register_example_guarantees(demo)
        # The guarantors' accounts name the demo guarantor, registered just now.
        _print_accounts(self._base, ensure_demo_accounts(self._nodes, DEMO_GUARANTOR))
        if self._traffic_wanted:
            self._traffic = DemoTraffic(demo)

    def stop(self) -> None:
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


def _run_interstate_tests(runtime: ExchangeRuntime) -> None:
    try:
        results = runtime.conformance_all()
    except Exception:  # a failed test run must not take the server down; the register shows it
        log.exception("interstate tests failed to run")
        return
    for process, directions in results.items():
        passed = sum(all(o.passed for o in v) for v in directions.values())
        log.info("interstate tests: %d of %d directions pass %s", passed, len(directions), process)


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
