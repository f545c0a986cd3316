"""Answer -> what a surface shows: terminal text, one JSON line, or Slack Block Kit.

The answer's text is already Slack mrkdwn with user text escaped; Block Kit gets it as is,
the terminal gets it with the mrkdwn marks turned into plain text.
"""

from __future__ import annotations

import json
import re

from bot.core.answer import escape
from bot.core.model import Answer

SECTION_LIMIT = 3000  # characters in one section's text (Block Kit)
MAX_BLOCKS = 50  # blocks in one message
FEEDBACK_ACTION = "answer_feedback"

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def to_json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), ensure_ascii=False)


def mrkdwn_to_plain(text: str) -> str:
    """Turn Slack mrkdwn into terminal text: links to 'label (url)', marks dropped, entities decoded."""
    text = _LINK.sub(r"\2 (\1)", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    text = text.replace("`", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_text(answer: Answer) -> str:
    """What the command line prints: the answer, warnings, then the small print."""
    out = [mrkdwn_to_plain(answer.text)]
    out += [f"! {mrkdwn_to_plain(w)}" for w in answer.warnings]
    if answer.kind == "faq" and answer.sources:
        out += [f"  Source: {s}" for s in answer.sources]
    if answer.kind == "faq" and answer.suggestions:
        out.append("  Related: " + "; ".join(s.question for s in answer.suggestions))
    out += [f"  {mrkdwn_to_plain(c)}" for c in answer.context if not c.startswith("Source:")]
    return "\n".join(out)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split long mrkdwn into chunks under `limit`, at line breaks, then spaces; never mid-word."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


# -- Slack Block Kit ----------------------------------------------------------------------------------
# Limits (docs.slack.dev/reference/block-kit/blocks): 50 blocks in a message, 100 in a modal or the
# Home tab, 3,000 characters in a section's text, 10 elements in a context block, 150 in a header,
# 75 in an option's text, 2,000 in a button value, 255 in a block_id.
MAX_VIEW_BLOCKS = 100
_OPTION_TEXT = 75

FEEDBACK_REASON_VIEW = "feedback_reason"
FEEDBACK_REASONS = (
    ("wrong", "The answer is wrong"),
    ("off_topic", "It answered a different question"),
    ("unclear", "Hard to understand"),
    ("outdated", "Out of date"),
    ("payer", "My payer or state does it differently"),
    ("other", "Something else"),
)
REVIEW_LINK, REVIEW_DRAFT, REVIEW_DISMISS, REVIEW_APPROVE = (
    "review_link",
    "review_draft",
    "review_dismiss",
    "review_approve",
)
REVIEW_REFRESH = "review_refresh"
DRAFT_VIEW = "review_draft_submit"


def echo(text: str) -> str:
    """User text as typed, made inert for mrkdwn: Slack may send it escaped or raw, so decode the
    three entities first (no `&amp;amp;`), then escape, so `<!channel>` or `<@U1>` never pings."""
    return escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def _section(text: str, *, verbatim: bool = True) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT], "verbatim": verbatim}}


def _context(texts: list[str]) -> dict:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": t[:SECTION_LIMIT], "verbatim": True} for t in texts[:10]],
    }


def _plain(text: str, limit: int = SECTION_LIMIT) -> dict:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict:
    button = {"type": "button", "text": _plain(text, 75), "action_id": action_id, "value": value[:2000]}
    if style:
        button["style"] = style
    return button


def _cap(blocks: list[dict], tail: list[dict], limit: int) -> list[dict]:
    """Keep `tail` (context, buttons) and as much of `blocks` as fits under `limit`."""
    room = limit - len(tail)
    if len(blocks) > room:
        blocks = blocks[: room - 1] + [
            _section("_(shortened: ask a narrower question for the rest)_", verbatim=False)
        ]
    return blocks + tail


def to_blocks(answer: Answer, *, query_id: str | None = None, asked: str | None = None) -> list[dict]:
    """Block Kit for an answer: the text, warnings set apart, a context line (rule, sources, the
    disclaimer), feedback buttons. `asked` is the question as typed, echoed (escaped) for
    ephemeral replies, where Slack doesn't show what the user typed."""
    body: list[dict] = []
    if asked:
        body.append(_context([f"You asked: {echo(asked)}"]))
    body += [_section(chunk) for chunk in split_text(answer.text)]
    if answer.warnings:
        warning_text = "\n".join(f":warning: {w}" for w in answer.warnings)
        body.append({"type": "divider"})
        body += [_section(chunk) for chunk in split_text(warning_text)]
    context = list(answer.context)
    if answer.kind == "faq" and answer.sources:
        context = [c for c in context if not c.startswith("Source:")]
        links = " · ".join(
            f"<{s.url}|{_link_label(s.title)}> ({s.label})" if s.url else f"{escape(s.title)} ({s.label})"
            for s in answer.sources[:3]
        )
        context.insert(0, f"Sources: {links}")
    tail = [_context(context)] if context else []
    if query_id and answer.kind in ("units", "faq", "no_match"):
        tail.append(feedback_block(query_id))
    return _cap(body, tail, MAX_BLOCKS)


def message(answer: Answer, *, query_id: str | None = None, asked: str | None = None) -> dict:
    """`text` + `blocks` for chat.postMessage or an ack body (Slack wants the text fallback too)."""
    return {"text": fallback_text(answer), "blocks": to_blocks(answer, query_id=query_id, asked=asked)}


def notice(text: str, *, context: tuple[str, ...] = ()) -> dict:
    """A short bot message (settings, errors) as `text` + `blocks`; `text` must already be mrkdwn-safe."""
    blocks = [_section(chunk, verbatim=False) for chunk in split_text(text)]
    if context:
        blocks.append(_context(list(context)))
    return {"text": text.split("\n", 1)[0][:300], "blocks": blocks[:MAX_BLOCKS]}


def _link_label(title: str) -> str:
    return title.replace("&", "&amp;").replace("|", "/").replace(">", "›").replace("<", "‹")


def feedback_block(query_id: str) -> dict:
    """Helpful / Not helpful buttons; the value carries the query id, not the question text."""
    return {
        "type": "context_actions",
        "block_id": f"feedback:{query_id}"[:255],
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "Helpful"},
                    "value": f"up:{query_id}",
                    "accessibility_label": "Mark this answer helpful",
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "Not helpful"},
                    "value": f"down:{query_id}",
                    "accessibility_label": "Mark this answer not helpful",
                },
            }
        ],
    }


def fallback_text(answer: Answer) -> str:
    """The top-level `text` Slack shows in notifications (required alongside blocks)."""
    first = answer.text.split("\n", 1)[0]
    return first[:300]


def feedback_reason_modal(query_id: str) -> dict:
    """Asked after "Not helpful": a reason picker and an optional note (both short)."""
    return {
        "type": "modal",
        "callback_id": FEEDBACK_REASON_VIEW,
        "private_metadata": query_id,
        "title": _plain("What went wrong?", 24),
        "submit": _plain("Send", 24),
        "close": _plain("Skip", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain("Reason"),
                "element": {
                    "type": "static_select",
                    "action_id": "reason",
                    "placeholder": _plain("Pick one"),
                    "options": [
                        {"text": _plain(label, _OPTION_TEXT), "value": value}
                        for value, label in FEEDBACK_REASONS
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": _plain("Anything to add? (optional)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "multiline": True,
                    "max_length": 500,
                    "placeholder": _plain("e.g. my payer counts per code"),
                },
            },
            _context(
                ["Your answer helps the team fix the knowledge base. Please leave out patient details."]
            ),
        ],
    }


# -- usage, shared by `/units help`, DMs, mentions and the Home tab -----------------------------------
def usage_blocks(
    *, rule_title: str, profiles: list[str], examples: tuple[str, ...], where: str = ""
) -> list[dict]:
    """How to ask, with examples, and the rule in force (`where`: "in this channel", ...)."""
    lines = "\n".join(f"• `/units {e}`" for e in examples)
    return [
        _section(
            "I work out *15-minute billing units* (CMS 8-minute rule or AMA per-code rule) and answer "
            "massage-therapy *billing questions* from a curated knowledge base.",
            verbatim=False,
        ),
        _section(
            f"*Ask privately* with `/units`, mention me in a channel (I reply in a thread), or DM me:\n{lines}",
            verbatim=False,
        ),
        _section(
            f"*Rule {where or 'in force'}:* {escape(rule_title)}.\n"
            f"• `/units rule ama` (or `cms`, or a payer profile: {', '.join(f'`{p}`' for p in profiles)}) "
            "sets this channel's default; `/units rule` shows it.\n"
            "• Name a rule in one message to override it: `40 min 97140 ama`.\n"
            "• `/units codes` lists the codes I know.",
            verbatim=False,
        ),
        _context(
            [
                (
                    "Rules vary by payer and state; this is billing guidance, not legal advice. "
                    "Please leave patient names and details out of your questions."
                )
            ]
        ),
    ]


def codes_blocks(codes) -> list[dict]:
    """The code table (a `bot.core.codes.CodeTable`) for `/units codes`."""
    rows = [f"`{c.code}` {'timed' if c.timed else 'untimed'}: {escape(c.name)}" for c in codes.codes.values()]
    retired = [f"`{r.code}` → {', '.join(r.replacements)}" for r in codes.retired.values()]
    text = "*Codes I know*\n" + "\n".join(rows)
    if retired:
        text += "\n*Retired*\n" + "\n".join(retired)
    blocks = [_section(chunk, verbatim=False) for chunk in split_text(text)]
    return blocks[: MAX_BLOCKS - 1] + [
        _context(["CPT codes are maintained by the AMA; the names are our own plain-language summaries."])
    ]


def home_view(usage: list[dict], desk: list[dict] | None = None) -> dict:
    """The App Home tab: usage for everyone, then the review desk for reviewers (<= 100 blocks)."""
    blocks = [{"type": "header", "text": _plain("billing-bot: billing units and questions", 150)}, *usage]
    if desk:
        blocks += [{"type": "divider"}, *desk]
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = blocks[: MAX_VIEW_BLOCKS - 1] + [_context(["(more on the next refresh)"])]
    return {"type": "home", "blocks": blocks}


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
    notice: str | None = None,
    budget: int = MAX_VIEW_BLOCKS,
) -> list[dict]:
    """This week's numbers, drafts waiting for a second reviewer, then the queue (`bot.storage.review.ReviewItem`s),
    each with its actions; stops before `budget` blocks. Logged questions and drafts are user text:
    escaped, verbatim."""
    blocks: list[dict] = [{"type": "header", "text": _plain("Review desk", 150)}]
    if notice:
        blocks.append(_section(f":information_source: {escape(notice)}"))
    top = (
        ", ".join(f"`{escape(t['entry_id'])}` ({t['count']})" for t in stats.get("top_entries", []))
        or "none yet"
    )
    blocks += [
        _section(
            f"*Last 7 days:* {stats.get('questions', 0)} questions · {_pct(stats.get('answered_pct'))} answered · "
            f"{_pct(stats.get('helpful_pct'))} helpful ({stats.get('feedback', 0)} votes) · "
            f"{stats.get('unanswered', 0)} unanswered",
            verbatim=False,
        ),
        _context(
            [
                f"Top entries: {top}",
                (
                    f"Waiting: {stats.get('drafts_waiting', 0)} drafts to approve · "
                    f"{stats.get('approved_not_exported', 0)} approved and {stats.get('links_not_exported', 0)} links "
                    "answering but not yet exported to knowledge/ (`billing-bot review export`)"
                ),
            ]
        ),
        {
            "type": "actions",
            "block_id": "review:desk",
            "elements": [
                _button("Draft new entry", REVIEW_DRAFT, json.dumps({"q": "", "t": ""})),
                _button("Refresh", REVIEW_REFRESH, "refresh"),
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
            actions = [_button("Withdraw", REVIEW_DISMISS, d["id"])]
            text += " _(yours: another reviewer approves it)_"
        else:
            actions = [
                _button("Approve", REVIEW_APPROVE, d["id"], style="primary"),
                _button("Reject", REVIEW_DISMISS, d["id"], style="danger"),
            ]
        rows.append(
            [_section(text), {"type": "actions", "block_id": f"draft:{d['id']}"[:255], "elements": actions}]
        )
    for item in items:
        said = escape(item.text) if item.text else "_(text not stored)_"
        text = f"{_KIND_LABEL.get(item.kind, item.kind)}: “{said}”\n_{escape(item.detail)}_"
        if item.kind == "review_due":
            actions = [_button("Mark reviewed", REVIEW_DISMISS, item.id)]
        else:
            actions = [
                {
                    "type": "external_select",
                    "action_id": REVIEW_LINK,
                    "min_query_length": 0,
                    "placeholder": _plain("Link to entry…", 150),
                },
                _button(
                    "Draft new entry",
                    REVIEW_DRAFT,
                    json.dumps({"q": item.query_id or "", "t": item.text[:1500]}),
                ),
                _button("Dismiss", REVIEW_DISMISS, item.id),
            ]
        rows.append(
            [_section(text), {"type": "actions", "block_id": f"review:{item.id}"[:255], "elements": actions}]
        )
    if not rows:
        blocks.append(_section("_Nothing to review. :tada:_", verbatim=False))
    for n, row in enumerate(rows):
        if len(blocks) + len(row) > budget - 1:
            blocks.append(_context([f"…and {len(rows) - n} more: handle these, then Refresh."]))
            break
        blocks += row
    return blocks


def draft_entry_modal(*, query_id: str = "", question: str = "") -> dict:
    """A new knowledge-base entry: question, answer, codes, sources. Saved as a draft that answers
    only after a second reviewer approves it."""

    def text_input(
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
            "label": _plain(label, 2000),
            "element": element,
            "optional": optional,
        }
        if hint:
            block["hint"] = _plain(hint, 2000)
        return block

    return {
        "type": "modal",
        "callback_id": DRAFT_VIEW,
        "private_metadata": query_id,
        "title": _plain("Draft new entry", 24),
        "submit": _plain("Save draft", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            text_input(
                "question",
                "Question",
                initial=question,
                max_length=300,
                hint="As a therapist would ask it. Leave out names and patient details.",
            ),
            text_input(
                "answer",
                "Answer",
                multiline=True,
                hint="Slack formatting works (*bold*, _italics_, • bullets). Say where rules vary by payer.",
            ),
            text_input("codes", "Codes (optional)", optional=True, max_length=200, hint="e.g. 97124, 97140"),
            text_input(
                "sources",
                "Sources",
                multiline=True,
                max_length=2000,
                hint="One per line: title and https:// link. At least one.",
            ),
            _context(["A draft answers only after a second reviewer approves it on the review desk."]),
        ],
    }
