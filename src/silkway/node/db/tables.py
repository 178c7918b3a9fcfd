"""The node database's one MetaData, with its naming convention; each capability adds its tables to it."""

from __future__ import annotations

from sqlalchemy import MetaData

# Named constraints keep migrations stable across SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ACTOR_LENGTH = 200
"""Room for who acted (``role:subject@office from address``, an IPv6 address included) in
every column that records it."""
