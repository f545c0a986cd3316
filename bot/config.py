"""Settings, read once from the environment and a `.env` file in the working directory.

One table drives loading, `billing-bot settings` and the README check (tests/test_docs.py).
The environment wins over `.env`, so CI and containers can override a developer's file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

APP_NAME = "billing-bot"


def default_db_path() -> Path:
    """`billing-bot.db` in the user's data folder: ~/.local/share/billing-bot on Linux,
    ~/Library/Application Support/billing-bot on macOS, %LOCALAPPDATA%\\billing-bot on Windows.
    Not the working directory: `billing-bot ask` run anywhere must not leave a file there."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False) / "billing-bot.db"


class Setting(NamedTuple):
    env: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SLACK_BOT_TOKEN", None, "bot token (xoxb-...); required for `serve`"),
    Setting("SLACK_SIGNING_SECRET", None, "verifies Slack's requests in HTTP mode"),
    Setting("SLACK_APP_TOKEN", None, "app-level token (xapp-...); when set, `serve` uses Socket Mode"),
    Setting("SLACK_API_URL", "https://slack.com/api/", "Slack Web API base URL (GovSlack, proxies, local fakes)"),
    Setting("BILLING_BOT_DB", None, "SQLite file for the query log (default: billing-bot.db in the user's data folder)"),
    Setting("BILLING_BOT_RULE", "cms", "default unit rule or payer profile (cms, ama, or a name in knowledge/rules.yaml)"),
    Setting("BILLING_BOT_REVIEWERS", "", "Slack user IDs allowed to review (comma-separated)"),
    Setting("BILLING_BOT_REVIEWER_GROUP", "", "a Slack user group ID (S...) whose members may review too (needs usergroups:read)"),
    Setting("BILLING_BOT_STORE_TEXT", "1", "0 stores no question text in the log (kind, entry and score only)"),
    Setting("BILLING_BOT_PURGE_DAYS", "", "when set, log rows older than this many days are purged daily"),
    Setting("BILLING_BOT_LOG_CLI", "1", "0 stops `billing-bot ask` from logging its questions"),
    Setting("PORT", "3000", "HTTP port for `serve` in HTTP mode"),
    Setting("BILLING_BOT_LOG_LEVEL", None, "debug, info, warning or error (default: info for `serve`, warning otherwise)"),
    Setting("BILLING_BOT_LOG_FORMAT", "text", "text, or json for log shippers (one object a line)"),
)


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    db_path: Path = field(default_factory=default_db_path)
    rule: str = "cms"
    reviewers: frozenset[str] = field(default_factory=frozenset)
    reviewer_group: str | None = None
    store_text: bool = True
    purge_days: int | None = None
    log_cli: bool = True
    port: int = 3000
    log_level: str | None = None
    log_format: str = "text"

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
    level = (v.get("BILLING_BOT_LOG_LEVEL") or "").strip().lower()
    fmt = (v.get("BILLING_BOT_LOG_FORMAT") or "text").strip().lower()
    from bot.logsetup import FORMATS, LEVELS

    if level and level not in LEVELS:
        raise ValueError(f"BILLING_BOT_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"BILLING_BOT_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if purge and not purge.isdigit():
        raise ValueError(f"BILLING_BOT_PURGE_DAYS must be a whole number of days, not {purge!r}")
    return Settings(
        slack_bot_token=v.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=v.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=v.get("SLACK_APP_TOKEN") or None,
        slack_api_url=url if url.endswith("/") else url + "/",
        db_path=Path(v["BILLING_BOT_DB"]).expanduser() if v.get("BILLING_BOT_DB") else default_db_path(),
        rule=(v.get("BILLING_BOT_RULE") or "cms").strip().lower(),
        reviewers=frozenset(u.strip() for u in (v.get("BILLING_BOT_REVIEWERS") or "").split(",") if u.strip()),
        reviewer_group=(v.get("BILLING_BOT_REVIEWER_GROUP") or "").strip() or None,
        store_text=_flag(v.get("BILLING_BOT_STORE_TEXT", "1")),
        purge_days=int(purge) if purge else None,
        log_cli=_flag(v.get("BILLING_BOT_LOG_CLI", "1")),
        port=port,
        log_level=level or None,
        log_format=fmt,
    )


def prepare_db_folder(settings: Settings) -> None:
    """Create the user data folder for the default database. A folder named in BILLING_BOT_DB
    is left alone: if it is missing, that is a mistake to report, not to paper over."""
    if settings.db_path == default_db_path():
        try:
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the query log says what it couldn't write, once
