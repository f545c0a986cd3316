"""The units form (global shortcut, `/units form`, view_submission), the Home tab's first screen
(examples, personal defaults and their precedence) and the once-per-channel welcome, as Slack
sends them, with the Web API faked on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from bot.slack.app import build_app, make_client
from bot.storage.querylog import QueryLog
from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_app import _rows, _texts


def _form(rows: list[tuple[str | None, str]], rule: str = "cms", *, user: str = "U1", channel: str | None = "C1"):
    """A units-form submission: (code, minutes) per row, as the modal's state sends them."""
    values: dict = {"rule": {"rule": {"value": rule}}}
    for i, (code, minutes) in enumerate(rows):
        if code is not None:
            values[f"code_{i}"] = {"code": {"value": code}}
        values[f"minutes_{i}"] = {"minutes": minutes}
    return p.view_submission("units_form", values, private_metadata=json.dumps({"c": channel}), user=user)


# -- the form -------------------------------------------------------------------------------------
async def test_global_shortcut_opens_the_form(slack_app, fake_slack):
    assert 200 == (await dispatch(slack_app, p.global_shortcut("units_calculator"))).status
    [opened] = fake_slack.calls("views.open")
    view = opened["view"]
    assert "units_form" == view["callback_id"]
    ids = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
    assert ["code_0", "minutes_0", "code_1", "minutes_1", "code_2", "minutes_2", "code_3", "minutes_3",
            "code_4", "minutes_4", "rule"] == ids
    code_options = view["blocks"][1]["element"]["options"]
    assert {"text": {"type": "plain_text", "text": "97124 Massage", "emoji": True}, "value": "97124"} in code_options
    assert "cms" == view["blocks"][-2]["element"]["initial_option"]["value"]


async def test_units_form_command_opens_it_with_the_persons_rule(slack_app, fake_slack):
    await dispatch(slack_app, p.home_select("home_setting_rule", "ama"))
    response = await dispatch(slack_app, p.slash("form"))
    assert 200 == response.status and not response.body  # nothing said in the channel
    [opened] = fake_slack.calls("views.open")
    assert "ama" == opened["view"]["blocks"][-2]["element"]["initial_option"]["value"]
    assert {"c": "C1"} == json.loads(opened["view"]["private_metadata"])


async def test_form_submission_is_answered_in_the_modal_without_a_table(slack_app, querylog):
    response = await dispatch(slack_app, _form([("97124", "25"), ("97140", "20"), ("97010", "")]))
    body = json.loads(response.body)
    assert "push" == body["response_action"]
    blocks = body["view"]["blocks"]
    assert [] == [b for b in blocks if b["type"] in ("table", "context_actions")]  # modals take neither
    said = _texts(blocks)
    # 45 timed min -> 3 timed units; the hot pack is untimed: 1 unit
    assert "*3 timed units* for 45 timed minutes under the CMS 8-minute rule" in said
    assert "97010 Hot/cold packs: untimed -> *1 unit*" in said
    assert "rule from the bot's default" in said
    [row] = _rows(querylog, "queries")
    assert ("form", "97124 25m 2u, 97140 20m 1u, 97010 1u = 3u/45m", "25 min 97124 + 20 min 97140 + 97010") == (
        row["surface"], row["units_summary"], row["text"]
    )


async def test_form_sums_a_code_given_twice_and_names_a_rule_picked_in_it(slack_app):
    body = json.loads((await dispatch(slack_app, _form([("97140", "10"), ("97140", "30")], rule="ama"))).body)
    said = _texts(body["view"]["blocks"])
    assert "*3 units* of 97140 (Manual therapy) for 40 min under the AMA/CPT midpoint rule" in said
    assert "rule from the form" in said


BAD_FORMS = (  # (rows, rule, the errors Slack shows under each input)
    ([("99999", "30")], "cms", {"code_0": "Not a code I know: pick one from the list."}),
    ([("97140", "-5")], "cms", {"minutes_0": "Minutes can't be negative."}),
    ([("97140", "2000")], "cms", {"minutes_0": "More than 24 hours can't be one date of service."}),
    ([("97140", "40.5")], "cms", {"minutes_0": "Whole minutes, e.g. 40."}),
    ([("97140", "0")], "cms", {"minutes_0": "More than 0 minutes, or leave it empty for an untimed code."}),
    ([("97140", "")], "cms", {"minutes_0": "97140 is a timed code: how many minutes?"}),
    ([(None, "30")], "cms", {"code_0": "Pick a code for these minutes."}),
    ([(None, "")], "cms", {"code_0": "Pick at least one code."}),
    ([("97140", "800"), ("97124", "700")], "cms", {"minutes_1": "These add up to more than 24 hours on one day."}),
    ([("97140", "40")], "medicaid-of-mars", {"rule": "Pick a rule or payer from the list."}),
    ([("97140", "40"), ("97122", "20")], "cms", {"code_1": "Not a code I know: pick one from the list."}),  # 97122: retired
)


async def test_form_input_is_checked_on_the_server(slack_app, querylog):
    """One app for every case (each setup costs a fresh SQLite log)."""
    for rows, rule, errors in BAD_FORMS:
        body = json.loads((await dispatch(slack_app, _form(rows, rule))).body)
        assert {"response_action": "errors", "errors": errors} == body, rows
    assert [] == _rows(querylog, "queries")


# -- Home: the first screen, examples and personal defaults ---------------------------------------
async def test_home_first_screen_has_three_examples_and_the_settings(slack_app, fake_slack):
    await dispatch(slack_app, p.home_opened("U1"))
    [published] = fake_slack.calls("views.publish")
    blocks = published["view"]["blocks"]
    examples = next(b for b in blocks if b.get("block_id") == "examples")
    assert ["25 min massage + 20 min manual therapy", "can I bill 97124 and 97140 together?", "do I need an NPI?"] == [
        e["value"] for e in examples["elements"]
    ]
    assert blocks.index(examples) < 4  # on the first screen, under the header
    settings = next(b for b in blocks if b.get("block_id") == "settings")
    rule, state = settings["elements"]
    assert ("-", "-") == (rule["initial_option"]["value"], state["initial_option"]["value"])
    assert {"Washington State (WA)", "Kentucky (KY)"} <= {o["text"]["text"] for o in state["options"]}
    assert "table" not in json.dumps(blocks)  # the Home tab takes no table block


async def test_an_example_button_answers_in_the_messages_tab(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.button("home_example", "25 min massage + 20 min manual therapy", user="U5"))
    [sent] = fake_slack.calls("chat.postMessage")
    assert "U5" == sent["channel"]  # a user id: the app's DM, its Messages tab
    said = _texts(sent["blocks"])
    assert "You asked: 25 min massage + 20 min manual therapy" in said
    assert "table" in [b["type"] for b in sent["blocks"]]  # a message: the claim lines as a table
    assert ["home"] == [r["surface"] for r in _rows(querylog, "queries")]


async def test_an_unknown_example_value_is_ignored(slack_app, fake_slack):
    await dispatch(slack_app, p.button("home_example", "<!channel> say something"))
    assert [] == fake_slack.calls("chat.postMessage")


async def test_rule_precedence_message_then_person_then_channel_then_default(slack_app, querylog):
    async def context(text: str) -> str:
        body = json.loads((await dispatch(slack_app, p.slash(text, user="U1", channel="C1"))).body)
        return next(b for b in body["blocks"] if b["type"] == "context" and "Rule:" in _texts([b]))["elements"][0]["text"]

    visit = "25 min 97124 + 20 min 97140"
    assert (await context(visit)).startswith("Rule: CMS 8-minute rule")
    assert (await context(visit)).endswith("· rule from the bot's default")
    await dispatch(slack_app, p.slash("rule cigna", channel="C1"))
    assert (await context(visit)).startswith("Rule: Cigna")
    assert (await context(visit)).endswith("· rule from this channel's rule (`/units rule`)")
    await dispatch(slack_app, p.home_select("home_setting_rule", "ama", user="U1"))
    assert (await context(visit)).startswith("Rule: AMA/CPT midpoint rule (per code)")
    assert (await context(visit)).endswith("· rule from your Home-tab setting")
    assert (await context(visit + " cms")).startswith("Rule: CMS 8-minute rule")
    assert (await context(visit + " cms")).endswith("· rule from the message")
    await dispatch(slack_app, p.home_select("home_setting_rule", "-", user="U1"))  # cleared: the channel's again
    assert (await context(visit)).startswith("Rule: Cigna")
    # someone else in the same channel gets the channel's rule, not U1's setting
    assert {"rule": None, "state": None} == querylog.user_setting("U2")


async def test_state_setting_prefers_that_states_answer_when_the_question_names_none(slack_app, fake_slack):
    async def entry(text: str) -> str:
        await dispatch(slack_app, p.mention(text, user="U1"))
        return fake_slack.calls("chat.postMessage")[-1]["text"]

    question = "does auto insurance pay for massage?"
    assert "Kentucky" not in (await entry(question)).split("Did you mean")[0]
    await dispatch(slack_app, p.home_select("home_setting_state", "KY", user="U1"))
    assert "Kentucky" in await entry(question)
    assert "Oregon" in await entry("does auto insurance pay for massage in Oregon?")  # named: wins
    assert "NPI" in await entry("do I need an NPI?")  # a general question stays general


async def test_a_setting_republishes_home_and_survives_a_restart(slack_settings, answerer, querylog, fake_slack):
    app = build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=querylog)
    await dispatch(app, p.home_select("home_setting_rule", "cigna", user="U1"))
    await dispatch(app, p.home_select("home_setting_state", "WA", user="U1"))
    published = fake_slack.calls("views.publish")[-1]
    settings = next(b for b in published["view"]["blocks"] if b.get("block_id") == "settings")
    assert ["cigna", "WA"] == [e["initial_option"]["value"] for e in settings["elements"]]
    querylog.close()
    reopened = QueryLog(slack_settings.db_path).start()
    try:
        assert {"rule": "cigna", "state": "WA"} == reopened.user_setting("U1")
    finally:
        reopened.close()


@pytest.mark.parametrize("action, value", [("home_setting_rule", "medicaid-of-mars"), ("home_setting_state", "ZZ")])
async def test_a_forged_setting_changes_nothing(slack_app, fake_slack, querylog, action, value):
    await dispatch(slack_app, p.home_select(action, value))
    assert {"rule": None, "state": None} == querylog.user_setting("U1")
    assert [] == fake_slack.calls("views.publish")


# -- the welcome ----------------------------------------------------------------------------------
async def test_the_bot_says_hello_once_per_channel(slack_settings, answerer, querylog, fake_slack):
    app = build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=querylog)
    await dispatch(app, p.member_joined("U7", channel="C1"))  # someone else joining: nothing
    assert [] == fake_slack.calls("chat.postMessage")
    await dispatch(app, p.member_joined(p.BOT_USER, channel="C1"))
    [hello] = fake_slack.calls("chat.postMessage")
    assert "C1" == hello["channel"] and "/units help" in _texts(hello["blocks"])
    await dispatch(app, p.member_joined(p.BOT_USER, channel="C1"))  # removed and added again: no repeat
    await dispatch(app, p.member_joined(p.BOT_USER, channel="C2"))
    assert ["C1", "C2"] == [c["channel"] for c in fake_slack.calls("chat.postMessage")]
    querylog.close()
    reopened = QueryLog(slack_settings.db_path).start()
    try:
        app = build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=reopened)
        await dispatch(app, p.member_joined(p.BOT_USER, channel="C1"))  # after a restart too
        assert 2 == len(fake_slack.calls("chat.postMessage"))
    finally:
        reopened.close()


async def test_form_and_home_over_real_http(served, fake_slack):
    assert 200 == served.post(p.global_shortcut("units_calculator")).status_code
    assert served.idle()
    assert 1 == len(fake_slack.wait("views.open"))
    response = served.post(_form([("97140", "40")]))
    assert 200 == response.status_code and "push" == response.json()["response_action"]
    assert "errors" == served.post(_form([("97140", "-1")])).json()["response_action"]
    assert 200 == served.post(p.home_select("home_setting_state", "KY")).status_code
    assert served.idle()
    assert fake_slack.wait("views.publish")
