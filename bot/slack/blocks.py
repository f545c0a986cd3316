"""Answer -> Slack Block Kit: messages, the usage and code lists, the Home tab, the feedback modal.

The answer's text is already Slack mrkdwn with user text escaped, so it goes in as is.
"""

from __future__ import annotations

from bot.core.answer import escape
from bot.core.model import Answer
from bot.render import SECTION_LIMIT, split_text

MAX_BLOCKS = 50  # blocks in one message
FEEDBACK_ACTION = "answer_feedback"
# "Did you mean" buttons: one action id per button (Slack wants them unique within a block),
# all matched by one listener on this prefix.
SUGGESTION_ACTION = "suggestion_pick"
# Below this an FAQ answer is a guess worth offering alternatives for (bot.storage.review.LOW_CONFIDENCE).
LOW_CONFIDENCE = 70.0

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


def echo(text: str) -> str:
    """User text as typed, made inert for mrkdwn: Slack may send it escaped or raw, so decode the
    three entities first (no `&amp;amp;`), then escape, so `<!channel>` or `<@U1>` never pings."""
    return escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def section_block(text: str, *, verbatim: bool = True) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT], "verbatim": verbatim}}


def context_block(texts: list[str]) -> dict:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": t[:SECTION_LIMIT], "verbatim": True} for t in texts[:10]],
    }


def plain_text(text: str, limit: int = SECTION_LIMIT) -> dict:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict:
    button = {"type": "button", "text": plain_text(text, 75), "action_id": action_id, "value": value[:2000]}
    if style:
        button["style"] = style
    return button


def _cap(blocks: list[dict], tail: list[dict], limit: int) -> list[dict]:
    """Keep `tail` (context, buttons) and as much of `blocks` as fits under `limit`."""
    room = limit - len(tail)
    if len(blocks) > room:
        blocks = blocks[: room - 1] + [
            section_block("_(shortened: ask a narrower question for the rest)_", verbatim=False)
        ]
    return blocks + tail


def to_blocks(
    answer: Answer, *, query_id: str | None = None, asked: str | None = None, table: bool = True
) -> list[dict]:
    """Block Kit for an answer: the text, warnings set apart, a context line (rule, sources, the
    disclaimer), feedback buttons. `asked` is the question as typed, echoed (escaped) for
    ephemeral replies, where Slack doesn't show what the user typed. `table`: the claim lines
    as a table block too (messages only: Slack refuses it in modals and the Home tab, which get
    the text's own per-code lines)."""
    body: list[dict] = []
    if asked:
        body.append(context_block([f"You asked: {echo(asked)}"]))
    body += [section_block(chunk) for chunk in split_text(answer.text)]
    claim_lines = claim_table(answer) if table else None
    if claim_lines:
        body.append(claim_lines)
    if answer.warnings:
        warning_text = "\n".join(f":warning: {w}" for w in answer.warnings)
        body.append({"type": "divider"})
        body += [section_block(chunk) for chunk in split_text(warning_text)]
    context = list(answer.context)
    if answer.kind == "faq" and answer.sources:
        context = [c for c in context if not c.startswith("Source:")]
        links = " · ".join(
            f"<{_link_url(s.url)}|{_link_label(s.title)}> ({s.label})" if s.url else f"{escape(s.title)} ({s.label})"
            for s in answer.sources[:3]
        )
        context.insert(0, f"Sources: {links}")
    tail = []
    if query_id and answer.suggestions and (
        answer.kind == "no_match" or (answer.kind == "faq" and (answer.score or 0) < LOW_CONFIDENCE)
    ):
        tail.append(suggestion_block(query_id, answer.suggestions))
    if context:
        tail.append(context_block(context))
    if query_id and answer.kind in ("units", "faq", "no_match"):
        tail.append(feedback_block(query_id))
    return _cap(body, tail, MAX_BLOCKS)


# Table block limits (docs.slack.dev/reference/block-kit/blocks/table-block): 100 rows of at most
# 20 cells; one table per message, and messages only.
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20


def table_block(
    header: list[str], rows: list[list[str]], *, footer: list[str] | None = None, numeric: tuple[int, ...] = ()
) -> dict:
    """A table block of raw text cells (never mrkdwn: nothing in a cell can ping or link). Rows
    past the limit are cut, with a row saying how many; the `footer` (a total) always stays."""
    header = header[:MAX_TABLE_CELLS]
    tail = [footer] if footer else []
    room = MAX_TABLE_ROWS - 1 - len(tail)
    if len(rows) > room:
        rows = rows[: room - 1] + [[f"… and {len(rows) - room + 1} more"] + [""] * (len(header) - 1)]
    cells = [
        [{"type": "raw_text", "text": str(cell)[:200] or " "} for cell in row[:MAX_TABLE_CELLS]]
        for row in [header, *rows, *tail]
    ]
    settings = [{"align": "right"} if i in numeric else {"align": "left", "is_wrapped": True} for i in range(len(header))]
    return {"type": "table", "column_settings": settings, "rows": cells}


def claim_table(answer: Answer) -> dict | None:
    """The claim lines of a units answer with several codes (or visits) as a table: code, what it
    is, minutes, units, and a total. None when a sentence says it all (one code)."""
    if answer.kind != "units" or len(answer.lines) < 2:
        return None
    visits = [getattr(v, "label", None) or (v.get("label") if isinstance(v, dict) else None)
              for v in getattr(answer, "visits", None) or ()]
    by_visit = bool(visits) and all(getattr(line, "visit", None) is not None for line in answer.lines)
    header = (["Visit"] if by_visit else []) + ["Code", "Service", "Minutes", "Units"]
    rows = []
    for line in answer.lines:
        row = [line.code, line.name or "", "untimed" if not line.timed else str(line.minutes or 0), str(line.units)]
        if by_visit:
            visit = line.visit
            row.insert(0, str(visits[visit] if visit < len(visits) and visits[visit] else visit + 1))
        rows.append(row)
    total = ["Total", "", f"{answer.total_minutes} timed" if answer.total_minutes is not None else "",
             str(sum(line.units for line in answer.lines))]
    first = len(header) - 2
    return table_block(header, rows, footer=([""] if by_visit else []) + total, numeric=(first, first + 1))


def message(answer: Answer, *, query_id: str | None = None, asked: str | None = None) -> dict:
    """`text` + `blocks` for chat.postMessage or an ack body (Slack wants the text fallback too)."""
    return {"text": fallback_text(answer), "blocks": to_blocks(answer, query_id=query_id, asked=asked)}


def notice(text: str, *, context: tuple[str, ...] = ()) -> dict:
    """A short bot message (settings, errors) as `text` + `blocks`; `text` must already be mrkdwn-safe."""
    blocks = [section_block(chunk, verbatim=False) for chunk in split_text(text)]
    if context:
        blocks.append(context_block(list(context)))
    return {"text": text.split("\n", 1)[0][:300], "blocks": blocks[:MAX_BLOCKS]}


def _link_url(url: str) -> str:
    """A URL made safe inside <url|label>: "|", "<" and ">" percent-encoded, so no URL can end
    the link early and put a label of its own choosing on it."""
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def _link_label(title: str) -> str:
    return title.replace("&", "&amp;").replace("|", "/").replace(">", "›").replace("<", "‹")


def suggestion_block(query_id: str, suggestions) -> dict:
    """ "Did you mean" as buttons: a click answers with that entry and tells the desk which one
    the asker meant. The value carries ids only (the server looks both up again)."""
    return {
        "type": "actions",
        "block_id": f"suggest:{query_id}"[:255],
        "elements": [
            button(s.question, f"{SUGGESTION_ACTION}:{n}", f"{query_id}:{s.id}")
            for n, s in enumerate(suggestions[:5])
        ],
    }


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
        "title": plain_text("What went wrong?", 24),
        "submit": plain_text("Send", 24),
        "close": plain_text("Skip", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": plain_text("Reason"),
                "element": {
                    "type": "static_select",
                    "action_id": "reason",
                    "placeholder": plain_text("Pick one"),
                    "options": [
                        {"text": plain_text(label, _OPTION_TEXT), "value": value}
                        for value, label in FEEDBACK_REASONS
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain_text("Anything to add? (optional)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "multiline": True,
                    "max_length": 500,
                    "placeholder": plain_text("e.g. my payer counts per code"),
                },
            },
            context_block(
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
        section_block(
            "I work out *15-minute billing units* (CMS 8-minute rule or AMA per-code rule) and answer "
            "massage-therapy *billing questions* from a curated knowledge base.",
            verbatim=False,
        ),
        section_block(
            f"*Ask privately* with `/units`, mention me in a channel (I reply in a thread), or DM me:\n{lines}",
            verbatim=False,
        ),
        section_block(
            f"*Rule {where or 'in force'}:* {escape(rule_title)}.\n"
            f"• `/units rule ama` (or `cms`, or a payer profile: {', '.join(f'`{p}`' for p in profiles)}) "
            "sets this channel's default; `/units rule` shows it.\n"
            "• Name a rule in one message to override it: `40 min 97140 ama`.\n"
            "• `/units codes` lists the codes I know.",
            verbatim=False,
        ),
        context_block(
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
        text += "\n*Not current (deleted, or never a CPT code)*\n" + "\n".join(retired)
    blocks = [section_block(chunk, verbatim=False) for chunk in split_text(text)]
    return blocks[: MAX_BLOCKS - 1] + [
        context_block(["CPT codes are maintained by the AMA; the names are our own plain-language summaries."])
    ]


def home_view(usage: list[dict], desk: list[dict] | None = None) -> dict:
    """The App Home tab: usage for everyone, then the review desk for reviewers (<= 100 blocks)."""
    blocks = [{"type": "header", "text": plain_text("billing-bot: billing units and questions", 150)}, *usage]
    if desk:
        blocks += [{"type": "divider"}, *desk]
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = blocks[: MAX_VIEW_BLOCKS - 1] + [context_block(["(more on the next refresh)"])]
    return {"type": "home", "blocks": blocks}
