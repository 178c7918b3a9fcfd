"""Guarantees: the national registry, the ledger of locks, certificates and claims."""
