"""Answer -> terminal text or one JSON line. (Block Kit lives with the Slack adapter:
`bot/slack/blocks.py`.)

The answer's text is already Slack mrkdwn with user text escaped; the terminal gets it with the
mrkdwn marks turned into plain text.
"""

from __future__ import annotations

import json
import re

from bot.core.model import Answer

SECTION_LIMIT = 3000  # characters in one Block Kit section: split_text's default

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


_JSON = json.JSONEncoder(ensure_ascii=False)  # built once: json.dumps with options builds one per call


def to_json(answer: Answer) -> str:
    return _JSON.encode(answer.to_dict())


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
