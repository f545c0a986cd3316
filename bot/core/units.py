"""Minutes -> 15-minute units under a rule: the CMS total-time method, the AMA per-code
midpoint rule, or a payer profile (another threshold, a per-visit cap).

Pure functions on plain values. The CMS allocation follows units-rule.md §1.3 and §7:
total units come from the total timed minutes; each code first gets its full 15-minute
blocks; the extra units go to the codes with the largest leftover minutes.

Ties between equal leftovers are the professional's choice under CMS (Examples 2 and 5).
We break them deterministically, as units-rule.md §7 recommends: larger total minutes
first (Ex1, "more timed units to the service that took the most time"), then the code
that comes first in the message, then code number ascending. The answer flags the tie.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.core.codes import Rule

BLOCK = 15  # minutes in one unit of a timed code


def units_for(minutes: int, threshold: int = 8) -> int:
    """Units for `minutes` of timed treatment: full blocks, plus one if the leftover reaches the threshold.

    With the usual threshold of 8 this is the CMS table: 0-7 -> 0, 8-22 -> 1, 23-37 -> 2 ...
    """
    if minutes < 0:
        raise ValueError("minutes cannot be negative")
    full, left = divmod(minutes, BLOCK)
    return full + (1 if left >= threshold else 0)


def minutes_range(units: int, threshold: int = 8) -> tuple[int, int | None]:
    """The minutes that bill exactly `units` (inclusive); (0, threshold-1) for 0 units.

    >>> minutes_range(3)
    (38, 52)
    """
    if units < 0:
        raise ValueError("units cannot be negative")
    if units == 0:
        return 0, threshold - 1
    if threshold == BLOCK:
        return units * BLOCK, units * BLOCK + BLOCK - 1
    return (units - 1) * BLOCK + threshold, units * BLOCK + threshold - 1


def minutes_to_next_unit(minutes: int, threshold: int = 8) -> int:
    """How many more minutes would earn one more unit."""
    return minutes_range(units_for(minutes, threshold) + 1, threshold)[0] - minutes


class Item(NamedTuple):
    """One code's minutes on one date of service (minutes is None for an untimed code given alone)."""

    code: str
    minutes: int | None
    timed: bool


class Allocated(NamedTuple):
    code: str
    minutes: int | None
    units: int
    timed: bool
    full_blocks: int = 0
    leftover: int = 0
    extra: bool = False  # got one unit beyond its full blocks from the pooled leftovers
    capped: int = 0  # units removed by the payer's per-visit cap


class Allocation(NamedTuple):
    rule: Rule
    lines: tuple[Allocated, ...]
    total_minutes: int  # timed minutes only
    total_units: int  # timed units after any cap
    uncapped_units: int
    tied: tuple[str, ...] = ()  # codes that tied for an extra unit (the choice is the biller's)


def merge_same_code(items: list[Item]) -> list[Item]:
    """One line per code per date of service: minutes of the same code are summed (units-rule E6)."""
    if len({it.code for it in items}) == len(items):
        return items
    merged: dict[str, Item] = {}
    for it in items:
        prev = merged.get(it.code)
        if prev is None:
            merged[it.code] = it
        else:
            minutes = None if prev.minutes is None and it.minutes is None else (prev.minutes or 0) + (it.minutes or 0)
            merged[it.code] = Item(it.code, minutes, it.timed)
    return list(merged.values())


def allocate(items: list[Item], rule: Rule) -> Allocation:
    """Units per code under `rule`. Items of the same code are merged first; order is kept."""
    threshold = rule.threshold
    if len(items) == 1 and threshold > 0:
        return _allocate_one(items[0], rule)
    items = merge_same_code(items)
    timed = [(i, it.code, it.minutes or 0) for i, it in enumerate(items) if it.timed]
    total = sum(m for _, _, m in timed)
    tied: tuple[str, ...] = ()
    per_code: dict[str, Allocated] = {}

    if rule.method == "per_code":
        for _, code, m in timed:
            full, left = divmod(m, BLOCK)
            u = full + (left >= threshold)
            per_code[code] = Allocated(code, m, u, True, full, left, u > full)
    else:
        extra = units_for(total, threshold) - sum(m // BLOCK for _, _, m in timed)
        winners: set[str] = set()
        if extra > 0:
            # largest leftover first; ties: longer service, then listed first, then code number
            ranked = sorted((t for t in timed if t[2] % BLOCK), key=lambda t: (-(t[2] % BLOCK), -t[2], t[0], t[1]))
            winners = {t[1] for t in ranked[:extra]}
            if extra < len(ranked):
                cut = ranked[extra - 1][2] % BLOCK
                same = tuple(t[1] for t in ranked if t[2] % BLOCK == cut)
                if any(c not in winners for c in same):
                    tied = same
        for _, code, m in timed:
            full, left = divmod(m, BLOCK)
            bonus = code in winners
            per_code[code] = Allocated(code, m, full + bonus, True, full, left, bonus)

    uncapped = sum(a.units for a in per_code.values())
    budget = rule.cap
    lines: list[Allocated] = []
    for it in items:
        if not it.timed:
            lines.append(Allocated(it.code, it.minutes, 1, False))
            continue
        a = per_code[it.code]
        if budget is not None:
            keep = min(a.units, budget)
            budget -= keep
            if keep < a.units:
                a = a._replace(units=keep, capped=a.units - keep)
        lines.append(a)
    total_units = uncapped if rule.cap is None else sum(a.units for a in per_code.values()) - sum(
        a.capped for a in lines)
    return Allocation(rule, tuple(lines), total, total_units, uncapped, tied)


def _allocate_one(item: Item, rule: Rule) -> Allocation:
    """`allocate` for a visit of one code, the usual note: with nothing to share, the total-time and
    per-code methods agree (the code's full blocks, plus one for a leftover that reaches the threshold)."""
    if not item.timed:
        return Allocation(rule, (Allocated(item.code, item.minutes, 1, False),), 0, 0, 0)
    minutes = item.minutes or 0
    full, left = divmod(minutes, BLOCK)
    bonus = left >= rule.threshold
    units = full + bonus
    line = Allocated(item.code, minutes, units, True, full, left, bonus)
    if rule.cap is None or units <= rule.cap:
        return Allocation(rule, (line,), minutes, units, units)
    return Allocation(rule, (line._replace(units=rule.cap, capped=units - rule.cap),), minutes, rule.cap, units)
