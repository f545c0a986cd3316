"""The weekly digest (issue #13): a DM to each reviewer listing entries due for review (their
own first), the biggest clusters of unanswered or down-voted questions, last week's down-votes
with reasons, and drafts and edits waiting for a second reviewer. Owners of due entries get
theirs first. `billing-bot review digest` sends it through the Web API (a cron job or a
systemd timer runs it weekly); `--dry-run` prints it instead."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.answer import escape
from bot.slack.blocks import MAX_BLOCKS, context_block, plain_text, section_block
from bot.storage.querylog import _iso

SHOWN = 10  # items a part lists; the desk has the rest
SECTION_CHARS = 3000

_DOWN_VOTES = """
    select coalesce(q.entry_id, q.kind) as entry_id, coalesce(nullif(f.reason, ''), 'no reason') as reason,
      count(*) as n
    from feedback f join queries q on q.id = f.query_id
    where f.ts >= ? and not f.helpful
    group by 1, 2 order by n desc, 1, 2
"""


@dataclass
class Digest:
    due: list[dict] = field(default_factory=list)  # {entry_id, question, review_by, owner}
    clusters: list[dict] = field(default_factory=list)  # {size, text, candidate}
    down_votes: list[dict] = field(default_factory=list)  # {entry_id, reason, count}
    waiting: list[dict] = field(default_factory=list)  # {id, what, by}

    @property
    def empty(self) -> bool:
        return not (self.due or self.clusters or self.down_votes or self.waiting)


def gather(desk, kb_entries: Iterable[dict], *, now: datetime | None = None) -> Digest:
    """What the digest lists, from the desk and its log (SQLite reads)."""
    now = now or datetime.now(UTC)
    entries = {e["id"]: e for e in kb_entries}
    due = [
        {"entry_id": i.entry_id, "question": i.text, "review_by": i.detail.removeprefix("review by "),
         "owner": entries.get(i.entry_id, {}).get("owner")}
        for i in desk.due(entries.values(), today=now.date())
    ]
    clusters = [
        {"size": c.size, "text": c.newest.text or "", "candidate": c.candidate} for c in desk.clusters()[:SHOWN]
    ]
    with desk.log.open_db() as db:
        down = [
            {"entry_id": r["entry_id"], "reason": r["reason"], "count": r["n"]}
            for r in db.query(_DOWN_VOTES, [_iso(now - timedelta(days=7))])
        ]
    waiting = [{"id": d["id"], "what": f"new entry: {d['question']}", "by": d["drafted_by"]} for d in desk.drafts("draft")]
    waiting += [{"id": e["id"], "what": f"edit to {e['entry_id']}", "by": e["proposed_by"]} for e in desk.edits("draft")]
    return Digest(due, clusters, down, waiting)


def recipients(reviewers: Iterable[str], digest: Digest) -> list[str]:
    """Every reviewer once: owners of due entries first (most due first), then the others. An
    owner who is not a reviewer gets nothing: they couldn't act on the desk."""
    owned: dict[str, int] = {}
    for d in digest.due:
        if d["owner"]:
            owned[d["owner"]] = owned.get(d["owner"], 0) + 1
    return sorted(set(reviewers), key=lambda u: (-owned.get(u, 0), u))


def parts(digest: Digest, reviewer: str) -> list[str]:
    """The digest for one reviewer as mrkdwn sections (user text escaped)."""
    out = []
    if digest.due:
        mine = [d for d in digest.due if d["owner"] == reviewer]
        rest = [d for d in digest.due if d["owner"] != reviewer]
        lines = [
            f"• `{escape(d['entry_id'])}` (review by {escape(d['review_by'])})"
            + (" *yours*" if d in mine else (f" owner <@{d['owner']}>" if d["owner"] else ""))
            for d in mine + rest
        ]
        out.append(_section(f"*Entries due for review* ({len(digest.due)}): Verify or Propose edit on the desk", lines))
    if digest.clusters:
        lines = [
            f"• {c['size']} × “{escape(c['text'])}”" + (f" → best candidate `{escape(c['candidate'])}`" if c["candidate"] else "")
            for c in digest.clusters
        ]
        out.append(_section("*Biggest clusters* of unanswered and down-voted questions", lines))
    if digest.down_votes:
        lines = [f"• `{escape(d['entry_id'])}`: {escape(d['reason'])} × {d['count']}" for d in digest.down_votes]
        out.append(_section("*Down-votes in the last 7 days*, by reason", lines))
    if digest.waiting:
        lines = [
            f"• `{escape(w['id'])}`: {escape(w['what'])} (by <@{w['by']}>)" + (" _yours: someone else approves it_" if w["by"] == reviewer else "")
            for w in digest.waiting
        ]
        out.append(_section("*Waiting for a second reviewer*", lines))
    return out


def message(digest: Digest, reviewer: str) -> dict:
    """chat.postMessage arguments (text + blocks) for one reviewer."""
    sections = parts(digest, reviewer)
    due = sum(1 for d in digest.due if d["owner"] == reviewer)
    blocks = [{"type": "header", "text": plain_text("Weekly review digest", 150)}]
    blocks += [section_block(s, verbatim=False) for s in sections]
    blocks.append(context_block(["Act on these in my *Home* tab (the review desk)."]))
    summary = (
        f"Review digest: {len(digest.due)} entries due ({due} yours), {len(digest.clusters)} clusters, "
        f"{sum(d['count'] for d in digest.down_votes)} down-votes, {len(digest.waiting)} waiting for approval."
    )
    return {"text": summary, "blocks": blocks[:MAX_BLOCKS]}


def send(
    digest: Digest, reviewers: Iterable[str], post: Callable[..., object]
) -> tuple[list[str], dict[str, str]]:
    """Post the digest to each reviewer (`post(channel=..., text=..., blocks=...)`, e.g. a
    `slack_sdk.WebClient.chat_postMessage`). Returns who got it, in order, and who didn't with
    Slack's error: one reviewer's failed DM (a deactivated account) doesn't stop the others.
    Nothing when the digest is empty."""
    from slack_sdk.errors import SlackApiError

    if digest.empty:
        return [], {}
    sent, failed = [], {}
    for reviewer in recipients(reviewers, digest):
        try:
            post(channel=reviewer, **message(digest, reviewer))  # a DM: the user's ID as the channel
        except SlackApiError as exc:
            failed[reviewer] = str((exc.response or {}).get("error") or exc)
        else:
            sent.append(reviewer)
    return sent, failed


def _section(title: str, lines: list[str]) -> str:
    text = title
    shown = 0
    for line in lines[:SHOWN]:
        if len(text) + len(line) + 40 > SECTION_CHARS:
            break
        text += "\n" + line
        shown += 1
    if len(lines) > shown:
        text += f"\n_…and {len(lines) - shown} more on the desk_"
    return text
