"""Settings read from the environment (prefix ``SILKWAY_``). Only the composition root reads them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from silkway.reference.model import NODE_CODES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SILKWAY_", extra="ignore")

    data_dir: Path = Path("var")
    """Where embedded nodes keep their SQLite files (``{data_dir}/nodes/{state}.sqlite``) and
    their keys. A relative folder is taken from where the command starts, once, when the
    settings are read: every path below it is then absolute, and says where it is."""
    database_url: str | None = None
    """One node's database. Unset: a SQLite file per node under ``data_dir``."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    nodes: tuple[str, ...] = NODE_CODES
    """Nodes started by ``silkway run`` (embedded)."""
    km_per_month: int = Field(default=2000, ge=100)
    """Transit time-limit ceiling: kilometres allowed per month (DOMAIN.md §3, unconfirmed)."""
    demo_traffic: bool = True
    """Whether ``silkway run`` lodges and drives demo movements."""
    listeners: bool = True
    """Whether ``silkway run`` and ``silkway node`` open the device ports (TCP, and MQTT if set)."""
    listener_host: str = "127.0.0.1"
    """Address the device TCP ports bind to (``0.0.0.0`` to take devices from the network)."""
    egts_port: int = Field(default=5001, ge=0, le=65535)
    wialon_port: int = Field(default=5002, ge=0, le=65535)
    teltonika_port: int = Field(default=5003, ge=0, le=65535)
    """Device TCP ports; 0 takes any free port (printed at start)."""
    listener_node: str = "KZ"
    """The node whose operator takes the TCP devices in the embedded set-up."""
    listener_max_connections: int = Field(default=1000, ge=1)
    """Device connections served at once, per protocol."""
    listener_idle_timeout_s: float = Field(default=300.0, gt=0)
    """A device connection silent for this long is closed."""
    device_passwords_required: bool = True
    """Wialon IPS logins must carry a password registered for the device. Off: a device
    registered without one is let in whatever its login says (one registered with a password
    must still give it)."""
    mqtt_url: str | None = None
    """Broker seals publish to, ``mqtt://[user[:password]@]host[:port]``. Unset: no MQTT."""
    mqtt_username: str | None = None
    """The subscriber's broker user (takes the place of one in ``mqtt_url``)."""
    mqtt_password: SecretStr | None = None
    """Its password (takes the place of one in ``mqtt_url``; never printed)."""
    mqtt_topic_prefix: str = "silkway"
    """Topics are ``{prefix}/{STATE}/seals/{seal_id}/telemetry``."""
    mqtt_client_id: str | None = None
    """MQTT client id (keeps the broker session across restarts); default from the nodes served."""
    partners: tuple[str, ...] = ()
    """The member states ``silkway node`` tests over the bus; empty: every other one."""
    interstate_tests_interval_s: float = Field(default=3600.0, gt=0)
    """How often ``silkway node`` runs the interstate tests against its partners again."""
    anchor_interval_s: float = Field(default=600.0, gt=0)
    """How often a member state's node anchors its logs at the Commission (signed heads)."""
    seal_silent_periods: int = Field(default=2, ge=1)
    """Incident 06 (silence) after this many reporting periods without a message."""
    access_code_max_failures: int = Field(default=5, ge=1)
    """Wrong access codes quoted for one guarantee within the window that lock it out."""
    access_code_window_minutes: int = Field(default=15, ge=1)
    """The window over which wrong access codes are counted (and the longest lockout)."""
    accept_unregistered_certificates: bool = False
    """Lenient mode: release against a security certificate this node does not know, on its
    number's format alone, locking nothing. Off: an unknown certificate is refused."""

    keys_dir: Path | None = None
    """Node signing keys and the trust list; default ``{data_dir}/keys``."""
    trust_anchor_file: Path | None = None
    """The Commission's trust-list key, handed to the node once; default
    ``{keys_dir}/trust-anchor.json``. Only lists it signed are believed."""
    trust_signing_key_file: Path | None = None
    """The Commission's private trust-list key (its administrator's host only); default
    ``{keys_dir}/trust-signing.pem``."""
    trust_list_validity_hours: int = Field(default=7 * 24, ge=1)
    """How long a trust list the Commission publishes is valid."""
    trust_grace_hours: int = Field(default=72, ge=0)
    """How long past its expiry a node goes on with the last valid list (a Commission outage)
    before it refuses to verify anything until a new one arrives."""
    bus_url: str | None = None
    """``nats://host:port`` (comma-separated for a cluster) for production; unset: in-process."""
    nats_user: str | None = None
    """The node's NATS user (one per node, with permissions on its own subjects)."""
    nats_password: SecretStr | None = None
    """Its password (never printed)."""
    nats_creds: Path | None = None
    """Instead of a user: a ``.creds`` file (operator-mode JWT and NKey seed)."""
    nats_nkey_seed: Path | None = None
    """Instead of a user: a file with the node's NKey seed."""
    nats_tls_ca: Path | None = None
    """The CA that signed the NATS server's certificate: set, the connection is TLS."""
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    """A client certificate and its key, for a server that asks for one."""
    signature_max_age_s: int = Field(default=6 * 3600, ge=60)
    """How old a signed envelope may be when the bus takes it (not when it is processed: a node
    that was down catches up on what waited for it)."""
    signature_skew_s: int = Field(default=120, ge=0, le=3600)
    """How far ahead of the receiver's clock a sender's may run (SignedAt after reception)."""

    access_token_ttl_s: int = Field(default=600, ge=30, le=24 * 3600)
    """How long an access token lives; short, because a revoked account's tokens die with it."""
    refresh_token_ttl_s: int = Field(default=8 * 3600, ge=60)
    token_issuer: str | None = None
    """The ``iss`` of the node's tokens; default ``urn:silkway:node:{state}``."""
    second_factor_required: bool = False
    """Officers and administrators must have a TOTP second factor enrolled to log in."""
    rate_limit: str = "1200/minute"
    """Requests each caller (token subject, or address when anonymous) may make."""
    token_rate_limit: str = "30/minute"
    """Token requests per client address."""
    oidc_issuer: str | None = None
    """An external OpenID Connect provider whose tokens the node accepts besides its own."""
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_claims: dict[str, str] = Field(default_factory=dict)
    """Our field → the provider's claim: ``subject``, ``role``, ``state``, ``office``, ``party``."""
    oidc_roles: dict[str, str] = Field(default_factory=dict)
    """The provider's role values → ours (``officer``, ``declarant``…); empty: the same names."""

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, folder: Path) -> Path:
        return folder.expanduser().absolute()

    def issuer_for(self, state: str) -> str:
        return self.token_issuer or f"urn:silkway:node:{state.lower()}"

    def key_folder(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    def trust_anchor(self) -> Path:
        return self.trust_anchor_file or self.key_folder() / "trust-anchor.json"

    def trust_signing_key(self) -> Path:
        return self.trust_signing_key_file or self.key_folder() / "trust-signing.pem"

    def node_database_url(self, state: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'nodes' / f'{state.lower()}.sqlite'}"
