"""The embedded Union's hold on its data folder.

``silkway run`` runs the exchange of every node whose database is in its data folder: it relays
their outboxes and receives their envelopes. A second process doing the same over the same
databases (another ``silkway run``, or ``silkway conformance run``) would send the same outbox
rows twice and take answers meant for the first. So each of them holds a lock on
``{data_dir}/union.lock`` while it runs (an advisory ``flock``: the system lets go of it when the
process ends, however it ends), and refuses to start while another holds it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_FILE", "FolderInUse", "hold"]

LOCK_FILE = "union.lock"


class FolderInUse(Exception):
    """Another process runs the exchange of the data folder's nodes."""

    code = "data-folder-in-use"

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is in use by {holder or 'another process'}")
        self.folder = folder
        self.holder = holder


def _holder(path: Path) -> str:
    """What the lock file says of its holder: ``'silkway run' (pid 1234)``."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


if sys.platform == "win32":  # no flock: one process per folder is then the operator's care

    @contextlib.contextmanager
    def hold(folder: Path, command: str) -> Iterator[None]:
        yield

else:
    import fcntl

    @contextlib.contextmanager
    def hold(folder: Path, command: str) -> Iterator[None]:
        """Hold ``folder`` for this process (running ``command``) while the block runs;
        :class:`FolderInUse` if another process holds it."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_FILE
        with path.open("a+", encoding="utf-8") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FolderInUse(folder, _holder(path)) from None
            f.seek(0)
            f.truncate()
            f.write(f"'{command}' (pid {os.getpid()})\n")
            f.flush()
            try:
                yield
            finally:
                f.seek(0)
                f.truncate()
                fcntl.flock(f, fcntl.LOCK_UN)
