"""Getting started: the once-per-channel welcome, and the Home tab's first screen (three example
questions as buttons, and the person's own defaults)."""

from __future__ import annotations

from bot.slack.blocks import button, context_block, plain_text, section_block

EXAMPLE_ACTION = "home_example"
RULE_SETTING_ACTION = "home_setting_rule"
STATE_SETTING_ACTION = "home_setting_state"
TELL_ME_ACTION = "home_setting_tell_me"
TELL_ME = "tell_me"  # the checkbox's value
NOT_SET = "-"  # the option value that clears a setting

# The first screen's three examples: a unit sum, a payer question, a set-up question.
HOME_EXAMPLES = (
    "25 min massage + 20 min manual therapy",
    "can I bill 97124 and 97140 together?",
    "do I need an NPI?",
)


def welcome_message() -> dict:
    """Posted once when the bot is added to a channel: what it does and how to start."""
    text = (
        ":wave: Hi! I work out *15-minute billing units* and answer massage-therapy *billing questions*.\n"
        "• Mention me with minutes and codes: `@billing-bot 40 min 97140`, or ask a question.\n"
        "• `/units 40 min 97140` answers privately; `/units help` shows more, `/units form` opens a calculator.\n"
        "• On any message: *More actions* (⋮) → *Count units* or *Ask billing-bot*."
    )
    return {
        "text": "Hi! I work out billing units and answer billing questions. Try /units help.",
        "blocks": [
            section_block(text, verbatim=False),
            context_block(["Rules vary by payer and state; this is billing guidance, not legal advice."]),
        ],
    }


def _option(label: str, value: str) -> dict:
    return {"text": plain_text(label, 75), "value": value}


def home_start(*, rules, states: dict[str, str], setting: dict, rule_title: str) -> list[dict]:
    """The first screen: try an example (answered in the Messages tab), then your defaults.

    :param rules: the rule book (`name`, `title` of each); :param states: code -> name.
    :param setting: the person's {"rule", "state"}; :param rule_title: the rule they get without one."""
    rule_options = [_option(f"Not set (now: {rule_title})", NOT_SET)] + [
        _option(f"{r.name}: {r.title}", r.name) for r in (rules.get(n) for n in rules.names())
    ]
    state_options = [_option("Not set", NOT_SET)] + [_option(f"{name} ({code})", code) for code, name in states.items()]
    rule_select = {
        "type": "static_select",
        "action_id": RULE_SETTING_ACTION,
        "placeholder": plain_text("Rule or payer"),
        "options": rule_options[:100],
    }
    state_select = {
        "type": "static_select",
        "action_id": STATE_SETTING_ACTION,
        "placeholder": plain_text("State"),
        "options": state_options[:100],
    }
    for select, value in ((rule_select, setting.get("rule")), (state_select, setting.get("state"))):
        chosen = next((o for o in select["options"] if o["value"] == value), select["options"][0])
        select["initial_option"] = chosen
    return [
        section_block("*Try one* (I answer in the *Messages* tab):", verbatim=False),
        {
            "type": "actions",
            "block_id": "examples",
            "elements": [button(e, EXAMPLE_ACTION, e) for e in HOME_EXAMPLES],
        },
        section_block(
            "*Your defaults* (only for you). Which rule a units answer uses: a rule named in the message, "
            "then your setting here, then the channel's (`/units rule`), then the bot's default. "
            "Your state makes state-specific answers prefer it when a question names no state.",
            verbatim=False,
        ),
        {"type": "actions", "block_id": "settings", "elements": [rule_select, state_select]},
        {"type": "divider"},
    ]


def tell_me_block(on: bool) -> dict:
    """The opt-out toggle: a checkbox, ticked unless the person turned the follow-ups off."""
    option = {
        "text": plain_text("Tell me when a reviewer answers a question I asked", 75),
        "description": plain_text("Once per question, in the thread or DM where you asked.", 75),
        "value": TELL_ME,
    }
    element = {"type": "checkboxes", "action_id": TELL_ME_ACTION, "options": [option]}
    if on:
        element["initial_options"] = [option]
    return {"type": "actions", "block_id": "tell_me", "elements": [element]}
