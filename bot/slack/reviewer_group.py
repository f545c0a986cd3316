"""Reviewers from a Slack user group (BILLING_BOT_REVIEWER_GROUP), as well as the listed ones:
its members are read with usergroups.users.list (scope `usergroups:read`) and re-read at most
every few minutes, so someone added to or removed from the group gains or loses the desk soon
after, without a restart."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("bot.slack.app")
REFRESH_EVERY = 300.0  # seconds a member list is trusted


class ReviewerGroup:
    def __init__(self, group_id: str | None):
        self.group_id = group_id
        self._next = 0.0
        self._warned = False

    async def refresh(self, client: AsyncWebClient, desk) -> None:
        """Bring the desk's group reviewers up to date, if due. A failure (no scope, unknown
        group) keeps the last known members and is logged once."""
        if not self.group_id or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + REFRESH_EVERY
        try:
            response = await client.usergroups_users_list(usergroup=self.group_id)
        except SlackApiError as exc:
            self._warn(exc)
            return
        desk.set_group_reviewers(response.get("users") or [])


    def _warn(self, exc: SlackApiError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("could not read reviewer group %s (usergroups.users.list): %s",
                        self.group_id, exc.response.get("error") if exc.response else exc)


def group_members(client: WebClient, group_id: str) -> list[str]:
    """The group's members now (the CLI's digest). Raises SlackApiError."""
    return list(client.usergroups_users_list(usergroup=group_id).get("users") or [])
