"""The units form: opened by the "Units calculator" shortcut and `/units form`; its submission
is checked here, on the server, like the parser checks a message (a code of the table, whole
minutes, no more than a day), then answered in the modal."""

from __future__ import annotations

import json
import re
import time

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.parse import MAX_MINUTES
from bot.slack.bot import SlackBot
from bot.slack.form_blocks import (
    CODE_ACTION,
    FORM_VIEW,
    MINUTES_ACTION,
    ROWS,
    RULE_ACTION,
    result_view,
    row_ids,
    units_form,
)

PICKED_IN_FORM = "the form"


def register(app: AsyncApp, bot: SlackBot) -> None:
    app.view(FORM_VIEW)(Form(bot).submit)


def open_form(bot: SlackBot, client: AsyncWebClient, body: dict, *, user_id: str | None, channel_id: str | None) -> None:
    """Open the form after the ack; the rule picked at first is this person's default here."""
    if not body.get("trigger_id"):
        return
    choice = bot.rule_choice(user_id, channel_id)
    rule = bot.answerer.resolve_rule(choice.name).name
    view = units_form(
        bot.answerer.codes, bot.answerer.rules, rule=rule, private_metadata=json.dumps({"c": channel_id})
    )
    bot.background.start(client.views_open(trigger_id=body["trigger_id"], view=view), body)


def _picked(values: dict, block_id: str, action_id: str) -> str | None:
    return (((values.get(block_id) or {}).get(action_id) or {}).get("selected_option") or {}).get("value")


def _typed(values: dict, block_id: str, action_id: str) -> str:
    value = ((values.get(block_id) or {}).get(action_id) or {}).get("value")
    return value.strip() if isinstance(value, str) else ""


def read_rows(values: dict, codes) -> tuple[list[tuple[str, int | None]], dict[str, str]]:
    """The rows filled in, and an error per block id for those that are wrong (Slack shows each
    under its input). The select only offers table codes, but a request can say anything."""
    rows: list[tuple[str, int | None]] = []
    errors: dict[str, str] = {}
    timed_total, last_timed = 0, None
    for i in range(ROWS):
        code_id, minutes_id = row_ids(i)
        code, typed = _picked(values, code_id, CODE_ACTION), _typed(values, minutes_id, MINUTES_ACTION)
        minutes = None
        if typed.startswith("-"):
            errors[minutes_id] = "Minutes can't be negative."
        elif typed and not re.fullmatch(r"\d{1,5}", typed):
            errors[minutes_id] = "Whole minutes, e.g. 40."
        elif typed:
            minutes = int(typed)
            if minutes == 0:
                errors[minutes_id] = "More than 0 minutes, or leave it empty for an untimed code."
            elif minutes > MAX_MINUTES:
                errors[minutes_id] = "More than 24 hours can't be one date of service."
        if not code:
            if typed:
                errors[code_id] = "Pick a code for these minutes."
            continue
        info = codes.codes.get(code)
        if info is None:
            errors[code_id] = "Not a code I know: pick one from the list."
            continue
        if info.timed and minutes is None and minutes_id not in errors:
            errors[minutes_id] = f"{code} is a timed code: how many minutes?"
        if minutes_id in errors:
            continue
        if info.timed:
            timed_total += minutes
            last_timed = minutes_id
        rows.append((code, minutes))
    if timed_total > MAX_MINUTES and last_timed:
        errors[last_timed] = "These add up to more than 24 hours on one day."
    if not rows and not errors:
        errors[row_ids(0)[0]] = "Pick at least one code."
    return rows, errors


class Form:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def submit(self, ack, view: dict, body: dict):
        bot = self.bot
        values = view.get("state", {}).get("values", {})
        rows, errors = read_rows(values, bot.answerer.codes)
        rule = bot.answerer.rules.get(_picked(values, RULE_ACTION, RULE_ACTION) or "")
        if rule is None:
            errors[RULE_ACTION] = "Pick a rule or payer from the list."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        user_id = (body.get("user") or {}).get("id")
        try:
            channel_id = json.loads(view.get("private_metadata") or "{}").get("c")
        except (ValueError, AttributeError):
            channel_id = None
        choice = bot.rule_choice(user_id, channel_id)
        same = bot.answerer.resolve_rule(choice.name).name == rule.name
        started = time.perf_counter()
        answer = bot.answerer.answer_rows(rows, rule=rule.name, rule_from=choice.label() if same else PICKED_IN_FORM)
        bot.log_answer(
            answer,
            surface="form",
            started=started,
            team_id=(body.get("team") or {}).get("id"),
            channel_id=channel_id,
            user_id=user_id,
        )
        await ack(response_action="push", view=result_view(answer))
