"""Issue #11 through the installed command: `billing-bot ask --json`, one message and a batch."""

from __future__ import annotations

import json

from tests.test_cli import bb


def ask_json(message: str) -> dict:
    r = bb("ask", "--json", message)
    assert 0 == r.returncode and b"Traceback" not in r.stderr
    return json.loads(r.stdout)


def test_two_days_are_two_visits():
    d = ask_json("monday 40 min 97140; tuesday 25 min 97124")
    assert (5, 65) == (d["total_units"], d["total_minutes"])
    assert [("monday", 3), ("tuesday", 2)] == [(v["label"], v["total_units"]) for v in d["visits"]]
    assert [0, 1] == [line["visit"] for line in d["lines"]]


def test_visits_in_the_terminal():
    out = bb("ask", "patient A 20 min 97124, patient B 20 min 97124").stdout.decode()
    assert "2 timed units over 2 visits" in out
    assert "• patient A: 1 unit (97124 20 min -> 1 unit)" in out


CASES = [
    ("40 min 12345", "error", None),
    ("40 min 97140 and 30 min 79124", "error", None),
    ("40 min 99213", "no_match", None),
    ("30 min neuromuscular therapy", "error", None),
    ("97124 from 2:00 to 2:45", "units", 3),
    ("1 1/2 hours 97124", "units", 6),
    ("can I bill 4 units for 40 minutes", "units", 3),
    ("how many minutes for 3 units of 97124", "units", 3),
    ("97110 33 97140 7 ama", "units", 2),
    ("visit 1: 7 min 97140. visit 2: 7 min 97140", "units", 0),
]


def test_issue_cases_as_json(tmp_path):
    """One `ask --json -` run for all the cases (one process start instead of ten)."""
    stdin = "".join(m + "\n" for m, _, _ in CASES).encode()
    r = bb("ask", "--json", "-", stdin=stdin, env={"BILLING_BOT_DB": str(tmp_path / "b.db")})
    assert 0 == r.returncode and b"Traceback" not in r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(kind, total) for _, kind, total in CASES] == [
        (d["kind"], d["total_units"] if total is not None else None) for d, (_, _, total) in zip(got, CASES)
    ]


def test_batch_lines_stay_independent(tmp_path):
    r = bb("ask", "--json", "-", stdin=b"40 min 97140\nwhat about ama?\n",
           env={"BILLING_BOT_DB": str(tmp_path / "b.db")})
    first, second = (json.loads(line) for line in r.stdout.splitlines())
    assert "units" == first["kind"]
    assert "units" != second["kind"]  # a question of its own, not a follow-up of the line above
    assert "Same visit" not in second["text"]


def test_code_pair_warnings_come_in_the_same_order_whatever_the_hash_seed():
    # Several pair warnings at once (97124 + 97140, and each with chiropractic manipulation): their
    # order follows the note, not the order of a set, which changes with PYTHONHASHSEED.
    for message in ("30 min 97124 + 20 min 97140 + 98940", "98940, 20 min 97140, 30 min 97124"):
        seen = {tuple(json.loads(bb("ask", "--json", message, env={"PYTHONHASHSEED": str(seed)}).stdout)["warnings"])
                for seed in range(4)}
        assert 1 == len(seen), message
        warnings = seen.pop()
        assert 3 == len(warnings) and all(("NCCI" in w) or ("97124 and 97140" in w) for w in warnings)
