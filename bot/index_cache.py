"""The built FAQ index (knowledge base and matcher), kept on disk between runs.

Building it reads and learns some 3,000 labelled questions (about 300 ms); reading it back
takes a tenth of that, which is what a one-off `billing-bot ask` notices. The file is named by
a hash of every file under knowledge/ and of the modules whose objects it holds, so any edit
builds a new one. It is only ever a shortcut: a cache directory that can't be read or written,
or a file that doesn't load, just means building as if there were none.

BILLING_BOT_CACHE_DIR chooses the directory ("off" turns the cache off); the default is
$XDG_CACHE_HOME/billing-bot, else ~/.cache/billing-bot.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

ENV = "BILLING_BOT_CACHE_DIR"
_CODE = ("kb.py", "match.py", "asked.py", "index_cache.py")  # the modules of what is stored
_KEEP = 3  # index files kept: the newest, and a couple for a checkout that switches back and forth


def cache_dir() -> Path | None:
    """Where index files go; None when the cache is turned off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "false", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "billing-bot"


def index_key(knowledge_dir: Path) -> str:
    """A hash of every file under `knowledge_dir`, the code that builds the index and Python's version."""
    digest = hashlib.sha256(sys.version.encode())
    here = Path(__file__).resolve().parent
    for path in [here / name for name in _CODE] + sorted(p for p in Path(knowledge_dir).rglob("*") if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def cached(knowledge_dir: Path, build: Callable[[], T]) -> T:
    """`build()`'s result, from the cache when the same knowledge was built before."""
    directory = cache_dir()
    if directory is None:
        return build()
    path = directory / f"faq-index-{index_key(knowledge_dir)}.pickle"
    try:
        with open(path, "rb") as f:
            return _unpickle(f.read())
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - unreadable, damaged or stale: build instead
        log.info("FAQ index cache %s not used (%s); building", path, exc)
    value = build()
    _store(path, value)
    return value


def _unpickle(data: bytes):
    """pickle.loads without the cyclic garbage collector, which would walk the index's tens of
    thousands of new objects again and again as they are made (a third of the load time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


def _store(path: Path, value: object) -> None:
    """Write atomically (another process may be reading), then drop the oldest index files."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".faq-index-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        older = sorted(path.parent.glob("faq-index-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in older[_KEEP:]:
            stale.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - read-only, full disk...: the bot still works, it builds each time
        log.info("FAQ index cache not written to %s (%s)", path.parent, exc)
