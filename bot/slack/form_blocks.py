"""The units form (global shortcut "Units calculator", `/units form`): rows of code + minutes and
the rule, and the answer shown in the modal. Modals don't take table blocks, so the answer is
sections (the text's own per-code lines)."""

from __future__ import annotations

from bot.slack.blocks import MAX_VIEW_BLOCKS, context_block, plain_text, section_block, to_blocks

FORM_VIEW = "units_form"
FORM_RESULT_VIEW = "units_form_result"
ROWS = 5  # code + minutes rows: a long visit has four or five codes
CODE_ACTION, MINUTES_ACTION, RULE_ACTION = "code", "minutes", "rule"


def row_ids(i: int) -> tuple[str, str]:
    """The block ids of row `i`'s code and minutes inputs (where errors are shown)."""
    return f"code_{i}", f"minutes_{i}"


def units_form(codes, rules, *, rule: str, private_metadata: str = "") -> dict:
    """The modal. `codes` is the code table (its current codes are the options: fewer than 100),
    `rule` the rule picked at first (the person's default here)."""
    code_options = [
        {"text": plain_text(f"{c.code} {c.name}" + ("" if c.timed else " (untimed)"), 75), "value": c.code}
        for c in list(codes.codes.values())[:100]
    ]
    blocks: list[dict] = [
        section_block("Pick each code and its minutes of direct treatment on one date of service.", verbatim=False)
    ]
    for i in range(ROWS):
        code_id, minutes_id = row_ids(i)
        blocks.append(
            {
                "type": "input",
                "block_id": code_id,
                "optional": i > 0,
                "label": plain_text(f"Code {i + 1}"),
                "element": {
                    "type": "static_select",
                    "action_id": CODE_ACTION,
                    "placeholder": plain_text("Search codes"),
                    "options": code_options,
                },
            }
        )
        blocks.append(
            {
                "type": "input",
                "block_id": minutes_id,
                "optional": True,
                "label": plain_text(f"Minutes {i + 1}"),
                "hint": plain_text("Leave empty for an untimed code (hot pack, evaluation)") if i == 0 else None,
                "element": {
                    "type": "number_input",
                    "action_id": MINUTES_ACTION,
                    "is_decimal_allowed": False,
                    "min_value": "1",
                    "max_value": "1440",
                    "placeholder": plain_text("e.g. 40"),
                },
            }
        )
        if blocks[-1]["hint"] is None:
            del blocks[-1]["hint"]
    rule_options = [
        {"text": plain_text(f"{r.name}: {r.title}", 75), "value": r.name} for r in (rules.get(n) for n in rules.names())
    ]
    initial = next((o for o in rule_options if o["value"] == rule), rule_options[0])
    blocks.append(
        {
            "type": "input",
            "block_id": RULE_ACTION,
            "label": plain_text("Rule or payer"),
            "element": {
                "type": "static_select",
                "action_id": RULE_ACTION,
                "options": rule_options[:100],
                "initial_option": initial,
            },
        }
    )
    blocks.append(context_block(["Please leave patient names and details out. Rules vary by payer and state."]))
    return {
        "type": "modal",
        "callback_id": FORM_VIEW,
        "private_metadata": private_metadata,
        "title": plain_text("Units calculator", 24),
        "submit": plain_text("Count units", 24),
        "close": plain_text("Close", 24),
        "blocks": blocks,
    }


def result_view(answer) -> dict:
    """The answer, pushed over the form (Back returns to the rows as typed). Sections only, no
    feedback buttons (they belong to messages)."""
    blocks = [b for b in to_blocks(answer, table=False) if b["type"] != "context_actions"]
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = blocks[: MAX_VIEW_BLOCKS - 1] + [context_block(["(shortened)"])]
    return {
        "type": "modal",
        "callback_id": FORM_RESULT_VIEW,
        "title": plain_text("Units", 24),
        "close": plain_text("Done", 24),
        "blocks": blocks,
    }
