"""Settings, read once from the environment and a `.env` file in the working directory.

One table drives loading, `billing-bot settings` and the README check (tests/test_docs.py).
The environment wins over `.env`, so CI and containers can override a developer's file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class Setting(NamedTuple):
    env: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SLACK_BOT_TOKEN", None, "bot token (xoxb-...); required for `serve`"),
    Setting("SLACK_SIGNING_SECRET", None, "verifies Slack's requests in HTTP mode"),
    Setting("SLACK_APP_TOKEN", None, "app-level token (xapp-...); when set, `serve` uses Socket Mode"),
    Setting("SLACK_API_URL", "https://slack.com/api/", "Slack Web API base URL (GovSlack, proxies, local fakes)"),
    Setting("BILLING_BOT_DB", "billing-bot.db", "SQLite file for the query log"),
    Setting("BILLING_BOT_RULE", "cms", "default unit rule or payer profile (cms, ama, or a name in knowledge/rules.yaml)"),
    Setting("BILLING_BOT_REVIEWERS", "", "Slack user IDs allowed to review (comma-separated)"),
    Setting("BILLING_BOT_STORE_TEXT", "1", "0 stores no question text in the log (kind, entry and score only)"),
    Setting("BILLING_BOT_PURGE_DAYS", "", "when set, log rows older than this many days are purged daily"),
    Setting("BILLING_BOT_LOG_CLI", "1", "0 stops `billing-bot ask` from logging its questions"),
    Setting("PORT", "3000", "HTTP port for `serve` in HTTP mode"),
)


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    db_path: Path = Path("billing-bot.db")
    rule: str = "cms"
    reviewers: frozenset[str] = field(default_factory=frozenset)
    store_text: bool = True
    purge_days: int | None = None
    log_cli: bool = True
    port: int = 3000

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def read_env(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> dict[str, str]:
    """The raw values: defaults, then `.env`, then the real environment."""
    values = {s.env: s.default for s in SETTINGS if s.default is not None}
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None and k in _NAMES})
    source = os.environ if env is None else env
    values.update({k: v for k, v in source.items() if k in _NAMES})
    return values


_NAMES = {s.env for s in SETTINGS}


def load_settings(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    v = read_env(env, dotenv)
    url = v.get("SLACK_API_URL") or "https://slack.com/api/"
    purge = (v.get("BILLING_BOT_PURGE_DAYS") or "").strip()
    try:
        port = int(v.get("PORT") or 3000)
    except ValueError:
        raise ValueError(f"PORT must be a number, not {v.get('PORT')!r}") from None
    if purge and not purge.isdigit():
        raise ValueError(f"BILLING_BOT_PURGE_DAYS must be a whole number of days, not {purge!r}")
    return Settings(
        slack_bot_token=v.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=v.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=v.get("SLACK_APP_TOKEN") or None,
        slack_api_url=url if url.endswith("/") else url + "/",
        db_path=Path(v.get("BILLING_BOT_DB") or "billing-bot.db"),
        rule=(v.get("BILLING_BOT_RULE") or "cms").strip().lower(),
        reviewers=frozenset(u.strip() for u in (v.get("BILLING_BOT_REVIEWERS") or "").split(",") if u.strip()),
        store_text=_flag(v.get("BILLING_BOT_STORE_TEXT", "1")),
        purge_days=int(purge) if purge else None,
        log_cli=_flag(v.get("BILLING_BOT_LOG_CLI", "1")),
        port=port,
    )
