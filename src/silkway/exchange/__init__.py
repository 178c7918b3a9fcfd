"""The interstate exchange: envelopes, signatures, the bus, outbox relay, receiving, R.006,
dead letters, conformance tests and the Commission's register and journal.

It imports no capability: each one hands it its inbound handlers and conformance kit (bootstrap)."""
