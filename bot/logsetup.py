"""Logging for the whole process, configured once (by the `billing-bot` command).

Standard `logging` on stderr, where systemd's journal, Docker and log shippers expect it:
- `text` lines for a person, `json` (one object a line) for a log shipper;
- a token (`xoxb-…`, `xapp-…`) is masked in every line, whoever wrote it;
- the Slack libraries and aiohttp never log below INFO: their DEBUG lines carry request
  bodies and received envelopes, which hold what people asked;
- Bolt's "As you gave `client` as well, `token` will be unused." is dropped: we build the
  client ourselves on purpose, and Bolt reads SLACK_BOT_TOKEN from the environment anyway.

Calling `configure` again replaces its handler, so a line is never written twice.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")
# Libraries whose DEBUG output holds message text or payloads.
_QUIET_BELOW_INFO = ("slack_bolt", "slack_sdk", "aiohttp", "asyncio", "urllib3", "httpx", "httpcore")
_DROPPED = ("As you gave `client` as well, `token` will be unused.",)

_handler: logging.Handler | None = None


def mask_tokens(text: str) -> str:
    """'xoxb-123-abc' -> 'xoxb-…': the kind of token stays readable, the secret doesn't."""
    return _TOKEN.sub(lambda m: f"{m[1]}-…", text)


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_DROPPED))


class TextFormatter(logging.Formatter):
    def __init__(self, service: bool):
        # A service's line carries its time and origin; a command's warning is just the warning.
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if service else "billing-bot: %(levelname)s: %(message)s"
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return mask_tokens(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return mask_tokens(json.dumps(entry, ensure_ascii=False))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now (test runners swap it), or to a given stream."""

    def __init__(self, stream: IO[str] | None = None):
        self._fixed = stream
        super().__init__(stream)

    @property
    def stream(self):
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value):
        self._fixed = value if value is not sys.stderr else self._fixed


def configure(level: str = "warning", fmt: str = "text", *, service: bool = False,
              stream: IO[str] | None = None) -> None:
    """Send every logger's records at `level` and above to `stream` (stderr) in `fmt`.

    :param service: timestamped lines (`serve`) rather than a command's short warnings.
    """
    global _handler
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = _StderrHandler(stream)
    _handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(service))
    _handler.addFilter(_Drop())
    root.addHandler(_handler)
    numeric = getattr(logging, level.upper())
    root.setLevel(numeric)
    for name in _QUIET_BELOW_INFO:
        logging.getLogger(name).setLevel(max(numeric, logging.INFO))
