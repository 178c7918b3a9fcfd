"""SQLAlchemy Core storage of the guarantee registry and ledger.

The ledger never lets a read decide a change. A lock is a guarded ``UPDATE`` on the guarantee
row (``… WHERE reference_amount - locked - posted >= :amount`` and the guarantee's status,
validity, states and scope); a credit, void, post or expiry is a guarded ``UPDATE`` on the lock
row followed by the matching change of the guarantee row. The CHECK constraints of
:mod:`silkway.guarantees.db.tables` back the guards up. Reads explain refusals and answer
repeated idempotency keys.

A batch of locks (:meth:`SqlGuaranteeRepository.lock_many`) is applied as if its requests came
one after the other, each answered on its own, in a few statements whatever its size:

1. each guarantee's requests are offered whole to one guarded update (on PostgreSQL, every
   guarantee of the batch in one statement); most batches end here;
2. for a guarantee whose group did not fit, one read decides each request with the domain's
   rules, in order, and answers the refusals;
3. the requests that fit are offered again; the guard re-checks them, and only if the
   guarantee changed in between are they placed one by one.

The lock rows and history entries of a batch are then written with one statement.
"""

from __future__ import annotations

from silkway.guarantees.db.repository.certificates import SqlCertificateStore
from silkway.guarantees.db.repository.claims import SqlClaimStore
from silkway.guarantees.db.repository.ledger import SqlGuaranteeLedger
from silkway.guarantees.db.repository.problems import SqlProblemStore


class SqlGuaranteeRepository(
    SqlGuaranteeLedger, SqlCertificateStore, SqlClaimStore, SqlProblemStore
):
    """The guarantee registry, ledger, certificates, claims and problems of one unit of work."""


__all__ = ["SqlGuaranteeRepository"]
