"""``silkway`` commands for Navigation seals."""

from __future__ import annotations

import typer

seal_app = typer.Typer(
    help="Navigation seals: registry, telemetry, tracks, incidents.", no_args_is_help=True
)
