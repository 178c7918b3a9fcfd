"""The amount a transit guarantee must cover for one declaration, with its explanation.

The amount is the import duty and taxes that would be payable if the goods were released for
domestic consumption, without preferences (DOMAIN.md §4). It is computed as a tree that a
customs officer can check by hand: per goods item, per tax, the rule applied and its candidates,
then the reductions of the Agreement of 19 April 2022.

Stated rules (where the law leaves a choice, the choice is a parameter):

* **Currency.** The customs value is converted into the liability currency at the latest rate
  published on or before the calculation date: ``value × rate(item currency) ÷ rate(liability
  currency)``, rates being EUR per unit. Specific rates (EUR per unit) are converted the same way.
  Intermediate amounts are exact (34 significant digits); nothing is rounded before the end of a
  tax line.
* **Rounding.** Each tax line (one tax of one item) is rounded once, ROUND_HALF_UP, to the minor
  unit of the liability currency (:data:`MINOR_UNITS`). Totals are sums of rounded lines. The
  amount to secure is the gross total times the remaining percentage, rounded once more the same
  way.
* **VAT base** = customs value + the item's rounded import duty + its rounded excise.
* **Payable state** for VAT and excise (:class:`VatStateRule`): the member state on the route
  whose VAT + excise for the item is highest (default; ties go to the state met first), the
  departure state, or the destination state. Departure and destination states come from the
  offices when the reference data knows them, otherwise from the first and last member state of
  the route.
* **Quantity** for a per-kg rate is the net mass, or the gross mass when no net mass is declared
  (the larger figure, so the security is never short); per-litre and per-piece rates use the
  supplementary quantity, which is then required.
* **Reductions** (:class:`ReductionRule`): a qualified holder secures 20% less; a national
  guarantor's reduction is 10–100% (0 means none). By default only the larger of the two applies
  (LARGER): the Agreement does not say the two relieve the same debt twice, so Silkway does not
  stack them unless told to. SEQUENTIAL applies them one after the other:
  ``remaining = (1 − h) × (1 − g)``, which never goes below zero and does not depend on order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import DutyKind, ReferenceData, TariffHeading
from silkway.transit.domain.declaration import GoodsItem, TransitDeclaration

MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        # ISO 4217 minor units of the currencies Silkway meets on its corridors.
        "AMD": 2,
        "BYN": 2,
        "KGS": 2,
        "KZT": 2,
        "RUB": 2,
        "EUR": 2,
        "USD": 2,
        "CNY": 2,
        "GBP": 2,
        "CHF": 2,
        "TRY": 2,
        "UZS": 2,
        "AED": 2,
        "SGD": 2,
        "RSD": 2,
        "MNT": 2,
        "IRR": 2,
        "JPY": 0,
        "KRW": 0,
        "VND": 0,
    }
)
"""Decimal places of each currency's minor unit (ISO 4217)."""

HOLDER_REDUCTION_PCT = Decimal(20)
"""Reduction for a declarant with a record of general security and no arrears (2022 Agreement)."""

GUARANTOR_REDUCTION_MIN_PCT = Decimal(10)
GUARANTOR_REDUCTION_MAX_PCT = Decimal(100)

_HUNDRED = Decimal(100)
_EXACT = Context(prec=34)
_WIDE = Context(prec=80)
_SHOWN = Decimal("0.000001")


class UnknownCurrency(DomainError):
    """The currency has no known minor unit."""

    code = "unknown-currency"


def money_quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (``Decimal("0.01")`` for EUR, ``Decimal("1")`` for JPY)."""
    places = MINOR_UNITS.get(currency)
    if places is None:
        raise UnknownCurrency(f"no minor unit known for currency {currency!r}")
    return Decimal(1).scaleb(-places)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half-up to the minor unit of ``currency``."""
    return amount.quantize(money_quantum(currency), rounding=ROUND_HALF_UP)


def secured_share(gross: Decimal, reduction_pct: Decimal, currency: str) -> Decimal:
    """What a gross amount of duties needs as security after a reduction of ``reduction_pct``.

    The same rounding as :attr:`Liability.total`, so that the secured share of every item of a
    declaration is the declaration's total.
    """
    with localcontext(_EXACT):
        return round_money(gross * (_HUNDRED - reduction_pct) / _HUNDRED, currency)


class Tax(StrEnum):
    IMPORT_DUTY = "import_duty"
    EXCISE = "excise"
    VAT = "vat"


class VatStateRule(StrEnum):
    """Which member state's VAT and excise rates the security is computed with."""

    HIGHEST_ON_ROUTE = "highest_on_route"
    DEPARTURE_STATE = "departure_state"
    DESTINATION_STATE = "destination_state"


class ReductionRule(StrEnum):
    """How the holder's and the national guarantor's reductions combine."""

    LARGER = "larger"
    SEQUENTIAL = "sequential"


class LiabilityError(DomainError):
    """The liability cannot be computed from this declaration and reference data."""

    code = "liability-not-computable"

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message, [Violation(self.code, pointer, message)])


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way of computing a tax line; a combined duty has two and the larger wins."""

    basis: str
    formula: str
    amount: Decimal
    """Exact, in the liability currency."""


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax of one goods item."""

    tax: Tax
    state: str | None
    """The member state the tax is computed for; ``None`` for the Union's common import duty."""
    rule: str
    candidates: tuple[Candidate, ...]
    applied: str
    """The basis of the candidate that gives the amount."""
    exact: Decimal
    amount: Decimal
    """``exact`` rounded half-up to the minor unit."""


@dataclass(frozen=True, slots=True)
class ItemLiability:
    item_number: int
    commodity_code: str
    heading: str
    description: str
    customs_value: Decimal
    """Exact, in the liability currency."""
    conversion: str
    payable_state: str
    state_choice: str
    """Why VAT and excise are those of ``payable_state``."""
    lines: tuple[TaxLine, ...]

    def amount_of(self, tax: Tax) -> Decimal:
        return sum((line.amount for line in self.lines if line.tax is tax), Decimal(0))


@dataclass(frozen=True, slots=True)
class Reduction:
    reason: str
    pct: Decimal
    applied: bool


@dataclass(frozen=True, slots=True)
class Liability:
    """The security required for one declaration, with every step that led to it."""

    currency: str
    on: date
    vat_state_rule: VatStateRule
    reduction_rule: ReductionRule
    items: tuple[ItemLiability, ...]
    totals: Mapping[Tax, Decimal]
    gross_total: Decimal
    reductions: tuple[Reduction, ...]
    reduction_pct: Decimal
    """The effective reduction, 0–100."""
    total: Decimal
    """The amount to secure."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready rendering; amounts are strings so that no digit is lost."""
        return {
            "currency": self.currency,
            "on": self.on.isoformat(),
            "vat_state_rule": self.vat_state_rule.value,
            "reduction_rule": self.reduction_rule.value,
            "items": [
                {
                    "item_number": item.item_number,
                    "commodity_code": item.commodity_code,
                    "heading": item.heading,
                    "customs_value": str(item.customs_value),
                    "conversion": item.conversion,
                    "payable_state": item.payable_state,
                    "state_choice": item.state_choice,
                    "lines": [_line_dict(line) for line in item.lines],
                }
                for item in self.items
            ],
            "totals": {tax.value: str(amount) for tax, amount in self.totals.items()},
            "gross_total": str(self.gross_total),
            "reductions": [
                {"reason": r.reason, "pct": str(r.pct), "applied": r.applied}
                for r in self.reductions
            ],
            "reduction_pct": str(self.reduction_pct),
            "total": str(self.total),
        }

    def explain(self) -> list[str]:
        """The calculation as lines an officer can redo with a pencil."""
        cur = self.currency
        out = [f"Security for transit, {cur}, rates of {self.on.isoformat()}"]
        for item in self.items:
            out.append(
                f"Item {item.item_number}, {item.commodity_code} (heading {item.heading}, "
                f"{item.description}): customs value {item.conversion}"
            )
            out.append(f"  VAT and excise of {item.payable_state}: {item.state_choice}")
            for line in item.lines:
                where = f" ({line.state})" if line.state else ""
                if len(line.candidates) == 1:
                    steps, chosen = line.candidates[0].formula, ""
                else:
                    steps = "; ".join(f"{c.basis} {c.formula}" for c in line.candidates)
                    chosen = f"; {line.applied} is higher"
                out.append(
                    f"  {_TAX_LABEL[line.tax]}{where}, {line.rule}: {steps}{chosen}"
                    f" → {line.amount} {cur}"
                )
        totals = ", ".join(f"{_TAX_LABEL[t]} {a}" for t, a in self.totals.items())
        out.append(f"Totals: {totals}; gross {self.gross_total} {cur}")
        for r in self.reductions:
            state = "applied" if r.applied else "not applied"
            out.append(f"Reduction {r.pct}% ({r.reason}): {state}")
        out.append(
            f"Effective reduction ({self.reduction_rule.value}) {_fmt(self.reduction_pct)}%: "
            f"{self.gross_total} × (100 − {_fmt(self.reduction_pct)})% = {self.total} {cur}"
        )
        out.append(f"Amount to secure: {self.total} {cur}")
        return out


_TAX_LABEL: Mapping[Tax, str] = MappingProxyType(
    {Tax.IMPORT_DUTY: "import duty", Tax.EXCISE: "excise", Tax.VAT: "VAT"}
)


def _line_dict(line: TaxLine) -> dict[str, Any]:
    return {
        "tax": line.tax.value,
        "state": line.state,
        "rule": line.rule,
        "candidates": [
            {"basis": c.basis, "formula": c.formula, "amount": str(c.amount)}
            for c in line.candidates
        ],
        "applied": line.applied,
        "exact": str(line.exact),
        "amount": str(line.amount),
    }


def _fmt(value: Decimal) -> str:
    """A plain-notation number without trailing zeros, cut to six decimals (marked ≈) if longer."""
    shown = value.quantize(_SHOWN, rounding=ROUND_HALF_UP, context=_WIDE)
    text = format(shown, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if shown == value else "≈" + text


def compute_liability(
    decl: TransitDeclaration,
    ref: ReferenceData,
    on: date,
    rule: VatStateRule = VatStateRule.HIGHEST_ON_ROUTE,
    *,
    holder_qualified: bool,
    guarantor_reduction_pct: Decimal,
    currency: str = "EUR",
    reduction_rule: ReductionRule = ReductionRule.LARGER,
) -> Liability:
    """The security required for ``decl`` on ``on``, in ``currency``.

    Raises :class:`LiabilityError` on an unknown heading, a missing exchange rate, a missing
    quantity, an unknown payable state or a guarantor reduction outside 0 or 10–100%.
    """
    if currency not in MINOR_UNITS:
        raise LiabilityError(f"no minor unit known for liability currency {currency!r}")
    _check_guarantor_pct(guarantor_reduction_pct)
    try:
        return _compute(
            decl, ref, on, rule, holder_qualified, guarantor_reduction_pct, currency, reduction_rule
        )
    except InvalidOperation:
        # Only figures far beyond any real consignment overflow 34 significant digits.
        raise LiabilityError("amounts too large to compute exactly") from None


def _compute(
    decl: TransitDeclaration,
    ref: ReferenceData,
    on: date,
    rule: VatStateRule,
    holder_qualified: bool,
    guarantor_reduction_pct: Decimal,
    currency: str,
    reduction_rule: ReductionRule,
) -> Liability:
    with localcontext(_EXACT):
        calc = _Calculator(decl, ref, on, rule, currency)
        items = tuple(calc.item(index, item) for index, item in enumerate(decl.items))
        totals = {
            tax: sum((item.amount_of(tax) for item in items), Decimal(0))
            for tax in (Tax.IMPORT_DUTY, Tax.EXCISE, Tax.VAT)
        }
        gross = sum(totals.values(), Decimal(0))
        holder_pct = HOLDER_REDUCTION_PCT if holder_qualified else Decimal(0)
        effective = _combine(holder_pct, guarantor_reduction_pct, reduction_rule)
        total = round_money(gross * (_HUNDRED - effective) / _HUNDRED, currency)
    reductions = _reductions(holder_pct, guarantor_reduction_pct, reduction_rule)
    return Liability(
        currency=currency,
        on=on,
        vat_state_rule=rule,
        reduction_rule=reduction_rule,
        items=items,
        totals=MappingProxyType(totals),
        gross_total=gross,
        reductions=reductions,
        reduction_pct=effective,
        total=total,
    )


def _check_guarantor_pct(pct: Decimal) -> None:
    if not pct.is_finite() or not (
        pct == 0 or GUARANTOR_REDUCTION_MIN_PCT <= pct <= GUARANTOR_REDUCTION_MAX_PCT
    ):
        raise LiabilityError(
            f"national guarantor reduction must be 0 or between {GUARANTOR_REDUCTION_MIN_PCT}"
            f" and {GUARANTOR_REDUCTION_MAX_PCT} percent, got {pct}"
        )


def _combine(holder_pct: Decimal, guarantor_pct: Decimal, rule: ReductionRule) -> Decimal:
    if rule is ReductionRule.LARGER:
        return max(holder_pct, guarantor_pct)
    remaining = (_HUNDRED - holder_pct) * (_HUNDRED - guarantor_pct) / _HUNDRED
    return _HUNDRED - remaining


def _reductions(
    holder_pct: Decimal, guarantor_pct: Decimal, rule: ReductionRule
) -> tuple[Reduction, ...]:
    found = []
    if holder_pct:
        found.append(Reduction("qualified holder, Agreement of 19 April 2022", holder_pct, True))
    if guarantor_pct:
        found.append(
            Reduction("national guarantor, Agreement of 19 April 2022", guarantor_pct, True)
        )
    if rule is ReductionRule.LARGER and len(found) == 2:
        # Only the larger one counts; the first on a tie, so exactly one is applied.
        keep = 0 if found[0].pct >= found[1].pct else 1
        found = [Reduction(r.reason, r.pct, i == keep) for i, r in enumerate(found)]
    return tuple(found)


class _Calculator:
    """Computes item liabilities for one declaration; holds the resolved rates."""

    def __init__(
        self,
        decl: TransitDeclaration,
        ref: ReferenceData,
        on: date,
        rule: VatStateRule,
        currency: str,
    ) -> None:
        self.decl = decl
        self.ref = ref
        self.on = on
        self.rule = rule
        self.currency = currency
        self.eur_per_unit = self._eur_per_unit(currency, "")

    def _eur_per_unit(self, currency: str, pointer: str) -> Decimal:
        if currency == "EUR":
            return Decimal(1)
        rate = self.ref.rate(currency, self.on)
        if rate is None:
            raise LiabilityError(
                f"no exchange rate for {currency} on or before {self.on.isoformat()}", pointer
            )
        if not rate.per_unit_eur.is_finite() or rate.per_unit_eur <= 0:
            raise LiabilityError(
                f"exchange rate for {currency} of {rate.on.isoformat()} is not positive", pointer
            )
        return rate.per_unit_eur

    def _from_eur(self, eur: Decimal, formula: str) -> tuple[Decimal, str]:
        """``eur`` in the liability currency, and the formula extended to show the conversion."""
        if self.currency == "EUR":
            return eur, f"{formula} = {_fmt(eur)} EUR"
        amount = eur / self.eur_per_unit
        return amount, (
            f"{formula} = {_fmt(eur)} EUR ÷ {_fmt(self.eur_per_unit)} EUR/{self.currency}"
            f" = {_fmt(amount)} {self.currency}"
        )

    def item(self, index: int, item: GoodsItem) -> ItemLiability:
        at = f"/items/{index}"
        heading = self._heading(index, item)
        for name, figure in (("value", item.value), ("gross_mass_kg", item.gross_mass_kg)):
            if not figure.is_finite() or figure < 0:
                raise LiabilityError(f"item {item.item_number}: {name} must not be negative", at)
        item_rate = self._eur_per_unit(item.currency, f"{at}/currency")
        customs_value = item.value * item_rate / self.eur_per_unit
        conversion = self._conversion(item, item_rate, customs_value)
        duty = self._duty(index, item, heading, customs_value)
        state, choice, excise, vat = self._state_taxes(index, item, heading, customs_value, duty)
        return ItemLiability(
            item_number=item.item_number,
            commodity_code=item.commodity_code,
            heading=heading.heading,
            description=heading.description,
            customs_value=customs_value,
            conversion=conversion,
            payable_state=state,
            state_choice=choice,
            lines=(duty, excise, vat),
        )

    def _conversion(self, item: GoodsItem, item_rate: Decimal, customs_value: Decimal) -> str:
        cur = self.currency
        if item.currency == cur:
            return f"{_fmt(item.value)} {cur}"
        steps = f"{_fmt(item.value)} {item.currency}"
        if item.currency != "EUR":
            steps += f" × {_fmt(item_rate)} EUR/{item.currency}"
        if cur != "EUR":
            steps += f" ÷ {_fmt(self.eur_per_unit)} EUR/{cur}"
        return f"{steps} = {_fmt(customs_value)} {cur}"

    def _heading(self, index: int, item: GoodsItem) -> TariffHeading:
        code = item.commodity_code
        heading = self.ref.tariff.get(code[:4]) if len(code) >= 4 and code.isdigit() else None
        if heading is None:
            raise LiabilityError(
                f"item {item.item_number}: no tariff heading {code[:4]!r} for commodity code"
                f" {code!r}",
                f"/items/{index}/commodity_code",
            )
        return heading

    def _quantity(
        self, index: int, item: GoodsItem, unit: str | None, heading: str
    ) -> tuple[Decimal, str]:
        at = f"/items/{index}"
        if unit in (None, "kg"):
            if item.net_mass_kg is not None:
                mass, which = item.net_mass_kg, "net"
            else:
                mass, which = item.gross_mass_kg, "gross"
            if not mass.is_finite() or mass < 0:
                raise LiabilityError(
                    f"item {item.item_number}: {which} mass must not be negative", at
                )
            return mass, f"{_fmt(mass)} kg ({which})"
        if unit in ("l", "pcs"):
            qty = item.supplementary_quantity
            if qty is None:
                raise LiabilityError(
                    f"item {item.item_number}: heading {heading} is charged per {unit}; "
                    "supplementary quantity is required",
                    f"{at}/supplementary_quantity",
                )
            if not qty.is_finite() or qty < 0:
                raise LiabilityError(
                    f"item {item.item_number}: supplementary quantity must not be negative",
                    f"{at}/supplementary_quantity",
                )
            return qty, f"{_fmt(qty)} {unit}"
        raise LiabilityError(f"tariff heading {heading} has an unknown unit {unit!r}", at)

    def _ad_valorem(self, heading: TariffHeading, customs_value: Decimal) -> Candidate:
        pct = _required(heading.ad_valorem_pct, heading, "ad valorem rate")
        amount = customs_value * pct / _HUNDRED
        formula = f"{_fmt(pct)}% × {_fmt(customs_value)} = {_fmt(amount)} {self.currency}"
        return Candidate("ad valorem", formula, amount)

    def _specific(
        self, index: int, item: GoodsItem, heading: TariffHeading, per_unit_eur: Decimal
    ) -> Candidate:
        qty, shown = self._quantity(index, item, heading.specific_unit, heading.heading)
        unit = heading.specific_unit or "kg"
        amount, formula = self._from_eur(
            per_unit_eur * qty, f"{_fmt(per_unit_eur)} EUR/{unit} × {shown}"
        )
        return Candidate("specific", formula, amount)

    def _duty(
        self, index: int, item: GoodsItem, heading: TariffHeading, customs_value: Decimal
    ) -> TaxLine:
        candidates: tuple[Candidate, ...]
        if heading.kind is DutyKind.AD_VALOREM:
            candidates = (self._ad_valorem(heading, customs_value),)
        elif heading.kind is DutyKind.SPECIFIC:
            rate = _required(heading.specific_eur, heading, "specific rate")
            candidates = (self._specific(index, item, heading, rate),)
        else:
            rate = _required(heading.specific_eur, heading, "specific minimum")
            candidates = (
                self._ad_valorem(heading, customs_value),
                self._specific(index, item, heading, rate),
            )
        # On a tie the ad valorem candidate (listed first) is the one reported as applied.
        winner = max(candidates, key=lambda c: c.amount)
        return TaxLine(
            tax=Tax.IMPORT_DUTY,
            state=None,
            rule=heading.kind.value.replace("_", " "),
            candidates=candidates,
            applied=winner.basis,
            exact=winner.amount,
            amount=round_money(winner.amount, self.currency),
        )

    def _excise(self, index: int, item: GoodsItem, heading: TariffHeading, state: str) -> TaxLine:
        per_unit = heading.excise.get(state)
        if per_unit is None:
            candidate = Candidate(
                "none", f"none in {state} for heading {heading.heading}", Decimal(0)
            )
        else:
            candidate = self._specific(index, item, heading, per_unit)
        return TaxLine(
            tax=Tax.EXCISE,
            state=state,
            rule="not excisable" if per_unit is None else "specific per unit",
            candidates=(candidate,),
            applied=candidate.basis,
            exact=candidate.amount,
            amount=round_money(candidate.amount, self.currency),
        )

    def _vat(self, state: str, customs_value: Decimal, duty: TaxLine, excise: TaxLine) -> TaxLine:
        pct = self.ref.states[state].vat_rate_pct
        base = customs_value + duty.amount + excise.amount
        amount = base * pct / _HUNDRED
        formula = (
            f"{_fmt(pct)}% × ({_fmt(customs_value)} + {duty.amount} + {excise.amount})"
            f" = {_fmt(amount)} {self.currency}"
        )
        candidate = Candidate("ad valorem", formula, amount)
        return TaxLine(
            tax=Tax.VAT,
            state=state,
            rule="ad valorem on customs value + duty + excise",
            candidates=(candidate,),
            applied=candidate.basis,
            exact=amount,
            amount=round_money(amount, self.currency),
        )

    def _state_taxes(
        self,
        index: int,
        item: GoodsItem,
        heading: TariffHeading,
        customs_value: Decimal,
        duty: TaxLine,
    ) -> tuple[str, str, TaxLine, TaxLine]:
        options: list[tuple[str, TaxLine, TaxLine]] = []
        for state in self._candidate_states():
            excise = self._excise(index, item, heading, state)
            options.append((state, excise, self._vat(state, customs_value, duty, excise)))
        if self.rule is not VatStateRule.HIGHEST_ON_ROUTE:
            state, excise, vat = options[0]
            return state, f"{self.rule.value.replace('_', ' ')} rule", excise, vat
        # max() keeps the first of equal amounts, i.e. the state met first on the route.
        state, excise, vat = max(options, key=lambda o: o[1].amount + o[2].amount)
        compared = ", ".join(f"{s} {e.amount + v.amount}" for s, e, v in options)
        return state, f"highest VAT + excise on the route ({compared})", excise, vat

    def _candidate_states(self) -> list[str]:
        decl, ref = self.decl, self.ref
        members = [s for s in dict.fromkeys(decl.route) if s in ref.states]
        if self.rule is VatStateRule.HIGHEST_ON_ROUTE:
            if not members:
                raise LiabilityError("the route crosses no member state", "/route")
            return members
        if self.rule is VatStateRule.DEPARTURE_STATE:
            office, pointer, fallback = decl.departure_office, "/departure_office", members[:1]
        else:
            office, pointer, fallback = decl.destination_office, "/destination_office", members[-1:]
        known = ref.offices.get(office)
        states = [known.state] if known is not None else fallback
        if not states or states[0] not in ref.states:
            raise LiabilityError(
                f"no member state found for office {office!r} under rule {self.rule.value}",
                pointer,
            )
        return states


def _required(value: Decimal | None, heading: TariffHeading, what: str) -> Decimal:
    if value is None or not value.is_finite() or value < 0:
        raise LiabilityError(f"tariff heading {heading.heading} ({heading.kind}) has no {what}")
    return value
