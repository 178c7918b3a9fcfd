"""``silkway`` commands for Interstate exchange."""

from __future__ import annotations

import typer

exchange_app = typer.Typer(
    help="Interstate exchange: messages, dead letters, journal, process register.",
    no_args_is_help=True,
)
conformance_app = typer.Typer(
    help="Interstate conformance tests of common processes.", no_args_is_help=True
)
