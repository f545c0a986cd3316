"""The billing-bot command, exercised through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = shutil.which("billing-bot", path=str(Path(sys.executable).parent)) or "billing-bot"


def bb(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    full_env["BILLING_BOT_LOG_CLI"] = "0"
    full_env.update(env or {})
    return subprocess.run([BIN, *args], check=False, input=stdin, capture_output=True, env=full_env, cwd=cwd, timeout=60)


def test_ask_text():
    r = bb("ask", "40 min 97140")
    assert 0 == r.returncode
    assert r.stdout.decode().startswith("3 units of 97140")


def test_ask_json():
    r = bb("ask", "--json", "40", "min", "97140")
    data = json.loads(r.stdout)
    assert ("units", 3, "cms") == (data["kind"], data["total_units"], data["rule"])


def test_rule_option_and_env(tmp_path):
    assert "ama" == json.loads(bb("ask", "--json", "--rule", "ama", "40 min 97140").stdout)["rule"]
    assert "ama" == json.loads(bb("ask", "--json", "40 min 97140", env={"BILLING_BOT_RULE": "ama"}).stdout)["rule"]


def test_bad_rule_is_a_usage_error():
    r = bb("ask", "--rule", "nope", "40 min 97140")
    assert 2 == r.returncode
    assert b"unknown rule" in r.stderr and b"Traceback" not in r.stderr


def test_batch_one_line_per_input_line():
    lines = b"40 min 97140\n\n\xff\xfe bad bytes\n97122 40 min\ndo I need an NPI?\n97010\n"
    r = bb("ask", "--json", "-", stdin=lines)
    assert 0 == r.returncode
    out = r.stdout.decode().splitlines()
    assert 6 == len(out)
    kinds = [json.loads(line)["kind"] for line in out]
    assert ["units", "help", kinds[2], "error", "faq", "units"] == kinds
    assert kinds[2] in ("no_match", "error", "help")


def test_batch_text_mode_also_one_line_each():
    r = bb("ask", "-", stdin=b"40 min 97140\n25 min 97124 + 20 min 97140\n")
    assert 2 == len(r.stdout.decode().splitlines())


def test_piped_input_without_dash_is_batch():
    r = bb("ask", stdin=b"40 min 97140\n")
    assert "3 units" in r.stdout.decode()


def test_run_without_tokens_answers_piped_lines(tmp_path):
    r = bb("run", stdin=b"40 min 97140\n", cwd=tmp_path)
    assert 0 == r.returncode
    assert "3 units" in r.stdout.decode()


def test_codes_lists_the_table():
    out = bb("codes").stdout.decode()
    assert "97124  timed" in out and "97010  untimed" in out and "97122  -> 97112" in out


def test_kb_check_is_clean():
    r = bb("kb", "check")
    assert 0 == r.returncode, r.stdout.decode() + r.stderr.decode()


def test_help_for_every_command():
    for cmd in (["--help"], ["ask", "--help"], ["codes", "--help"], ["kb", "check", "--help"], ["serve", "--help"]):
        r = bb(*cmd)
        assert 0 == r.returncode and b"Usage" in r.stdout


@pytest.mark.parametrize("args", [["nosuchcommand"], ["ask", "--nosuchflag", "x"]])
def test_usage_errors_exit_2(args):
    assert 2 == bb(*args).returncode


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "97010"], check=False, capture_output=True, timeout=60,
                       env={**os.environ, "BILLING_BOT_LOG_CLI": "0"})
    assert "units" == json.loads(r.stdout)["kind"]


def test_questions_are_logged_redacted_and_batches_only_on_request(tmp_path):
    import sqlite3

    env = {"BILLING_BOT_LOG_CLI": "1", "BILLING_BOT_DB": str(tmp_path / "log.db")}
    assert 0 == bb("ask", "40 min 97140 for patient John Smith", env=env).returncode
    bb("ask", "--json", "-", stdin=b"25 min 97124\n", env=env)
    bb("ask", "--json", "--log", "-", stdin=b"97010\n", env=env)
    bb("ask", "do I need an NPI?", env={**env, "BILLING_BOT_LOG_CLI": "0"})
    rows = sqlite3.connect(tmp_path / "log.db").execute("select surface, text, kind from queries order by id").fetchall()
    assert [("cli", "40 min 97140 for patient [name]", "units"), ("cli", "97010", "units")] == rows


def test_interactive_chat_on_a_terminal(tmp_path):
    """With no message and a terminal on stdin, `ask` opens the chat; Ctrl-D ends it."""
    import pty
    import select
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    env["BILLING_BOT_LOG_CLI"] = "0"
    env["BILLING_BOT_DB"] = str(tmp_path / "chat.db")  # the follow-up state lives there
    pid, fd = pty.fork()
    if pid == 0:  # child: the chat, on the pty
        os.chdir(tmp_path)
        os.execve(BIN, [BIN, "ask"], env)
    out = b""

    def read_until(marker: bytes, timeout: float = 20, marker_count: int = 1) -> None:
        nonlocal out
        end = time.monotonic() + timeout
        while out.count(marker) < marker_count and time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break

    read_until(b"you> ")
    os.write(fd, b"97110 33, 97140 7\n")
    read_until(b"you> ", marker_count=2)
    os.write(fd, b"\n")  # an empty Enter answers nothing: just the next prompt
    read_until(b"you> ", marker_count=3)
    out, first = b"", out
    os.write(fd, b"what about ama?\n")  # a follow-up of the note above, in the same session
    read_until(b"you> ")
    # Ctrl-D at the prompt (readline reads it in raw mode, so only once the prompt is up)
    os.write(fd, b"\x04")
    _, status = os.waitpid(pid, 0)
    assert b"local chat" in first
    assert b"no Slack tokens are set" in first and b"Connect to Slack" in first  # why local, how to connect
    assert b"Questions are not logged." in first  # BILLING_BOT_LOG_CLI=0
    assert 3 == first.count(b"you> ")  # the empty line got no answer, only the next prompt
    # CMS: 40 min total -> 3 units (97110 2 full blocks, the extra unit to 97140's larger leftover 7 > 3).
    assert 1 == first.count(b"3 timed units for 40 timed minutes")
    # AMA: each code alone: 33 min -> 2 units, 7 min -> 0 units.
    assert b"under the AMA/CPT midpoint rule" in out and b"2 timed units for 40 timed minutes" in out
    assert 0 == os.waitstatus_to_exitcode(status)
    import sqlite3

    [(state,)] = sqlite3.connect(tmp_path / "chat.db").execute("select state from conversations").fetchall()
    assert "ama" == json.loads(state)["rule"]


def test_serve_without_tokens_says_what_is_missing(tmp_path):
    r = bb("serve", cwd=tmp_path)
    assert 2 == r.returncode  # a setting to fix is like bad usage
    assert b"SLACK_BOT_TOKEN" in r.stderr and b"Traceback" not in r.stderr
    r = bb("serve", "--http", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert b"SLACK_SIGNING_SECRET" in r.stderr and b"Traceback" not in r.stderr


def test_batch_answers_each_line_as_it_arrives():
    """A program that writes one line and waits for its answer gets it (no deadlock on buffering)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    env["BILLING_BOT_LOG_CLI"] = "0"
    p = subprocess.Popen([BIN, "ask", "--json", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        for line, units in ((b"40 min 97140\n", 3), (b"97010\n", 0)):
            p.stdin.write(line)
            p.stdin.flush()
            assert units == json.loads(p.stdout.readline())["total_units"]
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert 0 == p.returncode


def test_large_batch_keeps_order(tmp_path):
    minutes = [m % 1440 + 1 for m in range(3000)]
    lines = [f"{m} min 97140" for m in minutes]
    src = tmp_path / "notes.txt"
    src.write_text("\n".join(lines))  # no newline at the end: the last line still counts
    with src.open("rb") as fh:
        r = subprocess.run([BIN, "ask", "--json", "-"], check=False, stdin=fh, capture_output=True, timeout=120,
                           env={**os.environ, "BILLING_BOT_LOG_CLI": "0"})
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert minutes == [o["total_minutes"] for o in out]


def test_a_decline_promises_logging_only_when_the_question_is_logged(tmp_path):
    env = {"BILLING_BOT_DB": str(tmp_path / "log.db"), "BILLING_BOT_LOG_CLI": "1"}
    logged = bb("ask", "--json", "what is the best pizza in town", env=env)
    unlogged = bb("ask", "--json", "what is the best pizza in town", env={**env, "BILLING_BOT_LOG_CLI": "0"})
    assert ["no_match", "no_match"] == [json.loads(r.stdout)["kind"] for r in (logged, unlogged)]
    assert "Your question is logged" in json.loads(logged.stdout)["text"]
    assert "logged" not in json.loads(unlogged.stdout)["text"]
