"""Settings read from the environment (prefix ``SILKWAY_``). Only the composition root reads them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from silkway.domain.reference import NODE_CODES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SILKWAY_", extra="ignore")

    data_dir: Path = Path("var")
    """Where embedded nodes keep their SQLite files (``{data_dir}/nodes/{state}.sqlite``)."""
    database_url: str | None = None
    """One node's database. Unset: a SQLite file per node under ``data_dir``."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    nodes: tuple[str, ...] = NODE_CODES
    """Nodes started by ``silkway run`` (embedded)."""
    km_per_month: int = Field(default=2000, ge=100)
    """Transit time-limit ceiling: kilometres allowed per month (DOMAIN.md §3, unconfirmed)."""
    demo_traffic: bool = True
    """Whether ``silkway run`` lodges and drives demo movements."""

    def node_database_url(self, state: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'nodes' / f'{state.lower()}.sqlite'}"
