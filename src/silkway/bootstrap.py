"""The composition root: the only place that reads settings and builds engines and adapters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from silkway.anchoring import inbound as anchoring_inbound
from silkway.anchoring.service import AnchorContext
from silkway.exchange.bus.nats import NatsAuth, NatsBus
from silkway.exchange.domain.processes import PROCESS, SEAL_PROCESS
from silkway.exchange.ports import EnvelopeSealer
from silkway.exchange.service import ExchangeContext
from silkway.exchange.signing.commission import TrustPublisher
from silkway.exchange.signing.keeper import TrustKeeper
from silkway.exchange.signing.keystore import KeyStore
from silkway.exchange.signing.published import PublishedTrustList
from silkway.exchange.signing.sealer import SignedXmlSealer
from silkway.guarantees import inbound as guarantee_inbound
from silkway.guarantees.gate import GuaranteeGate
from silkway.guarantees.service import GuaranteeContext, GuaranteePolicy
from silkway.identity.service import IdentityContext
from silkway.identity.tokens import ExternalIssuer
from silkway.node.clock import SystemClock
from silkway.node.db.engine import make_engine, sqlite_file
from silkway.node.db.migrate import upgrade
from silkway.node.db.unit_of_work import SqlUnitOfWork
from silkway.node.ports import Clock, DatabaseMissing
from silkway.reference import load_reference
from silkway.reference.model import NODE_CODES, ReferenceData
from silkway.seals import inbound as seal_inbound
from silkway.seals.domain.seals import MonitoringThresholds
from silkway.seals.service import SealContext, SealsFollowMovements
from silkway.settings import Settings
from silkway.transit import inbound as transit_inbound
from silkway.transit.hooks import SecurityGate
from silkway.transit.service import TransitContext


@dataclass
class Node:
    """One national system (or the Commission's): its database and its use-case context."""

    state: str
    engine: Engine
    transit: TransitContext = field(repr=False)
    settings: Settings = field(repr=False)
    seals: SealContext = field(repr=False)
    guarantees: GuaranteeContext = field(repr=False)
    exchange: ExchangeContext = field(repr=False)
    identity: IdentityContext = field(repr=False)
    anchoring: AnchorContext = field(repr=False)

    @property
    def reference(self) -> ReferenceData:
        return self.transit.reference

    def dispose(self) -> None:
        self.guarantees.close()
        self.engine.dispose()


def build_node(
    state: str,
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    security: SecurityGate | None = None,
    migrate: bool = True,
    create: bool = True,
) -> Node:
    """The node ``state``, on its database (made and migrated when missing, unless ``create``
    is false: then a SQLite file that does not exist is a :class:`DatabaseMissing`)."""
    state = state.upper()
    if state not in NODE_CODES:
        raise ValueError(f"unknown node {state!r}; expected one of {', '.join(NODE_CODES)}")
    settings = settings or Settings()
    url = database_url or settings.node_database_url(state)
    if not create:
        _require_database(state, url, settings, named=database_url is not None)
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    clock = clock or SystemClock()
    guarantees = GuaranteeContext(
        state=state,
        reference=load_reference(),
        clock=clock,
        uow=lambda: SqlUnitOfWork(engine),
        policy=GuaranteePolicy(
            access_code_max_failures=settings.access_code_max_failures,
            access_code_window=timedelta(minutes=settings.access_code_window_minutes),
            accept_unregistered_certificates=settings.accept_unregistered_certificates,
        ),
        reader=lambda: SqlUnitOfWork(engine, read_only=True),
    )
    transit = TransitContext(
        state=state,
        reference=load_reference(),
        clock=clock,
        security=security or GuaranteeGate(guarantees),
        uow=lambda: SqlUnitOfWork(engine),
        km_per_month=float(settings.km_per_month),
        reader=lambda: SqlUnitOfWork(engine, read_only=True),
    )
    seals = SealContext(
        state=state,
        reference=transit.reference,
        clock=transit.clock,
        uow=transit.uow,
        thresholds=MonitoringThresholds(silent_periods=settings.seal_silent_periods),
    )
    # Seals follow movements through an observer; transit does not import them.
    transit.observers.append(SealsFollowMovements(seals))
    sealer = compose_sealer(state, settings)
    return Node(
        state=state,
        engine=engine,
        transit=transit,
        settings=settings,
        seals=seals,
        guarantees=guarantees,
        exchange=compose_exchange(transit, guarantees, seals, sealer),
        identity=compose_identity(state, settings, transit),
        anchoring=AnchorContext(transit, sealer),
    )


def _require_database(state: str, url: str, settings: Settings, *, named: bool) -> None:
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    if named or settings.database_url:
        hint = "check the database URL"
    else:
        hint = (
            f"the embedded nodes keep theirs under SILKWAY_DATA_DIR (here {settings.data_dir}):"
            " run the command in the folder 'silkway run' runs in, set SILKWAY_DATA_DIR to its"
            f" data folder, or make this node's database with 'silkway db upgrade --node {state}'"
        )
    raise DatabaseMissing(state, str(path), hint)


def compose_sealer(state: str, settings: Settings) -> SignedXmlSealer:
    """The node's envelope sealer: its own keys, and the trust list it holds."""
    folder = settings.key_folder()
    keeper = TrustKeeper(
        state, folder, settings.trust_anchor(), grace=timedelta(hours=settings.trust_grace_hours)
    )
    return SignedXmlSealer(
        state,
        KeyStore(folder),
        keeper,
        max_age=timedelta(seconds=settings.signature_max_age_s),
        skew=timedelta(seconds=settings.signature_skew_s),
    )


def compose_nats_bus(settings: Settings, url: str | None = None) -> NatsBus:
    """The NATS bus at ``url`` (default ``SILKWAY_BUS_URL``), with the node's credentials."""
    servers = url or settings.bus_url
    if not servers:
        raise ValueError("no NATS URL: set SILKWAY_BUS_URL")
    auth = NatsAuth(
        user=settings.nats_user,
        password=settings.nats_password.get_secret_value() if settings.nats_password else None,
        creds_file=settings.nats_creds,
        nkey_seed_file=settings.nats_nkey_seed,
        tls_ca=settings.nats_tls_ca,
        tls_cert=settings.nats_tls_cert,
        tls_key=settings.nats_tls_key,
    )
    return NatsBus(servers.split(","), auth=auth)


def trust_publisher(settings: Settings) -> TrustPublisher:
    """The Commission's publisher of the trust list (its administrator's host)."""
    return TrustPublisher(
        settings.key_folder(), settings.trust_signing_key(), settings.trust_anchor()
    )


def publish_embedded_trust(
    settings: Settings, states: Iterable[str], now: datetime
) -> PublishedTrustList:
    """The embedded Union plays the Commission too: a key for every node that has none, and a
    new signed list naming every key in the shared folder.

    Production never does this: there each node creates its key (``silkway keys create``)
    and the Commission's administrator publishes (``silkway trust publish``)."""
    keys = KeyStore(settings.key_folder())
    publisher = trust_publisher(settings)
    if not publisher.initialised():
        publisher.init(now)
    for state in states:
        if not keys.has_keys(state):
            keys.create(state, now)
    return publisher.publish(
        now,
        validity=timedelta(hours=settings.trust_list_validity_hours),
        add=keys.requests(),
        # A folder from before signed lists holds a bare list: the embedded Commission
        # starts it afresh from the keys' own public halves.
        replace_unverified=True,
    )


def compose_identity(state: str, settings: Settings, transit: TransitContext) -> IdentityContext:
    """The node's accounts and tokens, and the external provider it trusts, if one is set."""
    external: tuple[ExternalIssuer, ...] = ()
    if settings.oidc_issuer:
        if not settings.oidc_jwks_url or not settings.oidc_audience:
            raise ValueError("SILKWAY_OIDC_ISSUER needs SILKWAY_OIDC_JWKS_URL and _AUDIENCE")
        external = (
            ExternalIssuer(
                settings.oidc_issuer,
                settings.oidc_jwks_url,
                settings.oidc_audience,
                dict(settings.oidc_claims),
                dict(settings.oidc_roles),
            ),
        )
    offices = transit.reference.offices
    return IdentityContext(
        state=state,
        clock=transit.clock,
        uow=transit.uow,
        offices=lambda s: {code for code, office in offices.items() if office.state == s},
        issuer=settings.issuer_for(state),
        audience=f"{settings.issuer_for(state)}:api",
        access_ttl=timedelta(seconds=settings.access_token_ttl_s),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
        external=external,
        second_factor_required=settings.second_factor_required,
    )


def compose_exchange(
    transit: TransitContext,
    guarantees: GuaranteeContext,
    seals: SealContext,
    sealer: EnvelopeSealer,
) -> ExchangeContext:
    """The node's exchange, with each capability's inbound handlers and conformance kit.

    The exchange imports no capability: what a message does here, and how a process is tested
    between states, come from the capability that owns it."""
    handlers = {
        **transit_inbound.handlers(transit),
        **guarantee_inbound.handlers(guarantees),
        **seal_inbound.handlers(seals),
        **anchoring_inbound.handlers(transit.state),
    }
    kits = {PROCESS: transit_inbound.kit(transit), SEAL_PROCESS: seal_inbound.kit(seals)}
    return ExchangeContext(transit, sealer, handlers, kits)


def build_union(settings: Settings | None = None, *, clock: Clock | None = None) -> dict[str, Node]:
    """Every node of the embedded set-up, each with its own database."""
    settings = settings or Settings()
    if settings.database_url and len(settings.nodes) > 1:
        raise ValueError(
            "SILKWAY_DATABASE_URL names one node's database; the embedded set-up needs one per"
            " node (leave it unset to use a SQLite file per node)"
        )
    return {state: build_node(state, settings, clock=clock) for state in settings.nodes}
