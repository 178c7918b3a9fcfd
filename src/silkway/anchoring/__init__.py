"""Anchoring: the heads of a node's hash-chained logs, signed and kept by the Commission."""
