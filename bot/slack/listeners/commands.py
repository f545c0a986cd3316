"""`/units`: a unit sum or a question, answered privately in the ack body itself (no
`response_url` round trip), with a "Share in channel" button; `/units rule`, `/units codes` and
`/units form` (the units form)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answer import escape
from bot.slack import blocks, encode
from bot.slack.bot import SlackBot
from bot.slack.listeners import form, sharing

COMMAND = "/units"


def register(app: AsyncApp, bot: SlackBot) -> None:
    app.command(COMMAND)(UnitsCommand(bot).units_command)


class UnitsCommand:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def units_command(self, ack, command: dict, body: dict, client: AsyncWebClient):
        """`/units ...`: answered privately, in the ack body itself (fast path, nothing to post)."""
        bot = self.bot
        text = (command.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        channel_id, user_id = command.get("channel_id"), command.get("user_id")
        if word.lower() == "rule":
            await ack(response_type="ephemeral", **self.rule_command(rest.strip(), channel_id, user_id))
        elif word.lower() == "form" and not rest.strip():
            await ack()
            form.open_form(bot, client, body, user_id=user_id, channel_id=channel_id)
        elif word.lower() == "codes" and not rest.strip():
            await ack(
                response_type="ephemeral",
                text="Codes I know",
                blocks=blocks.codes_blocks(bot.answerer.codes),
            )
        else:
            msg = bot.reply(
                text,
                surface="slash",
                team_id=command.get("team_id"),
                channel_id=channel_id,
                user_id=user_id,
                asked=text,
                where={},  # the answer was ephemeral: the asker is told in a DM
            )
            await ack(encode.ephemeral(sharing.offer_share(msg, mode="ask", text=text)))  # the hot path: JSON encoded once, by orjson

    def rule_command(self, name: str, channel_id: str | None, user_id: str | None) -> dict:
        """`/units rule` shows the channel's default rule; `/units rule NAME` sets it (kept in SQLite)."""
        bot = self.bot
        names = ", ".join(f"`{n}`" for n in bot.answerer.rules.names())
        if not name:
            stored = bot.channel_rule(channel_id)
            how = "set for this channel" if stored else "the bot's default; no rule set for this channel"
            return blocks.notice(
                f"Rule here: *{escape(bot.rule_title(channel_id))}* ({how}).\n"
                f"Change it with `/units rule NAME` ({names})."
            )
        rule = bot.answerer.rules.get(name)
        if rule is None or not channel_id:
            return blocks.notice(f"I don't know the rule `{blocks.echo(name)}`. Choose one of: {names}.")
        bot.log.set_channel_rule(channel_id, rule.name, user_id or "")
        return blocks.notice(
            f"Default rule for this channel is now *{escape(rule.title)}*.\n"
            "Anyone can still override it in one message, e.g. `40 min 97140 cms`."
        )
