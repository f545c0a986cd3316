"""The command line follows its own rules: messages starting with '-', exit statuses, one warning
for an unwritable database (and no wait), logging options."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

BIN = [sys.executable, "-m", "bot"]


def bb(*args, tmp_path, env=None, input=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    base["BILLING_BOT_DB"] = str(tmp_path / "log.db")
    return subprocess.run([*BIN, *args], cwd=tmp_path, env={**base, **(env or {})}, capture_output=True,
                          text=True, input=input, timeout=60)


@pytest.mark.parametrize("args", [("ask", "-10 min 97124"), ("ask", "--", "-10 min 97124"), ("ask", "--json", "-10 min 97124")])
def test_a_message_starting_with_a_dash_is_a_message(tmp_path, args):
    r = bb(*args, tmp_path=tmp_path)
    assert 0 == r.returncode, r.stderr
    assert "No such option" not in r.stderr and "97124" in r.stdout


def test_options_may_follow_the_message(tmp_path):
    r = bb("ask", "40 min 97140", "--json", tmp_path=tmp_path)
    assert (0, 3) == (r.returncode, json.loads(r.stdout)["total_units"])


@pytest.mark.parametrize(
    "args, env",
    [
        (("ask", "--nope", "x"), None),  # unknown option
        (("ask", "--rule", "nosuchrule", "40 min 97140"), None),  # bad value
        (("log", "purge", "--older-than", "90"), None),  # no unit
        (("review", "approve", "no-such-draft"), None),  # a bad id
        (("review", "link", "q-no-such-id", "massage-units"), None),
        (("ask", "40 min 97140"), {"PORT": "eighty"}),  # a setting to fix
        (("nosuchcommand",), None),
    ],
)
def test_usage_errors_and_bad_ids_exit_2(tmp_path, args, env):
    r = bb(*args, tmp_path=tmp_path, env=env)
    assert 2 == r.returncode, r.stderr
    assert "Traceback" not in r.stderr


def _unwritable(tmp_path):
    """A database path that is a folder: SQLite cannot open it (chmod means nothing to root)."""
    path = tmp_path / "db-is-a-folder"
    path.mkdir()
    return str(path)


def test_an_unwritable_database_costs_the_answer_nothing_and_warns_once(tmp_path):
    started = time.monotonic()
    ok = bb("ask", "40 min 97140", tmp_path=tmp_path)
    baseline = time.monotonic() - started
    started = time.monotonic()
    r = bb("ask", "40 min 97140", tmp_path=tmp_path, env={"BILLING_BOT_DB": _unwritable(tmp_path)})
    took = time.monotonic() - started
    assert 0 == r.returncode and ok.stdout == r.stdout
    assert took < baseline + 1.0, (took, baseline)
    [warning] = r.stderr.splitlines()
    assert warning.startswith("billing-bot: warning: query log not saved: 1 record lost")


def test_a_locked_database_costs_the_answer_nothing(tmp_path):
    db = tmp_path / "log.db"
    bb("ask", "40 min 97140", tmp_path=tmp_path)  # create it
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        r = bb("ask", "40 min 97140", tmp_path=tmp_path)
        took_locked = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    started = time.monotonic()
    bb("ask", "40 min 97140", tmp_path=tmp_path)
    assert took_locked < time.monotonic() - started + 1.0
    assert 0 == r.returncode and 1 == len(r.stderr.splitlines())


def test_the_default_database_is_in_the_user_data_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    r = subprocess.run([*BIN, "ask", "40 min 97140"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert 0 == r.returncode
    assert (tmp_path / "data" / "billing-bot" / "billing-bot.db").is_file()
    assert not (tmp_path / "billing-bot.db").exists()  # nothing left in the working directory
    help_text = subprocess.run([*BIN, "--help"], env=env, capture_output=True, text=True).stdout
    assert str(tmp_path / "data" / "billing-bot" / "billing-bot.db") in help_text.replace("\n  ", "")


def test_log_format_json_and_no_token_in_any_line():
    import io
    import logging

    from bot.logsetup import configure

    stream = io.StringIO()
    configure("info", "json", service=True, stream=stream)
    try:
        logging.getLogger("bot.test").info("token %s in use", "xoxb-123-456-abcdef")
        logging.getLogger("slack_bolt.AsyncApp").warning("As you gave `client` as well, `token` will be unused.")
        logging.getLogger("slack_sdk.socket_mode").debug("Received message (data: 40 min 97140)")
    finally:
        configure()
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert {"level": "info", "logger": "bot.test", "message": "token xoxb-… in use"} == {
        k: entry[k] for k in ("level", "logger", "message")
    }
