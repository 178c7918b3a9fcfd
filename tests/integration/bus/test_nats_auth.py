"""NATS as production runs it: TLS, one user per node, permissions per subject.

The test writes the server's configuration (the README's production section has the same
shape) and makes its certificates with ``cryptography``'s x509: a CA, and a server certificate
for 127.0.0.1 signed by it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import nats
import nats.errors
import nkeys
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from tests.conftest import START
from tests.natsd import NatsServer, require_nats

from silkway.exchange.bus.nats import NatsAuth, NatsBus
from silkway.exchange.bus.ports import BusUnavailable, Delivery, subject_for

STATES = ("KZ", "BY")
PASSWORD = "a-long-test-password"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 that it signed: (ca, cert, key) files."""
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    # The certificates' validity is fixed around the suite's start date and wide enough that
    # the machine's own clock, whatever it says, lies inside it.
    not_before, not_after = START - timedelta(days=3650), START + timedelta(days=3650)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Silkway test CA"))
        .issuer_name(_name("Silkway test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("nats.test"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def node_permissions(state: str, *, nkey: str | None = None) -> str:
    """A node publishes only as itself (``silkway.*.*.{STATE}``: the subject's publisher token)
    and reads only its own inbox through its own consumer; the Commission reads everything
    through its journal's consumer and publishes (its answers to anchors) only as itself."""
    durable = "eec-journal" if state == "EEC" else f"node-{state}"
    reads = "silkway.>" if state == "EEC" else f"silkway.{state}.>"
    publish = [
        f'"silkway.*.*.{state}"',
        '"$JS.API.INFO"',
        '"$JS.API.STREAM.INFO.SILKWAY"',
        '"$JS.API.STREAM.CREATE.SILKWAY"',
        '"$JS.API.STREAM.UPDATE.SILKWAY"',
        f'"$JS.API.CONSUMER.INFO.SILKWAY.{durable}"',
        # The create subject carries the consumer's filter: no other filter can be created.
        f'"$JS.API.CONSUMER.CREATE.SILKWAY.{durable}.{reads}"',
        f'"$JS.API.CONSUMER.MSG.NEXT.SILKWAY.{durable}"',
        f'"$JS.ACK.SILKWAY.{durable}.>"',
    ]
    who = f'nkey: "{nkey}"' if nkey else f'user: "{state.lower()}", password: "{PASSWORD}"'
    return (
        f"{{{who}, permissions: {{"
        f" publish: {{allow: [{', '.join(publish)}]}},"
        ' subscribe: {allow: ["_INBOX.>"]}}}'
    )


@contextmanager
def secured_nats(folder: Path, users: Iterable[str]) -> Iterator[tuple[NatsServer, Path]]:
    """A nats-server with TLS and only the ``users`` entries (see :func:`node_permissions`), in
    ``folder``, once ready: the server and the CA file clients trust it by."""
    require_nats()
    ca, cert, key = certificates(folder / "tls")
    config = folder / "nats.conf"
    entries = ",\n    ".join(users)
    config.write_text(
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\n'
        f"authorization {{\n  users: [\n    {entries}\n  ]\n}}\n"
    )
    nats_server = NatsServer(folder / "nats", config=config)
    nats_server.start()
    try:
        nats_server.wait_ready()
        yield nats_server, ca
    finally:
        nats_server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    # KZ, BY and the Commission log in with a password, RU with an NKey (its seed in a file).
    seed = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER)
    (tmp_path / "ru.nk").write_bytes(seed)
    ru_public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    users = [
        *(node_permissions(s) for s in (*STATES, "EEC")),
        node_permissions("RU", nkey=ru_public),
    ]
    with secured_nats(tmp_path, users) as running:
        yield running


def _bus(server: NatsServer, ca: Path, state: str | None, **auth: object) -> NatsBus:
    credentials = NatsAuth(user=state.lower(), password=PASSWORD, tls_ca=ca) if state else None
    return NatsBus(
        server.url,
        name=f"silkway-{state or 'anonymous'}",
        auth=credentials or NatsAuth(**auth),  # type: ignore[arg-type]
        ack_wait=2.0,
        fetch_timeout=0.5,
        publish_timeout=2.0,
        start_timeout=3.0,
        connect_timeout=1.0,
    )


def test_nodes_exchange_over_authenticated_tls(server: tuple[NatsServer, Path]) -> None:
    nats_server, ca = server

    async def scenario() -> list[Delivery]:
        kz, by = _bus(nats_server, ca, "KZ"), _bus(nats_server, ca, "BY")
        received: list[Delivery] = []
        got = asyncio.Event()

        async def handle(delivery: Delivery) -> None:
            received.append(delivery)
            got.set()

        async def dead(delivery: Delivery, reason: str) -> None:
            raise AssertionError(reason)

        await by.start()
        await kz.start()
        try:
            sub = await by.subscribe("node-BY", "silkway.BY.>", handle, on_dead_letter=dead)
            await kz.publish(subject_for("BY", "P.CP.01", "KZ"), b"<envelope/>", message_id="m-1")
            await asyncio.wait_for(got.wait(), 20)
            await sub.stop()
        finally:
            await kz.close()
            await by.close()
        return received

    [delivery] = asyncio.run(scenario())
    assert (delivery.subject, delivery.data) == ("silkway.BY.P_CP_01.KZ", b"<envelope/>")


def test_the_server_refuses_a_node_what_is_not_its_own(server: tuple[NatsServer, Path]) -> None:
    nats_server, ca = server

    async def scenario() -> list[str]:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        tls = ssl.create_default_context(cafile=str(ca))
        nc = await nats.connect(
            nats_server.url,
            user="kz",
            password=PASSWORD,
            tls=tls,
            error_cb=on_error,
            allow_reconnect=False,
        )
        try:
            await nc.publish("silkway.BY.P_CP_01.KZ", b"allowed: as itself, to another state")
            # Posing as another state; naming no publisher; at another's consumer; a consumer of
            # its own that would read every state's inbox; at the stream.
            await nc.publish("silkway.BY.P_CP_01.RU", b"forged")
            await nc.publish("silkway.BY.P_CP_01", b"anonymous")
            await nc.publish("$JS.API.CONSUMER.MSG.NEXT.SILKWAY.node-BY", b"1")
            await nc.publish("$JS.API.CONSUMER.CREATE.SILKWAY.node-KZ.silkway.>", b"{}")
            await nc.publish("$JS.API.STREAM.PURGE.SILKWAY", b"")
            await nc.flush()
            for _ in range(100):  # the server reports each violation asynchronously
                if len(errors) >= 5:
                    break
                await asyncio.sleep(0.05)
            await nc.flush()
        finally:
            await nc.close()
        return errors

    errors = asyncio.run(scenario())
    assert len(errors) == 5, errors
    assert all("permissions violation" in e.lower() for e in errors), errors


async def _dead(delivery: Delivery, reason: str) -> None:
    raise AssertionError(reason)


def test_a_node_with_an_nkey_and_the_commission_journal(
    server: tuple[NatsServer, Path], tmp_path: Path
) -> None:
    """RU signs in with its NKey seed; the Commission's journal consumer reads every inbox and
    the Commission answers (an anchor's R.006) as itself."""
    nats_server, ca = server

    def bus(**auth: object) -> NatsBus:
        return _bus(nats_server, ca, None, tls_ca=ca, **auth)

    async def scenario() -> tuple[list[str], list[str]]:
        ru = bus(nkey_seed_file=tmp_path / "ru.nk")
        eec = bus(user="eec", password=PASSWORD)
        by = _bus(nats_server, ca, "BY")
        journal: list[str] = []
        inbox: list[str] = []

        async def journal_one(delivery: Delivery) -> None:
            journal.append(delivery.subject)

        async def inbox_one(delivery: Delivery) -> None:
            inbox.append(delivery.subject)

        for b in (ru, eec, by):
            await b.start()
        try:
            await eec.subscribe("eec-journal", "silkway.>", journal_one, on_dead_letter=_dead)
            await by.subscribe("node-BY", "silkway.BY.>", inbox_one, on_dead_letter=_dead)
            await ru.publish(subject_for("BY", "P.CP.01", "RU"), b"<e/>", message_id="ru-1")
            await eec.publish(subject_for("BY", "P.CP.01", "EEC"), b"<r/>", message_id="eec-1")
            for _ in range(400):
                if len(journal) == 2 and len(inbox) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            for b in (ru, eec, by):
                await b.close()
        return sorted(journal), sorted(inbox)

    journal, inbox = asyncio.run(scenario())
    assert journal == inbox == ["silkway.BY.P_CP_01.EEC", "silkway.BY.P_CP_01.RU"]


def test_a_client_without_credentials_cannot_connect(server: tuple[NatsServer, Path]) -> None:
    nats_server, ca = server

    async def scenario() -> None:
        await _bus(nats_server, ca, None, tls_ca=ca).start()

    with pytest.raises(BusUnavailable):
        asyncio.run(scenario())


def test_a_client_that_does_not_check_the_server_cannot_connect_in_clear(
    server: tuple[NatsServer, Path],
) -> None:
    nats_server, _ca = server

    async def scenario() -> None:
        await _bus(nats_server, _ca, None, user="kz", password=PASSWORD).start()

    with pytest.raises(BusUnavailable):
        asyncio.run(scenario())
