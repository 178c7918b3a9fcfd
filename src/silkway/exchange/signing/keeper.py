"""A node's hold on the trust list: the last valid one it took, kept through bad publications.

The Commission's publication arrives as ``trust.json`` in the node's key folder. The keeper
reads it whenever the file changes and takes it only if :func:`.published.accept` does (signed
by the anchor's key, not older, not a different document under the same version, unexpired);
anything else is logged with its code and the list held stays in force. The list taken is also
copied to a file of the node's own (``{STATE}.trust-kept.json``), so that a restart, too, keeps
it and refuses an older ``trust.json`` put back in its place.

When the Commission cannot publish (an outage), the list held goes on serving for ``grace``
past its expiry, with a warning; after that the node refuses to verify anything with it
(:class:`TrustListUnusable`, which the bus retries), until a valid list arrives.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path

from silkway.exchange.signing.keys import TrustList
from silkway.exchange.signing.published import (
    PublishedTrustList,
    TrustAnchor,
    TrustCode,
    TrustListRefused,
    accept,
    open_trust_list,
)
from silkway.kernel.chain import iso_utc

log = logging.getLogger("silkway.exchange.trust")

TRUST_FILE = "trust.json"
ANCHOR_FILE = "trust-anchor.json"


class TrustListUnusable(TrustListRefused):
    """The node holds no trust list it may verify with now (none yet, or past its grace)."""


class TrustKeeper:
    """The trust list one node holds; thread-safe (the relay and the handlers share it)."""

    def __init__(self, state: str, folder: Path, anchor: Path, *, grace: timedelta) -> None:
        self.state = state
        self.path = folder / TRUST_FILE
        self.kept_path = folder / f"{state}.trust-kept.json"
        self.anchor_path = anchor
        self.grace = grace
        self._anchor: TrustAnchor | None = None
        self._held: PublishedTrustList | None = None
        self._stamp: tuple[int, int] | None = None
        self._loaded = False
        self._lock = threading.Lock()
        self.last_refusal: TrustListRefused | None = None
        """Why the latest publication was not taken (None once one is)."""

    def held(self, now: datetime) -> PublishedTrustList | None:
        """The list in force, reading a new publication first; expired or not."""
        with self._lock:
            if not self._loaded:
                self._load_kept(now)
                self._loaded = True
            stamp = _stamp(self.path)
            if stamp is not None and stamp != self._stamp:
                self._stamp = stamp
                self._offer(self.path, now)
            return self._held

    def current(self, now: datetime) -> TrustList:
        """The keys to verify with at ``now``; :class:`TrustListUnusable` when there are none."""
        held = self.held(now)
        if held is None:
            reason = f"no valid trust list held ({self.path})"
            if self.last_refusal is not None:
                reason += f"; the one published was refused: {self.last_refusal}"
            raise TrustListUnusable(TrustCode.MISSING, reason)
        if not held.usable_at(now, self.grace):
            raise TrustListUnusable(
                TrustCode.EXPIRED,
                f"version {held.version} expired at {iso_utc(held.expires_at)} and its grace of"
                f" {self.grace} is over; waiting for the Commission to publish a new one",
            )
        if held.expired_at(now):
            log.warning(
                "%s verifies with trust list version %d, expired at %s (grace until %s)",
                self.state,
                held.version,
                iso_utc(held.expires_at),
                iso_utc(held.expires_at + self.grace),
            )
        return held.keys

    def anchor(self) -> TrustAnchor:
        if self._anchor is None:
            try:
                data = self.anchor_path.read_bytes()
            except OSError as exc:
                raise TrustListUnusable(
                    TrustCode.ANCHOR_INVALID, f"the Commission's anchor cannot be read: {exc}"
                ) from None
            self._anchor = TrustAnchor.from_json(data)
        return self._anchor

    def _load_kept(self, now: datetime) -> None:
        if not self.kept_path.exists():
            return
        try:
            self._held = open_trust_list(self.kept_path.read_bytes(), self.anchor())
        except (OSError, TrustListRefused) as exc:
            log.error(
                "%s: the trust list kept in %s is unusable: %s", self.state, self.kept_path, exc
            )

    def _offer(self, path: Path, now: datetime) -> None:
        try:
            data = path.read_bytes()
            candidate = open_trust_list(data, self.anchor())
            if self._held is not None and candidate.digest == self._held.digest:
                return  # the same publication, touched
            self._held = accept(self._held, candidate, now)
        except OSError as exc:
            self._refused(TrustListRefused(TrustCode.UNREADABLE, str(exc)))
            return
        except TrustListRefused as exc:
            self._refused(exc)
            return
        self.last_refusal = None
        write_atomically(self.kept_path, data)
        log.info(
            "%s took trust list version %d (%d keys, expires %s)",
            self.state,
            candidate.version,
            len(candidate.keys),
            iso_utc(candidate.expires_at),
        )

    def _refused(self, exc: TrustListRefused) -> None:
        self.last_refusal = exc
        kept = "none" if self._held is None else f"version {self._held.version}"
        log.error("%s refused %s: %s (keeps %s)", self.state, self.path, exc, kept)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, through a temporary file of a unique name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
