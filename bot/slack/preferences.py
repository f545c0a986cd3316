"""Which rule and state an answer uses, and why: a word in the message, then the person's own
setting (App Home), then the channel's (`/units rule`), then `BILLING_BOT_RULE`. The origin is
named on every units answer's context line, so a surprising rule is never a mystery."""

from __future__ import annotations

from typing import NamedTuple

# Where the default came from, as the asker reads it and as a channel reads a shared answer.
ORIGINS = {
    "user": ("your Home-tab setting", "the sharer's Home-tab setting"),
    "channel": ("this channel's rule (`/units rule`)", "this channel's rule (`/units rule`)"),
    "default": ("the bot's default", "the bot's default"),
}


class RuleChoice(NamedTuple):
    """The caller's default rule (None: the answerer's own, i.e. BILLING_BOT_RULE) and its origin."""

    name: str | None
    origin: str  # a key of ORIGINS

    def label(self, *, shared: bool = False) -> str:
        private, public = ORIGINS.get(self.origin, ORIGINS["default"])
        return public if shared else private


def choose_rule(rules, personal: str | None, channel: str | None) -> RuleChoice:
    """The first of the person's and the channel's stored rules that still exists in the rule book."""
    if personal and rules.get(personal) is not None:
        return RuleChoice(rules.get(personal).name, "user")
    if channel and rules.get(channel) is not None:
        return RuleChoice(rules.get(channel).name, "channel")
    return RuleChoice(None, "default")
