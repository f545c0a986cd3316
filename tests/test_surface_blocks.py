"""What each surface gets (tables in messages only, sections elsewhere), within Slack's limits,
and the core additions behind the new surfaces (count, answer_rows, the rule's origin, the
state preference)."""

from __future__ import annotations

from types import SimpleNamespace

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.core.model import Answer, UnitLine
from bot.slack import blocks as block_kit
from bot.slack import form_blocks, share_blocks


def test_a_message_with_several_codes_gets_one_valid_table(answerer):
    answer = answerer.answer("97110: 33, 97140: 7, 97010")
    blocks = block_kit.to_blocks(answer, query_id="q1")
    for block in blocks:
        Block.parse(block).validate_json()
    assert 1 == [b["type"] for b in blocks].count("table")
    # CMS: 40 timed min -> 3 units; 97110 has 2 full blocks (3 left over), 97140 none (7): the extra
    # unit goes to the larger leftover, 97140; 97010 is untimed: 1 more unit
    rows = [[c["text"] for c in r] for r in next(b for b in blocks if b["type"] == "table")["rows"]]
    assert [["97110", "Therapeutic exercise", "33", "2"], ["97140", "Manual therapy", "7", "1"],
            ["97010", "Hot/cold packs", "untimed", "1"], ["Total", " ", "40 timed", "4"]] == rows[1:]


def test_one_code_or_no_units_gets_no_table(answerer):
    for message in ("40 min 97140", "do I need an NPI?", "40 min 99999"):
        assert "table" not in [b["type"] for b in block_kit.to_blocks(answerer.answer(message))]


def test_modal_and_fallback_get_sections_only(answerer):
    answer = answerer.answer("25 min 97124 + 20 min 97140")
    assert "table" not in [b["type"] for b in block_kit.to_blocks(answer, table=False)]
    view = form_blocks.result_view(answer)
    View(**view).validate_json()
    assert {"section", "context"} >= {b["type"] for b in view["blocks"]} - {"divider"}


def test_the_table_stays_within_100_rows_and_warnings_stand_apart():
    lines = tuple(UnitLine(f"9{n:04d}", 10, 1, True, "x" * 300) for n in range(150))
    answer = Answer("units", "*150 units*", warnings=("careful",), total_minutes=1500, total_units=150, lines=lines,
                    context=("Rule: CMS",))
    blocks = block_kit.to_blocks(answer, query_id="q1")
    table = next(b for b in blocks if b["type"] == "table")
    assert 100 == len(table["rows"]) and all(len(r) <= 20 for r in table["rows"])
    # header + 97 lines + "and 53 more" (150 - 97) + the total, which always stays
    assert "… and 53 more" == table["rows"][-2][0]["text"]
    assert ["Total", " ", "1500 timed", "150"] == [c["text"] for c in table["rows"][-1]]
    assert all(len(c["text"]) <= 200 for r in table["rows"] for c in r)
    types = [b["type"] for b in blocks]
    assert ["section", "table", "divider", "section", "context", "context_actions"] == types
    assert ":warning: careful" == blocks[3]["text"]["text"]


def test_visits_get_a_visit_column():
    lines = (SimpleNamespace(code="97140", name="Manual therapy", minutes=30, units=2, timed=True, visit=0),
             SimpleNamespace(code="97124", name="Massage", minutes=40, units=3, timed=True, visit=1))
    answer = SimpleNamespace(kind="units", lines=lines, total_minutes=70, visits=[{"label": "Pt 1"}, {"label": "Pt 2"}])
    table = block_kit.claim_table(answer)
    assert [["Visit", "Code", "Service", "Minutes", "Units"], ["Pt 1", "97140", "Manual therapy", "30", "2"],
            ["Pt 2", "97124", "Massage", "40", "3"], [" ", "Total", " ", "70 timed", "5"]] == [
        [c["text"] for c in r] for r in table["rows"]]


def test_a_full_message_keeps_its_share_button_within_50_blocks():
    msg = {"text": "t", "blocks": [block_kit.section_block(str(n)) for n in range(49)] + [block_kit.feedback_block("q1")]}
    shared = share_blocks.with_share_button(msg, share_blocks.share_value(mode="ask", text="x", query_id="q1"))
    assert 50 == len(shared["blocks"]) and "share" == shared["blocks"][-2]["block_id"]
    assert share_blocks.share_value(mode="ask", text="x" * 2000, query_id="q1") is None  # too long: no button


def test_core_count_and_rows_and_the_rules_origin(answerer):
    assert answerer.count("see you at 3") is None
    counted = answerer.count("did 40 min of 97140 today, is that billable separately?", rule_from="your Home-tab setting")
    assert ("units", 3) == (counted.kind, counted.total_units)
    assert counted.context[0].endswith(" · rule from your Home-tab setting")
    assert answerer.count("40 min 97140 ama", rule_from="x").context[0].endswith(" · rule from the message")
    rows = answerer.answer_rows([("97140", 10), ("97140", 30), ("97010", None)], rule="ama")
    assert [("97140", 40, 3), ("97010", None, 1)] == [(ln.code, ln.minutes, ln.units) for ln in rows.lines]
    assert "rule from" not in rows.context[0]  # no origin given: the CLI's answers are unchanged
    assert answerer.answer("40 min 97140").context == answerer.answer("40 min 97140", rule_from=None).context


def test_state_preference_is_a_tie_break_not_an_override(answerer):
    question = "does auto insurance pay for massage?"
    nowhere = answerer.answer(question)
    assert nowhere.id != "kentucky-mva"
    assert "kentucky-mva" == answerer.answer(question, home_state="KY").id
    assert "oregon-pip" == answerer.answer(question.rstrip("?") + " in Oregon?", home_state="KY").id
    assert nowhere.id == answerer.answer(question, home_state="TX").id  # no Texas entry: unchanged
    assert "npi-need" == answerer.answer("do I need an NPI?", home_state="KY").id
