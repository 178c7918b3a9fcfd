"""Silkway: seamless customs transit across the Eurasian Economic Union."""

__version__ = "0.1.0"
