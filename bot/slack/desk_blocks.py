"""Block Kit for the review desk (Home tab, reviewers only) and its draft-entry modal."""

from __future__ import annotations

import json

from bot.core.answer import escape
from bot.slack.blocks import (
    MAX_VIEW_BLOCKS,
    button,
    context_block,
    plain_text,
    section_block,
)

REVIEW_LINK, REVIEW_DRAFT, REVIEW_DISMISS, REVIEW_APPROVE = (
    "review_link",
    "review_draft",
    "review_dismiss",
    "review_approve",
)
REVIEW_REFRESH = "review_refresh"
REVIEW_LINK_CANDIDATE = "review_link_candidate"  # "Link all to <entry>": value "<cluster id>|<entry id>"
REVIEW_VERIFY = "review_verify"
REVIEW_EDIT = "review_edit"
DRAFT_VIEW = "review_draft_submit"
EDIT_VIEW = "review_edit_submit"
_URGENCY = ("not_helpful", "no_match", "low_confidence")
EDIT_REASONS = ("outdated", "payer")  # down-vote reasons (blocks.FEEDBACK_REASONS) that call for an edit


# -- the review desk (Home tab, reviewers only) ---------------------------------------------------------
_KIND_LABEL = {
    "not_helpful": ":thumbsdown: Not helpful",
    "no_match": ":grey_question: Unanswered",
    "low_confidence": ":warning: Low confidence",
    "review_due": ":calendar: Review due",
}


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0f}%"


def review_desk_blocks(
    *,
    stats: dict,
    drafts: list[dict],
    items: list,
    viewer: str,
    clusters: list = (),
    edits: list[dict] = (),
    notice: str | None = None,
    budget: int = MAX_VIEW_BLOCKS,
    entry_stats: dict | None = None,
) -> list[dict]:
    """This week's numbers, drafts waiting for a second reviewer, then the queue (`bot.storage.review.ReviewItem`s),
    each with its actions; stops before `budget` blocks. Logged questions and drafts are user text:
    escaped, verbatim."""
    blocks: list[dict] = [{"type": "header", "text": plain_text("Review desk", 150)}]
    if notice:
        blocks.append(section_block(f":information_source: {escape(notice)}"))
    top = (
        ", ".join(f"`{escape(t['entry_id'])}` ({t['count']})" for t in stats.get("top_entries", []))
        or "none yet"
    )
    blocks += [
        section_block(
            f"*Last 7 days:* {stats.get('questions', 0)} questions · {_pct(stats.get('answered_pct'))} answered · "
            f"{_pct(stats.get('helpful_pct'))} helpful ({stats.get('feedback', 0)} votes) · "
            f"{stats.get('unanswered', 0)} unanswered",
            verbatim=False,
        ),
        context_block(
            [
                f"Top entries: {top}",
                (
                    f"Waiting: {stats.get('drafts_waiting', 0)} drafts to approve · "
                    f"{stats.get('approved_not_exported', 0)} approved and {stats.get('links_not_exported', 0)} links "
                    "answering but not yet exported to knowledge/ (`billing-bot review export`)"
                ),
            ]
        ),
        *(entry_stats_blocks(entry_stats) if entry_stats else []),
        {
            "type": "actions",
            "block_id": "review:desk",
            "elements": [
                button("Draft new entry", REVIEW_DRAFT, json.dumps({"q": "", "t": ""})),
                button("Refresh", REVIEW_REFRESH, "refresh"),
            ],
        },
    ]
    rows: list[list[dict]] = []
    for d in drafts:
        text = (
            f"*Draft* `{escape(d['id'])}`: *{escape(d['question'])}*\n{escape(d['answer'])[:600]}\n"
            f"_drafted by <@{d['drafted_by']}>_"
        )
        if d["drafted_by"] == viewer:
            actions = [button("Withdraw", REVIEW_DISMISS, d["id"])]
            text += " _(yours: another reviewer approves it)_"
        else:
            actions = [
                button("Approve", REVIEW_APPROVE, d["id"], style="primary"),
                button("Reject", REVIEW_DISMISS, d["id"], style="danger"),
            ]
        rows.append(
            [section_block(text), {"type": "actions", "block_id": f"draft:{d['id']}"[:255], "elements": actions}]
        )
    for e in edits:
        rows.append(edit_rows(e, viewer))
    for cluster in clusters:
        rows.append(cluster_rows(cluster))
    for item in items:
        said = escape(item.text) if item.text else "_(text not stored)_"
        text = f"{_KIND_LABEL.get(item.kind, item.kind)}: “{said}”\n_{escape(item.detail)}_"
        if item.kind == "review_due":
            actions = [
                button("Verify", REVIEW_VERIFY, item.entry_id or "", style="primary"),
                button("Propose edit", REVIEW_EDIT, item.entry_id or ""),
            ]
        else:
            actions = [
                {
                    "type": "external_select",
                    "action_id": REVIEW_LINK,
                    "min_query_length": 0,
                    "placeholder": plain_text("Link to entry…", 150),
                },
                button(
                    "Draft new entry",
                    REVIEW_DRAFT,
                    json.dumps({"q": item.query_id or "", "t": item.text[:1500]}),
                ),
                button("Dismiss", REVIEW_DISMISS, item.id),
            ]
        rows.append(
            [section_block(text), {"type": "actions", "block_id": f"review:{item.id}"[:255], "elements": actions}]
        )
    if not rows:
        blocks.append(section_block("_Nothing to review. :tada:_", verbatim=False))
    for n, row in enumerate(rows):
        if len(blocks) + len(row) > budget - 1:
            blocks.append(context_block([f"…and {len(rows) - n} more: handle these, then Refresh."]))
            break
        blocks += row
    return blocks


SECTION_CHARS = 3000  # Block Kit: a section's text


def entry_stats_blocks(stats: dict, *, max_entries: int = 15) -> list[dict]:
    """The answer rate (7 and 30 days), then per entry over 30 days: answers, helpful %,
    down-votes by reason; worst first, in one section of at most 3,000 characters."""
    rate = stats["answer_rate"]
    head = (
        f"*Answer rate:* {_pct(rate['7d'])} of {stats['questions']['7d']} questions in 7 days · "
        f"{_pct(rate['30d'])} of {stats['questions']['30d']} in 30 days\n*By entry, last 30 days:*"
    )
    lines = []
    for e in stats["entries"][:max_entries]:
        line = f"• `{escape(e['entry_id'])}`: {e['answers']} answer{'' if e['answers'] == 1 else 's'}"
        if e["votes"]:
            line += f" · {_pct(e['helpful_pct'])} helpful of {e['votes']} vote{'' if e['votes'] == 1 else 's'}"
        if e["down_votes"]:
            line += " · :thumbsdown: " + ", ".join(f"{escape(r)} {n}" for r, n in e["down_votes"].items())
        lines.append(line)
    if not lines:
        lines.append("_No answers yet._")
    more = len(stats["entries"]) - min(len(stats["entries"]), max_entries)
    text = head
    for n, line in enumerate(lines):
        if len(text) + len(line) + 60 > SECTION_CHARS:
            more += len(lines) - n
            break
        text += "\n" + line
    if more:
        text += f"\n_…and {more} more: `billing-bot review stats`_"
    return [section_block(text, verbatim=False)]


def cluster_rows(cluster) -> list[dict]:
    """One cluster of near-identical questions: size, newest example, best candidate, and
    actions that apply to all of it (the block id names the cluster by its newest question)."""
    kinds = cluster.kinds()
    kind = next(k for k in _URGENCY if k in kinds) if any(k in kinds for k in _URGENCY) else cluster.newest.kind
    item = cluster.newest
    said = escape(item.text) if item.text else "_(text not stored)_"
    text = f"{_KIND_LABEL.get(kind, kind)}: “{said}”"
    if cluster.size > 1:
        counts = ", ".join(f"{n} {_KIND_WORD.get(k, k)}" for k, n in kinds.items())
        text += f"\n*{cluster.size} questions like this* ({counts}) · newest {escape((item.ts or '')[:10])}"
    else:
        text += f"\n_{escape(item.detail)}_"
    if cluster.candidate and cluster.picked:
        who = "person who asked this" if cluster.picked == 1 else "people who asked this"
        text += f"\n:point_right: {cluster.picked} {who} picked `{escape(cluster.candidate)}`"
    elif cluster.candidate:
        text += f"\nBest candidate: `{escape(cluster.candidate)}`"
    actions = []
    if cluster.candidate:
        label = "Link" if cluster.size == 1 else f"Link all {cluster.size}"
        actions.append(
            button(f"{label} to {cluster.candidate}", REVIEW_LINK_CANDIDATE, f"{cluster.id}|{cluster.candidate}", style="primary")
        )
    actions += [
        {
            "type": "external_select",
            "action_id": REVIEW_LINK,
            "min_query_length": 0,
            "placeholder": plain_text("Link to entry…", 150),
        },
        button("Draft new entry", REVIEW_DRAFT, json.dumps({"q": item.query_id or "", "t": (item.text or "")[:1500]})),
        button("Dismiss" if cluster.size == 1 else f"Dismiss all {cluster.size}", REVIEW_DISMISS, cluster.id),
    ]
    if kind == "not_helpful" and item.entry_id and any(r in item.detail for r in EDIT_REASONS):
        actions.insert(0, button(f"Propose edit to {item.entry_id}", REVIEW_EDIT, item.entry_id))
    return [section_block(text), {"type": "actions", "block_id": f"review:{cluster.id}"[:255], "elements": actions[:5]}]


_KIND_WORD = {"not_helpful": "not helpful", "no_match": "unanswered", "low_confidence": "low confidence"}


def edit_rows(edit: dict, viewer: str) -> list[dict]:
    """A proposed edit to an existing entry, shown as a diff, with Approve for anyone else."""
    text = f"*Edit* to `{escape(edit['entry_id'])}` by <@{edit['proposed_by']}>\n```{escape(edit['diff'])[:2800]}```"
    if edit["proposed_by"] == viewer:
        actions = [button("Withdraw", REVIEW_DISMISS, edit["id"])]
    else:
        actions = [
            button("Approve edit", REVIEW_APPROVE, edit["id"], style="primary"),
            button("Reject", REVIEW_DISMISS, edit["id"], style="danger"),
        ]
    return [section_block(text), {"type": "actions", "block_id": f"edit:{edit['id']}"[:255], "elements": actions}]


def _text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    initial: str = "",
    hint: str = "",
    max_length: int = 3000,
) -> dict:
    element = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    block = {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain_text(hint, 2000)
    return block


def _entry_fields(*, question: str = "", answer: str = "", codes: str = "", sources: str = "", state: str = "") -> list[dict]:
    return [
        _text_input(
            "question",
            "Question",
            initial=question,
            max_length=300,
            hint="As a therapist would ask it. Leave out names and patient details.",
        ),
        _text_input(
            "answer",
            "Answer",
            multiline=True,
            initial=answer,
            hint="Slack formatting works (*bold*, _italics_, • bullets). Say where rules vary by payer.",
        ),
        _text_input("codes", "Codes (optional)", optional=True, initial=codes, max_length=200, hint="e.g. 97124, 97140"),
        _text_input(
            "sources",
            "Sources",
            multiline=True,
            initial=sources,
            max_length=2000,
            hint="One per line: title and https:// link. At least one.",
        ),
    ]


def draft_entry_modal(*, query_id: str = "", question: str = "") -> dict:
    """A new knowledge-base entry: question, answer, codes, sources. Saved as a draft that answers
    only after a second reviewer approves it."""
    return {
        "type": "modal",
        "callback_id": DRAFT_VIEW,
        "private_metadata": query_id,
        "title": plain_text("Draft new entry", 24),
        "submit": plain_text("Save draft", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            *_entry_fields(question=question),
            context_block(["A draft answers only after a second reviewer approves it on the review desk."]),
        ],
    }


def edit_entry_modal(entry) -> dict:
    """ "Propose edit": the entry's answer, codes, sources and state, pre-filled. The edit
    answers only after a second reviewer approves it."""
    sources = "\n".join(f"{s.title} {s.url}" for s in entry.sources)
    return {
        "type": "modal",
        "callback_id": EDIT_VIEW,
        "private_metadata": entry.id,
        "title": plain_text("Propose edit", 24),
        "submit": plain_text("Propose", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            context_block([f"Editing `{escape(entry.id)}`"]),
            *_entry_fields(
                question=entry.question, answer=entry.answer, codes=", ".join(entry.codes), sources=sources
            ),
            _text_input("state", "State (optional)", optional=True, initial=entry.state or "", max_length=2,
                        hint="Two letters (e.g. FL) when the answer is about one state."),
            context_block(["The edit answers only after a second reviewer approves it on the review desk."]),
        ],
    }
