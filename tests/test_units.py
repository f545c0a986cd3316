"""Unit rules against every example in units-rule.md §1, §2 and §7, plus property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.codes import load_rule_book
from bot.core.units import BLOCK, Item, allocate, minutes_range, minutes_to_next_unit, units_for

RULES = load_rule_book()
CMS = RULES.get("cms")
AMA = RULES.get("ama")
UNTIMED = {"97010", "97012", "G0283", "92521", "97161"}


def run(spec: dict[str, int | None], rule=CMS) -> dict[str, int]:
    items = [Item(code, minutes, code not in UNTIMED) for code, minutes in spec.items()]
    return {a.code: a.units for a in allocate(items, rule).lines}


# -- the CMS table (§1.2) and its boundaries (E4, E5) ---------------------------------------------
@pytest.mark.parametrize(
    "minutes, units",
    [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5), (82, 5),
     (83, 6), (97, 6), (98, 7), (112, 7), (113, 8), (127, 8), (128, 9), (142, 9), (240, 16), (480, 32)],
)
def test_cms_table(minutes, units):
    assert units == units_for(minutes)


@pytest.mark.parametrize("units, expected", [(0, (0, 7)), (1, (8, 22)), (2, (23, 37)), (3, (38, 52)), (8, (113, 127)),
                                             (9, (128, 142)), (32, (473, 487))])
def test_table_ranges(units, expected):
    assert expected == minutes_range(units)


def test_next_unit():
    assert 13 == minutes_to_next_unit(40)  # 40 -> 3 units; 53 -> 4
    assert 1 == minutes_to_next_unit(7)


def test_full_15_threshold():
    assert [0, 0, 1, 1, 2] == [units_for(m, 15) for m in (8, 14, 15, 29, 30)]
    assert (30, 44) == minutes_range(2, 15)


def test_negative_minutes_rejected():
    with pytest.raises(ValueError):
        units_for(-1)


# -- every worked CMS example (§1.4) ----------------------------------------------------------------
def test_b1_untimed_is_one_unit_whatever_the_minutes():
    assert {"92521": 1} == run({"92521": 90})


def test_b2_single_code_60_minutes():
    assert {"97530": 4} == run({"97530": 60})


def test_ex1_more_units_to_the_longer_service():
    assert {"97112": 2, "97110": 1} == run({"97112": 24, "97110": 23})


def test_ex2_equal_minutes_either_gets_two_never_three():
    got = run({"97112": 20, "97110": 20})
    assert got in ({"97112": 2, "97110": 1}, {"97112": 1, "97110": 2})


def test_ex2_tie_is_flagged():
    alloc = allocate([Item("97112", 20, True), Item("97110", 20, True)], CMS)
    assert ("97112", "97110") == alloc.tied


def test_ex3_leftover_compared_with_the_small_code():
    assert {"97110": 2, "97140": 1} == run({"97110": 33, "97140": 7})


def test_ex4_total_minutes_constrain_units():
    assert {"97110": 1, "97140": 1, "97116": 1, "97035": 0} == run({"97110": 18, "97140": 13, "97116": 10, "97035": 8})


def test_ex5_three_short_services_one_unit():
    got = run({"97112": 7, "97110": 7, "97140": 7})
    assert 1 == sum(got.values()) and set(got.values()) == {0, 1}


def test_20_3_two_therapists_same_fifteen_minutes():
    assert {"97116": 1} == run({"97116": 15})


def test_r4_two_short_services_bill_the_longer():
    assert {"97110": 1, "97140": 0} == run({"97110": 5, "97140": 3})


# -- §1.6 and §7 derived vectors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"97110": 30, "97140": 15, "97035": 8, "97010": 30}, {"97110": 2, "97140": 1, "97035": 1, "97010": 1}),
        ({"97140": 15, "97035": 8}, {"97140": 1, "97035": 1}),
        ({"97530": 15, "97110": 10}, {"97530": 1, "97110": 1}),
        ({"97110": 10, "97112": 8, "97140": 10}, {"97110": 1, "97112": 0, "97140": 1}),
        ({"97116": 25, "97035": 10, "97750": 5}, {"97116": 2, "97035": 1, "97750": 0}),
        ({"97116": 10, "97035": 25, "97750": 5, "97032": 7}, {"97116": 1, "97035": 2, "97750": 0, "97032": 0}),
        ({"97116": 8, "97112": 30, "97140": 15, "97010": None}, {"97116": 1, "97112": 2, "97140": 1, "97010": 1}),
        ({"97116": 37, "97035": 23, "97761": 23}, {"97116": 2, "97035": 2, "97761": 2}),
        ({"97110": 4, "97140": 3}, {"97110": 0, "97140": 0}),
        ({"97110": 18, "97140": 5}, {"97110": 1, "97140": 1}),
        ({"97530": 17, "97110": 8}, {"97530": 1, "97110": 1}),
        ({"97110": 30, "97140": 15, "97035": 8}, {"97110": 2, "97140": 1, "97035": 1}),
        ({"97110": 52, "97140": 6}, {"97110": 4, "97140": 0}),
        ({"97110": 37, "97140": 8}, {"97110": 2, "97140": 1}),
        ({"97110": 44, "97140": 9}, {"97110": 3, "97140": 1}),
        ({"97110": 60, "97140": 60}, {"97110": 4, "97140": 4}),
    ],
)
def test_cms_vectors(spec, expected):
    assert expected == run(spec)


@pytest.mark.parametrize(
    "spec, choices",
    [
        ({"97110": 7, "97140": 7}, [{"97110": 1, "97140": 0}, {"97110": 0, "97140": 1}]),
        ({"97110": 8, "97140": 8}, [{"97110": 1, "97140": 0}, {"97110": 0, "97140": 1}]),
        ({"97110": 22, "97140": 7}, [{"97110": 2, "97140": 0}, {"97110": 1, "97140": 1}]),
        ({"97110": 15, "97140": 7, "97112": 7}, [{"97110": 1, "97140": 1, "97112": 0}, {"97110": 1, "97140": 0, "97112": 1}]),
        ({"97110": 18, "97035": 8, "97140": 8}, [{"97110": 1, "97035": 1, "97140": 0}, {"97110": 1, "97035": 0, "97140": 1}]),
    ],
)
def test_cms_choice_vectors_give_one_valid_answer(spec, choices):
    assert run(spec) in choices


def test_tie_break_is_deterministic_longer_service_first():
    # E10: equal leftovers, unequal totals -> the longer service gets the unit (documented in units.py)
    assert {"97110": 2, "97140": 0} == run({"97110": 22, "97140": 7})
    assert {"97140": 0, "97110": 2} == run({"97140": 7, "97110": 22})


def test_same_code_twice_is_summed():
    alloc = allocate([Item("97124", 20, True), Item("97140", 10, True), Item("97124", 15, True)], CMS)
    assert [("97124", 35, 2), ("97140", 10, 1)] == [(a.code, a.minutes, a.units) for a in alloc.lines]


def test_untimed_minutes_stay_out_of_the_total():
    alloc = allocate([Item("97124", 40, True), Item("97010", 15, False)], CMS)
    assert (40, 3) == (alloc.total_minutes, alloc.total_units)


# -- AMA (§2) -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"97116": 10, "97110": 23}, {"97116": 1, "97110": 2}),
        ({"97110": 8, "97140": 8}, {"97110": 1, "97140": 1}),
        ({"97110": 10, "97140": 10}, {"97110": 1, "97140": 1}),
        ({"97110": 20, "97140": 20}, {"97110": 1, "97140": 1}),
        ({"97110": 5, "97140": 7}, {"97110": 0, "97140": 0}),
        ({"97110": 5, "97140": 18}, {"97110": 0, "97140": 1}),
        ({"97116": 10, "97112": 25, "97140": 5, "97010": None}, {"97116": 1, "97112": 2, "97140": 0, "97010": 1}),
        ({"97112": 24, "97110": 23}, {"97112": 2, "97110": 2}),
        ({"97110": 33, "97140": 7}, {"97110": 2, "97140": 0}),
        ({"97110": 52, "97140": 6}, {"97110": 3, "97140": 0}),
    ],
)
def test_ama_vectors(spec, expected):
    assert expected == run(spec, AMA)


def test_cap_profile_trims_in_claim_order():
    cigna = RULES.get("cigna")
    alloc = allocate([Item("97124", 50, True), Item("97140", 30, True)], cigna)
    assert [3, 1] == [a.units for a in alloc.lines]
    assert (5, 4) == (alloc.uncapped_units, alloc.total_units)
    assert 1 == alloc.lines[1].capped


# -- properties -------------------------------------------------------------------------------------
codes = st.sampled_from(["97110", "97112", "97116", "97124", "97140", "97530", "97035"])
sessions = st.dictionaries(codes, st.integers(min_value=0, max_value=180), min_size=1, max_size=5)


@settings(max_examples=400, deadline=None)
@given(sessions)
def test_cms_invariants(spec):
    alloc = allocate([Item(c, m, True) for c, m in spec.items()], CMS)
    total = sum(spec.values())
    got = {a.code: a.units for a in alloc.lines}
    # total = U(sum of timed minutes)
    assert units_for(total) == sum(got.values()) == alloc.total_units
    # each code gets floor or floor+1 of its 15-minute blocks
    for c, m in spec.items():
        assert got[c] in (m // BLOCK, m // BLOCK + 1)
    # extra units go to the largest leftovers (and only to codes with a leftover)
    extra = [c for c in spec if got[c] == spec[c] // BLOCK + 1]
    rest = [c for c in spec if got[c] == spec[c] // BLOCK]
    for i in extra:
        assert spec[i] % BLOCK > 0
        for j in rest:
            assert spec[i] % BLOCK >= spec[j] % BLOCK


@settings(max_examples=300, deadline=None)
@given(sessions)
def test_ama_is_per_code_units(spec):
    got = {a.code: a.units for a in allocate([Item(c, m, True) for c, m in spec.items()], AMA).lines}
    assert {c: units_for(m) for c, m in spec.items()} == got


@settings(max_examples=200, deadline=None)
@given(sessions, st.lists(st.sampled_from(sorted(UNTIMED)), max_size=3, unique=True))
def test_untimed_codes_bill_one_and_do_not_change_timed_units(spec, untimed):
    timed_only = allocate([Item(c, m, True) for c, m in spec.items()], CMS)
    mixed = allocate([Item(c, m, True) for c, m in spec.items()] + [Item(u, 30, False) for u in untimed], CMS)
    assert timed_only.total_units == mixed.total_units
    assert timed_only.total_minutes == mixed.total_minutes
    assert all(a.units == 1 for a in mixed.lines if not a.timed)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=1, max_value=15))
def test_range_contains_its_minutes(minutes, threshold):
    lo, hi = minutes_range(units_for(minutes, threshold), threshold)
    assert lo <= minutes <= hi


def test_shipped_tables_pass_the_full_schema():
    from bot.core.schema import check_tables

    assert [] == check_tables()


def test_schema_reports_bad_tables(tmp_path):
    from bot.core.schema import check_tables

    (tmp_path / "codes.yaml").write_text("codes:\n  - code: '97124'\n    name: Massage\n    timed: maybe\n")
    (tmp_path / "rules.yaml").write_text("default: nope\nrules:\n  - {name: cms, title: CMS, method: total}\n")
    problems = check_tables(tmp_path)
    assert any("codes.0.summary" in p for p in problems)
    assert any("codes.0.timed" in p for p in problems)
    assert any("default rule 'nope'" in p for p in problems)
