"""Accounts that share one password (the embedded demo's): one hash, all or none added."""

from __future__ import annotations

import pytest

from silkway.bootstrap import Node
from silkway.identity import service as identity
from silkway.identity.domain.accounts import AccountInvalid
from silkway.identity.domain.principal import Role
from silkway.kernel.errors import NotAuthenticated

PASSWORD = "a-shared-published-password"


def _usernames(node: Node) -> list[str]:
    with node.identity.uow() as uow:
        return sorted(u.username for u in uow.identity.users())


def test_accounts_sharing_a_password_each_sign_in_with_it(kz_node: Node) -> None:
    made = identity.add_users_sharing_password(
        kz_node.identity,
        [("officer.a", Role.OFFICER, None), ("declarant.a", Role.DECLARANT, "210340012345")],
        PASSWORD,
    )
    assert [u.username for u in made] == ["officer.a", "declarant.a"]
    assert len({u.password_hash for u in made}) == 1  # hashed once
    for username in ("officer.a", "declarant.a"):
        tokens = identity.password_grant(kz_node.identity, username, PASSWORD)
        assert tokens.principal.subject == username
    with pytest.raises(NotAuthenticated):
        identity.password_grant(kz_node.identity, "officer.a", "not-the-password-at-all")


def test_one_refused_account_adds_none(kz_node: Node) -> None:
    identity.add_users_sharing_password(
        kz_node.identity, [("officer.a", Role.OFFICER, None)], PASSWORD
    )
    # A declarant must act for a party: refused before anything is written.
    with pytest.raises(AccountInvalid):
        identity.add_users_sharing_password(
            kz_node.identity,
            [("officer.b", Role.OFFICER, None), ("declarant.b", Role.DECLARANT, None)],
            PASSWORD,
        )
    # One already there: the transaction adds none of the others either.
    with pytest.raises(identity.AccountExists):
        identity.add_users_sharing_password(
            kz_node.identity,
            [("officer.c", Role.OFFICER, None), ("officer.a", Role.OFFICER, None)],
            PASSWORD,
        )
    with pytest.raises(AccountInvalid):
        identity.add_users_sharing_password(
            kz_node.identity, [("officer.d", Role.OFFICER, None)], "short"
        )
    assert _usernames(kz_node) == ["officer.a"]
    assert identity.add_users_sharing_password(kz_node.identity, [], PASSWORD) == []
