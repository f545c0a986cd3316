"""Answer -> what a surface shows: terminal text, one JSON line, or Slack Block Kit.

The answer's text is already Slack mrkdwn with user text escaped; Block Kit gets it as is,
the terminal gets it with the mrkdwn marks turned into plain text.
"""

from __future__ import annotations

import json
import re

from bot.model import Answer

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


def _section(text: str, *, verbatim: bool = True) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": verbatim}}


def _context(texts: list[str]) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t[:SECTION_LIMIT], "verbatim": True}
                                            for t in texts[:10]]}


def to_blocks(answer: Answer, *, query_id: str | None = None) -> list[dict]:
    """Block Kit for an answer: the text, warnings set apart, a context line, feedback buttons."""
    blocks: list[dict] = [_section(chunk) for chunk in split_text(answer.text)]
    if answer.warnings:
        warning_text = "\n".join(f":warning: {w}" for w in answer.warnings)
        blocks += [_section(chunk) for chunk in split_text(warning_text)]
    context = list(answer.context)
    if answer.kind == "faq" and answer.sources:
        context = [c for c in context if not c.startswith("Source:")]
        links = " · ".join(f"<{s.url}|{_link_label(s.title)}>" if s.url else s.title for s in answer.sources[:3])
        context.insert(0, f"Sources: {links}")
    if context:
        blocks.append(_context(context))
    if query_id and answer.kind in ("units", "faq", "no_match"):
        blocks.append(feedback_block(query_id))
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [_section("_(answer shortened)_", verbatim=False)]
    return blocks


def _link_label(title: str) -> str:
    return title.replace("|", "/").replace(">", "›").replace("<", "‹")


def feedback_block(query_id: str) -> dict:
    """Helpful / Not helpful buttons; the value carries the query id, not the question text."""
    return {
        "type": "context_actions",
        "block_id": f"feedback:{query_id}"[:255],
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {"text": {"type": "plain_text", "text": "Helpful"}, "value": f"up:{query_id}",
                                    "accessibility_label": "Mark this answer helpful"},
                "negative_button": {"text": {"type": "plain_text", "text": "Not helpful"}, "value": f"down:{query_id}",
                                    "accessibility_label": "Mark this answer not helpful"},
            }
        ],
    }


def fallback_text(answer: Answer) -> str:
    """The top-level `text` Slack shows in notifications (required alongside blocks)."""
    first = answer.text.split("\n", 1)[0]
    return first[:300]
