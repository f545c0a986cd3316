"""app.yaml is a valid Slack manifest, in both its variants, and agrees with the listeners
the app registers: the same commands, an event subscription for every event listener and
back, interactivity on exactly when something listens for it, and no unneeded scope."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

ROOT = Path(__file__).resolve().parent.parent
# slackapi/manifest-schema schemas/manifest.schema.1.0.0.json, vendored so the test runs offline
SCHEMA = Path(__file__).resolve().parent / "slack_manifest.schema.json"
EXPECTED_SCOPES = {"commands", "app_mentions:read", "chat:write", "im:history", "channels:read", "groups:read",
                   "usergroups:read"}
# Scopes the README says why the bot needs, beyond the first four (README "Connect to Slack").
EXPLAINED_SCOPES = {"channels:read", "groups:read"}


@pytest.fixture(scope="module")
def manifest_text() -> str:
    return (ROOT / "app.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def manifest(manifest_text) -> dict:
    return yaml.safe_load(manifest_text)


@pytest.fixture(scope="module")
def schema() -> dict:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def http_variant(text: str) -> dict:
    """The HTTP-mode manifest the comments describe: uncomment the lines marked "HTTP mode"."""
    lines = [re.sub(r"^(\s*)# (.*?)\s+# HTTP mode.*$", r"\1\2", line) for line in text.splitlines()]
    out = yaml.safe_load("\n".join(lines))
    out["settings"]["socket_mode_enabled"] = False
    return out


def _errors(schema: dict, document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


def test_manifest_validates_against_slacks_schema(schema, manifest):
    assert [] == _errors(schema, manifest)


def test_http_variant_validates_and_points_everything_at_one_url(schema, manifest_text):
    http = http_variant(manifest_text)
    assert [] == _errors(schema, http)
    urls = {
        http["features"]["slash_commands"][0]["url"],
        http["settings"]["event_subscriptions"]["request_url"],
        http["settings"]["interactivity"]["request_url"],
        http["settings"]["interactivity"]["message_menu_options_url"],
    }
    assert 1 == len(urls) and next(iter(urls)).endswith("/slack/events")


def test_schema_catches_a_broken_manifest(schema, manifest):
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "units"  # no leading slash
    assert _errors(schema, broken)


def _closure_values(fn, depth: int = 0) -> dict:
    """The values a Bolt matcher closes over (command, event_type, constraints, callback_id)."""
    out = {}
    for name, value in inspect.getclosurevars(fn).nonlocals.items():
        if callable(value) and depth < 3:
            out.update(_closure_values(value, depth + 1))
        else:
            out[name] = value
    return out


def registered(app) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {"commands": set(), "events": set(), "interactive": set()}
    for listener in app._async_listeners:
        values = _closure_values(listener.matchers[0].func)
        if "command" in values:
            kinds["commands"].add(values["command"])
        elif "event_type" in values:
            kinds["events"].add(values["event_type"])
        else:
            kinds["interactive"].add(str(values.get("constraints") or values.get("callback_id")))
    return kinds


def test_commands_match_the_listeners(manifest, slack_app):
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert declared == registered(slack_app)["commands"]
    assert all(c["should_escape"] is False for c in manifest["features"]["slash_commands"])


def test_every_event_has_a_listener_and_every_listener_an_event(manifest, slack_app):
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    listened = registered(slack_app)["events"]
    # message.im, message.channels, ... all arrive as event type "message"
    assert {e.split(".")[0] for e in subscribed} == listened


def test_interactivity_is_on_because_the_app_has_interactive_listeners(manifest, slack_app):
    interactive = registered(slack_app)["interactive"]
    assert {"answer_feedback", "feedback_reason"} <= interactive
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_only_the_needed_scopes(manifest):
    assert EXPECTED_SCOPES == set(manifest["oauth_config"]["scopes"]["bot"])
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_home_tab_and_messages_tab(manifest):
    home = manifest["features"]["app_home"]
    assert (True, True, False) == (
        home["home_tab_enabled"],
        home["messages_tab_enabled"],
        home["messages_tab_read_only_enabled"],
    )
    assert manifest["settings"]["socket_mode_enabled"] is True


async def test_each_declared_command_and_event_is_handled(manifest, slack_app):
    """Behaviour, not just names: every declared item is acknowledged (a 404 makes Slack retry)."""
    bodies = [
        {
            "command": c["command"],
            "text": "help",
            "team_id": "T111",
            "channel_id": "C1",
            "user_id": "U1",
            "response_url": "http://127.0.0.1:9/",
            "trigger_id": "t",
        }
        for c in manifest["features"]["slash_commands"]
    ]
    samples = {
        "app_mention": {
            "type": "app_mention",
            "user": "U1",
            "text": "<@UBOT> hi",
            "ts": "1.1",
            "channel": "C1",
        },
        "message.im": {
            "type": "message",
            "channel_type": "im",
            "user": "U1",
            "text": "x",
            "ts": "1.2",
            "channel": "D1",
            "subtype": "message_changed",
        },
        "app_home_opened": {"type": "app_home_opened", "user": "U1", "tab": "messages"},
        "member_joined_channel": {"type": "member_joined_channel", "user": "U2", "channel": "C1"},
    }
    for n, name in enumerate(manifest["settings"]["event_subscriptions"]["bot_events"]):
        bodies.append(
            {"type": "event_callback", "team_id": "T111", "event_id": f"EvM{n}", "event": samples[name]}
        )
    for body in bodies:
        response = await slack_app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert 200 == response.status, body


def test_scopes_beyond_the_first_four_are_explained_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for scope in EXPLAINED_SCOPES:
        assert re.search(rf"`{re.escape(scope)}`[^\n]*member_joined_channel", readme), scope


def test_every_shortcut_has_a_listener_of_its_kind(manifest, slack_app):
    """Each declared shortcut's callback_id is registered, and a request of its kind (a
    message_action or a global shortcut) is acknowledged, not 404ed; and back: no listener for
    a shortcut the manifest doesn't declare."""
    shortcuts = manifest["features"]["shortcuts"]
    assert {"count_units", "ask_billing_bot", "units_calculator"} == {s["callback_id"] for s in shortcuts}
    interactive = registered(slack_app)["interactive"]
    assert all(s["callback_id"] in interactive for s in shortcuts)
    from bot.slack.listeners import shortcuts as module

    declared = {s["callback_id"]: s["type"] for s in shortcuts}
    assert {module.COUNT_UNITS: "message", module.ASK_BILLING_BOT: "message", module.UNITS_CALCULATOR: "global"} == declared


async def test_each_declared_shortcut_is_handled(manifest, slack_app):
    for shortcut in manifest["features"]["shortcuts"]:
        body = {
            "type": "message_action" if shortcut["type"] == "message" else "shortcut",
            "callback_id": shortcut["callback_id"],
            "team": {"id": "T111"},
            "user": {"id": "U1"},
            "trigger_id": "t",
        }
        if shortcut["type"] == "message":
            body |= {"channel": {"id": "C1"}, "message": {"type": "message", "text": "", "ts": "1.1"}}
        response = await slack_app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert 200 == response.status, shortcut


def test_the_reviewer_group_scope_is_explained_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"`usergroups:read`[^\n]*`BILLING_BOT_REVIEWER_GROUP`", readme)
