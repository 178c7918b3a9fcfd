"""Who receives recovered duties: the Treaty's shares for import duty, the payable state for taxes.

Import duty recovered from a guarantee is pooled and split among the member states by the fixed
shares of Treaty Annex 5 valid on the claim date (DOMAIN.md §4). VAT and excise go whole to the
state where they are payable.

Rounding rule for the split (largest remainder), stated so that anyone can redo it:

1. each state's exact share is ``amount × share% / 100``; floor it to the minor unit;
2. the minor units left over (always fewer than the number of states) are handed out one at a
   time to the states with the largest dropped fractions; a tie goes to the larger share, then to
   the state code that sorts first.

The parts therefore sum exactly to the amount, and no state is more than one minor unit away
from its exact share. The arithmetic is done on integers, so it is exact for any amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import lcm

from silkway.guarantees.domain.liability import MINOR_UNITS, Tax
from silkway.kernel.errors import DomainError
from silkway.reference.model import DutyShares, ReferenceData


class DistributionError(DomainError):
    """The amount cannot be distributed as asked."""

    code = "distribution-invalid"


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One recovered amount of a claim on a guarantee."""

    tax: Tax
    amount: Decimal
    currency: str
    state: str | None = None
    """Where the tax is payable; required for VAT and excise, ignored for import duty."""


@dataclass(frozen=True, slots=True)
class DistributionLine:
    """What one state receives of one tax in one currency."""

    state: str
    tax: Tax
    amount: Decimal
    currency: str
    basis: str
    """The rule that gave this state this amount."""


_Key = tuple[Tax, str, str]
"""(tax, receiving state, currency)."""


def split_import_duty(
    amount: Decimal, shares: DutyShares, *, currency: str = "EUR"
) -> dict[str, Decimal]:
    """``amount`` split by ``shares`` exactly to the minor unit (largest remainder)."""
    places = _places(currency)
    units = _minor_units(amount, places)
    if units is None:
        raise DistributionError(
            f"amount to split must be a non-negative whole number of minor units of {currency},"
            f" got {amount}"
        )
    return {state: _money(part, places) for state, part in _split_units(units, shares).items()}


def _split_units(units: int, shares: DutyShares) -> dict[str, int]:
    scale, weights = _integer_weights(shares)
    floors: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for state, weight in weights.items():
        floors[state], dropped[state] = divmod(units * weight, scale)
    left = units - sum(floors.values())
    order = sorted(weights, key=lambda s: (-dropped[s], -weights[s], s))
    for state in order[:left]:
        floors[state] += 1
    return {state: floors[state] for state in sorted(floors)}


def distribute_claim(
    claim_lines: Iterable[ClaimLine], ref: ReferenceData, on: date
) -> list[DistributionLine]:
    """Who receives what of a claim dated ``on``.

    Import duty is pooled per currency and split by the shares valid on ``on`` (old claims use
    old shares); VAT and excise go to their payable state. One line per (tax, state, currency),
    ordered by tax, then state, then currency.
    """
    received: dict[_Key, int] = {}
    pooled: dict[str, int] = {}
    for index, line in enumerate(claim_lines):
        units = _check_line(index, line, ref)
        if line.tax is Tax.IMPORT_DUTY:
            pooled[line.currency] = pooled.get(line.currency, 0) + units
        else:
            payable: _Key = (line.tax, line.state or "", line.currency)
            received[payable] = received.get(payable, 0) + units
    basis: dict[_Key, str] = {key: f"{key[0].value} payable in {key[1]}" for key in received}
    if pooled:
        shares = ref.shares_on(on)
        if shares is None:
            raise DistributionError(f"no import-duty share set is valid on {on.isoformat()}")
        for currency, units in pooled.items():
            for state, part in _split_units(units, shares).items():
                pooled_key: _Key = (Tax.IMPORT_DUTY, state, currency)
                received[pooled_key] = part
                basis[pooled_key] = (
                    f"{shares.shares_pct[state]}% of pooled import duty, shares {_period(shares)}"
                )
    order = {tax: i for i, tax in enumerate(Tax)}
    lines = []
    for key in sorted(received, key=lambda k: (order[k[0]], k[1], k[2])):
        tax, state, currency = key
        amount = _money(received[key], _places(currency))
        lines.append(DistributionLine(state, tax, amount, currency, basis[key]))
    return lines


@dataclass(frozen=True, slots=True)
class ItemDebt:
    """The taxes one goods item owes if it is not delivered (its liability lines, unreduced)."""

    item_number: int
    lines: tuple[ClaimLine, ...]


def debt_of(items: Iterable[ItemDebt], *, delivered: Iterable[int] = ()) -> list[ClaimLine]:
    """The debt of the goods not delivered, one line per (tax, state, currency), zeros left out.

    Import duty is owed to the Union (its state is dropped); VAT and excise to their state.
    """
    skip = set(delivered)
    owed: dict[_Key, Decimal] = {}
    for item in items:
        if item.item_number in skip:
            continue
        for line in item.lines:
            state = "" if line.tax is Tax.IMPORT_DUTY else line.state or ""
            key: _Key = (line.tax, state, line.currency)
            owed[key] = owed.get(key, Decimal(0)) + line.amount
    order = {tax: i for i, tax in enumerate(Tax)}
    return [
        ClaimLine(tax, amount, currency, state or None)
        for (tax, state, currency), amount in sorted(
            owed.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], kv[0][2])
        )
        if amount > 0
    ]


def allocate(amount: Decimal, debt: Sequence[ClaimLine]) -> list[ClaimLine]:
    """``amount`` recovered on ``debt`` spread over its lines in proportion, exact to the minor unit.

    Largest remainder, as for the duty shares: each line gets the floor of its exact part, the
    minor units left over go to the largest dropped fractions (ties to the earlier line). The
    parts sum to ``amount``; a recovery larger than the debt is refused.
    """
    currencies = {line.currency for line in debt}
    if len(currencies) != 1:
        raise DistributionError("a recovery is spread over the debt of one currency")
    (currency,) = currencies
    places = _places(currency)
    units = _minor_units(amount, places)
    weights = [_minor_units(line.amount, places) for line in debt]
    if units is None or any(w is None or w <= 0 for w in weights):
        raise DistributionError(
            f"amounts must be positive whole numbers of minor units of {currency}"
        )
    whole = [w for w in weights if w is not None]
    total = sum(whole)
    if units > total:
        raise DistributionError(f"recovery of {amount} exceeds the debt of {_money(total, places)}")
    parts = []
    dropped = []
    for weight in whole:
        part, rest = divmod(units * weight, total)
        parts.append(part)
        dropped.append(rest)
    left = units - sum(parts)
    for index in sorted(range(len(parts)), key=lambda i: (-dropped[i], i))[:left]:
        parts[index] += 1
    return [
        ClaimLine(line.tax, _money(part, places), currency, line.state)
        for line, part in zip(debt, parts, strict=True)
        if part > 0
    ]


def _money(units: int, places: int) -> Decimal:
    # Built from text so that no context precision can round it.
    return Decimal(f"{units}e-{places}")


def _places(currency: str) -> int:
    places = MINOR_UNITS.get(currency)
    if places is None:
        raise DistributionError(f"no minor unit known for currency {currency!r}")
    return places


def _minor_units(amount: Decimal, places: int) -> int | None:
    """``amount`` counted in minor units, or ``None`` if negative, not finite or fractional."""
    if not amount.is_finite() or amount < 0:
        return None
    # Fraction is exact whatever the size, where Decimal arithmetic would round.
    units = Fraction(amount) * 10**places
    return units.numerator if units.denominator == 1 else None


def _integer_weights(shares: DutyShares) -> tuple[int, dict[str, int]]:
    """Shares as integers over a common scale, so that the split needs no rounding."""
    pcts = shares.shares_pct
    since = shares.valid_from.isoformat()
    if not pcts or any(not p.is_finite() or p < 0 for p in pcts.values()):
        raise DistributionError(f"share set valid from {since} has a missing or negative share")
    exact = {state: Fraction(p) for state, p in pcts.items()}
    total = sum(exact.values(), Fraction(0))
    if total != 100:
        shown = sum(pcts.values(), Decimal(0))
        raise DistributionError(f"shares valid from {since} sum to {shown}%, not 100%")
    common = lcm(*(share.denominator for share in exact.values()))
    return 100 * common, {state: int(share * common) for state, share in exact.items()}


def _check_line(index: int, line: ClaimLine, ref: ReferenceData) -> int:
    """The line's amount in minor units, once the line is found sound."""
    units = _minor_units(line.amount, _places(line.currency))
    if units is None:
        raise DistributionError(
            f"claim line {index}: amount must be a non-negative whole number of minor units"
            f" of {line.currency}, got {line.amount}"
        )
    if line.tax is not Tax.IMPORT_DUTY and line.state not in ref.states:
        raise DistributionError(
            f"claim line {index}: {line.tax.value} needs the member state where it is payable,"
            f" got {line.state!r}"
        )
    return units


def _period(shares: DutyShares) -> str:
    end = shares.valid_to.isoformat() if shares.valid_to else "onwards"
    return f"{shares.valid_from.isoformat()} – {end}"
