"""The guarantees' pure model: registry, ledger rules, liability and distribution of duties."""
