"""Secrets at rest: a wrong or unreadable stored hash refuses, it never raises."""

from __future__ import annotations

from silkway.identity.passwords import hash_secret, verify_secret


def test_the_right_secret_is_accepted_and_a_wrong_one_refused() -> None:
    stored = hash_secret("a-long-enough-secret")
    assert verify_secret("a-long-enough-secret", stored)
    assert not verify_secret("another-secret", stored)


def test_no_account_and_an_unreadable_hash_are_refusals() -> None:
    assert not verify_secret("anything", None)
    assert not verify_secret("anything", "not-a-hash-at-all")
    assert not verify_secret("anything", "$argon2id$v=19$m=1,t=1,p=1$broken")
