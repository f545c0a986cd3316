"""Block Kit from bot.render: valid per slack_sdk's own models, within Slack's limits
(3,000 characters a section, 50 blocks a message, 100 a view), user text inert."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.core.model import Answer, Source
from bot.slack import blocks as block_kit
from bot.slack import desk_blocks
from bot.storage.review import ReviewItem


def valid_blocks(blocks: list[dict]) -> None:
    for block in blocks:
        Block.parse(block).validate_json()  # raises SlackObjectFormationError


@pytest.mark.parametrize(
    "message",
    [
        "40 min 97140 + 20 min 97124 + 97010",
        "do I need an NPI?",
        "best pizza in town",
        "40 min 99999",
        "help",
    ],
)
def test_answers_are_valid_block_kit(answerer, message):
    answer = answerer.answer(message)
    blocks = block_kit.to_blocks(answer, query_id="q0123", asked=message)
    valid_blocks(blocks)
    if answer.kind in ("units", "faq", "no_match"):
        assert "context_actions" == blocks[-1]["type"]  # feedback on every answer
        assert "context" == blocks[-2]["type"]  # the small print right above it


def test_long_answers_are_split_and_capped_keeping_context_and_feedback():
    answer = Answer(
        "units",
        ("word " * 700 + "\n") * 60,
        context=("Rule: CMS 8-minute rule",),
        warnings=tuple(f"warning {n} " + "x" * 200 for n in range(300)),
    )
    blocks = block_kit.to_blocks(answer, query_id="q1")
    assert len(blocks) == block_kit.MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert ["context", "context_actions"] == [b["type"] for b in blocks[-2:]]
    assert "shortened" in blocks[-3]["text"]["text"]
    valid_blocks(blocks)


def test_sources_become_links_with_safe_labels():
    answer = Answer(
        "faq",
        "*Q*\nA",
        sources=(
            Source("CMS <manual> | ch. 5 & more", "https://cms.gov/x", "primary", "2023-03"),
            Source("A blog", "https://blog.example/p"),
        ),
        context=("Source: CMS", "Last verified 2025-01-01"),
    )
    context = block_kit.to_blocks(answer)[-1]
    text = context["elements"][0]["text"]
    # each link says how much weight it carries and how old it is
    assert (
        "Sources: <https://cms.gov/x|CMS ‹manual› / ch. 5 &amp; more> (primary, 2023-03)"
        " · <https://blog.example/p|A blog> (secondary, undated)"
    ) == text


def test_echo_makes_mentions_and_links_inert():
    assert "&lt;!channel&gt; &lt;@U1&gt; &amp; &lt;https://x|y&gt;" == block_kit.echo(
        "<!channel> <@U1> & <https://x|y>"
    )
    assert "&lt;!here&gt; &amp;" == block_kit.echo("&lt;!here&gt; &amp;")  # arrives escaped: not escaped twice


def test_modals_are_valid_views():
    View(**block_kit.feedback_reason_modal("q1")).validate_json()
    View(**desk_blocks.draft_entry_modal(query_id="q1", question="can I bill hot stones?")).validate_json()


def test_home_with_a_full_review_desk_is_a_valid_view_of_at_most_100_blocks():
    usage = block_kit.usage_blocks(
        rule_title="CMS 8-minute rule", profiles=["cigna"], examples=("40 min 97140",)
    )
    items = [
        ReviewItem(
            f"q{n:04d}", "no_match", f"question <!channel> {n}", query_id=f"q{n:04d}", detail="no answer"
        )
        for n in range(80)
    ]
    drafts = [
        {"id": f"draft-{n}", "question": "Q?", "answer": "A <@U1>", "drafted_by": "UREV1"} for n in range(3)
    ]
    stats = {
        "questions": 10,
        "answered_pct": 80.0,
        "helpful_pct": None,
        "feedback": 0,
        "unanswered": 2,
        "top_entries": [{"entry_id": "npi-need", "count": 3}],
    }
    desk = desk_blocks.review_desk_blocks(
        stats=stats,
        drafts=drafts,
        items=items,
        viewer="UREV2",
        budget=block_kit.MAX_VIEW_BLOCKS - len(usage) - 2,
    )
    view = block_kit.home_view(usage, desk)
    assert len(view["blocks"]) <= 100
    View(**view).validate_json()
    shown = "\n".join(rendered_text(view))  # button values hold data, never shown
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown and "<@U1>" not in shown
    assert "…and" in shown and "more" in shown


def rendered_text(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "text" and isinstance(v, str)] + [
            t for k, v in node.items() if k not in ("value",) for t in rendered_text(v)
        ]
    if isinstance(node, list):
        return [t for item in node for t in rendered_text(item)]
    return []
