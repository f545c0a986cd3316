"""The redaction table (tests/redaction_table.py): nothing personal survives, in `redact` and in a
row the query log stores; billing words do."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlite_utils import Database

from bot.storage.querylog import QueryLog
from bot.storage.redact import redact
from tests.redaction_table import KEPT, LINES
from tests.test_querylog import rec

TODAY = date(2026, 5, 9)


def test_the_table_is_big_enough_and_every_line_holds_something_personal():
    assert len(LINES) >= 60
    for line, secrets in LINES:
        assert secrets and all(secret in line for secret in secrets), line


@pytest.mark.parametrize("line, secrets", LINES, ids=[line[:40] for line, _ in LINES])
def test_redaction_removes_every_personal_detail(line, secrets):
    redacted = redact(line, today=TODAY)
    assert [] == [secret for secret in secrets if secret in redacted], redacted
    # billing facts survive: each CPT/HCPCS code outside the personal data is still there
    for code in re.findall(r"(?<![\w-])(?:9\d{4}|G\d{4})(?![\w-])", line):
        if not any(code in secret for secret in secrets):
            assert code in redacted, redacted
    assert redacted == redact(redacted, today=TODAY)  # idempotent


@pytest.mark.parametrize("line, expected", KEPT)
def test_billing_text_is_left_alone(line, expected):
    assert expected == redact(line, today=TODAY)


def test_no_stored_row_holds_any_personal_detail(db_path):
    log = QueryLog(db_path, flush_interval=0.01).start()
    for line, _ in LINES:
        log.record_query(rec(text=line))
        log.record_feedback(rec().id, "U1", False, reason=f"wrong for {line}")
    assert log.close()
    with Database(db_path) as db:
        stored = [r["text"] for r in db.table("queries").rows] + [r["reason"] for r in db.table("feedback").rows]
    assert 2 * len(LINES) == len(stored)
    leaks = [(secret, row) for _, secrets in LINES for secret in secrets for row in stored if secret in row]
    assert [] == leaks
