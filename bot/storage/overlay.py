"""The reviewers' overlay for a process that only answers (`billing-bot ask`): read it from the
query log's database once and teach a matcher, exactly as the Slack app does at start."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)


def apply_overlay(db_path: str | Path, matcher) -> int:
    """Apply links, approved entries, approved edits and verifications from `db_path` to
    `matcher`; returns how many things were added. An unreadable database is no overlay (the
    answer must not fail for it), said at warning level."""
    from bot.storage.querylog import QueryLog
    from bot.storage.review import ReviewDesk

    entries = {e.id: e for e in matcher.entries}
    try:
        desk = ReviewDesk(QueryLog(db_path), frozenset(), lookup=entries.get)
        return desk.apply_to(matcher)
    except (sqlite3.Error, OSError) as exc:
        log.warning("reviewers' overlay not applied (%s): %s", db_path, exc)
        return 0
