"""``silkway`` commands for Guarantees."""

from __future__ import annotations

import typer

guarantee_app = typer.Typer(
    help="Guarantees: registry, balance, ledger history, claims.", no_args_is_help=True
)
claims_app = typer.Typer(help="Claims on guarantees and duty distribution.", no_args_is_help=True)
