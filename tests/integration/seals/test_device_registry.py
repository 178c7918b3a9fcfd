"""The registry as the listeners ask it: registered identities, passwords, and its cache."""

from __future__ import annotations

from silkway.bootstrap import Node
from silkway.seals import service as seals
from silkway.seals.admission import DeviceRegistry, Refusal
from silkway.seals.domain.seals import SealStatus

IMEI = "356307042441013"


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_found_registration_is_trusted_for_its_time_then_read_again(node: Node) -> None:
    seal = seals.register_seal(node.seals, seal_id="KZNS2600000001", protocol="egts", imei=IMEI)
    assert seal.key is not None
    ticks = Ticks()
    registry = DeviceRegistry(node.seals, passwords_required=True, ttl_s=60.0, monotonic=ticks)
    assert registry.admit("egts", IMEI).accepted
    with node.seals.uow() as uow:
        uow.seals.set_seal_status(seal.key, SealStatus.RETIRED, None)
        uow.commit()
    ticks.now = 59.0
    assert registry.admit("egts", IMEI).accepted  # from the cache: no query per connection
    ticks.now = 61.0
    refused = registry.admit("egts", IMEI)
    assert (refused.refusal, refused.reason) == (Refusal.UNKNOWN_DEVICE, f"{IMEI} is retired")


def test_an_identity_not_found_is_looked_up_again(node: Node) -> None:
    registry = DeviceRegistry(node.seals, passwords_required=True, monotonic=Ticks())
    assert registry.admit("teltonika", IMEI).refusal is Refusal.UNKNOWN_DEVICE
    seals.register_seal(node.seals, seal_id="KZNS2600000001", protocol="teltonika", imei=IMEI)
    assert registry.admit("teltonika", IMEI).accepted
    assert registry.admit("teltonika", None).refusal is Refusal.UNIDENTIFIED


def test_wialon_passwords(node: Node) -> None:
    seals.register_seal(
        node.seals, seal_id="KZNS2600000001", protocol="wialon", imei=IMEI, password="s3cret"
    )
    bare = "356307042441014"
    seals.register_seal(node.seals, seal_id="KZNS2600000002", protocol="wialon", imei=bare)
    strict = DeviceRegistry(node.seals, passwords_required=True)
    lenient = DeviceRegistry(node.seals, passwords_required=False)
    for registry in (strict, lenient):
        assert registry.admit("wialon", IMEI, "s3cret").accepted
        assert registry.admit("wialon", IMEI, "S3CRET").refusal is Refusal.WRONG_PASSWORD
        assert registry.admit("wialon", IMEI, None).refusal is Refusal.WRONG_PASSWORD
    assert strict.admit("wialon", bare, "NA").refusal is Refusal.WRONG_PASSWORD
    assert lenient.admit("wialon", bare, "anything").accepted
    # The registry keeps the hash only.
    kept = seals.get_seal(node.seals, "KZNS2600000001").password_hash
    assert kept is not None
    assert "s3cret" not in kept
