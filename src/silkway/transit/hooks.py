"""What plugs into a movement's change from outside transit, filled in by bootstrap.

The guarantee ledger is the security gate; the seals observe movements. Transit imports neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from silkway.kernel.errors import Violation
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import Movement
from silkway.unit_of_work import UnitOfWork


class SecurityGate(Protocol):
    """The security behind a movement: its access codes checked when quoted, the duties locked
    at release, settled afterwards.

    ``reserve`` and ``settle`` run inside the movement's own transaction, so a refused release
    locks nothing and a settlement is never lost. The foundation ships a format check; the guarantee ledger
    replaces it with a real two-phase lock.
    """

    def check_quoted(
        self, uow: UnitOfWork, declaration: TransitDeclaration, now: datetime
    ) -> list[Violation]:
        """When a declaration is lodged or amended: the access codes it quotes, against the
        securities they open. Violations point into the declaration.

        ``uow`` only reads, and the change's own transaction is not open yet: checking a code
        is a deliberately slow hash. A gate that keeps wrong attempts writes them in a
        transaction of its own. Transit keeps no code: it stores the declaration without them
        once this passed."""
        ...

    def reserve(
        self, uow: UnitOfWork, movement: Movement, security_reference: str, now: datetime
    ) -> list[Violation]:
        """At release (``movement`` is already released): any violation refuses the release."""
        ...

    def settle(self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime) -> None:
        """After any other change: credit, void or post what release locked, as the change says."""
        ...


class MovementObserver(Protocol):
    """A capability that reacts to a movement's change inside the change's own transaction.

    The composition root plugs one in per capability that must follow movements (seals are
    activated at release and deactivated at the end), so transit never imports them.
    """

    def movement_changed(
        self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime
    ) -> None:
        """``before`` became ``after``; raise nothing that should not refuse the change."""
        ...
