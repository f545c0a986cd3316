"""The built FAQ index (knowledge base and matcher), kept on disk between runs.

Building it reads and learns some 4,000 labelled questions (about half a second); reading it back
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
_CODE = ("answer.py", "codes.py", "kb.py", "match.py", "asked.py", "classifier.py", "index_cache.py")  # what builds and is stored
_KEEP = 3  # index files kept: the newest, and a couple for a checkout that switches back and forth


def cache_dir() -> Path | None:
    """Where index files go; None when the cache is turned off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "false", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "billing-bot"


def index_key(knowledge_dir: Path) -> str:
    """A hash of every file under `knowledge_dir` (its path there and its bytes), the code that
    builds the index, the libraries' versions and Python's."""
    import pydantic  # the libraries whose objects or behaviour the index holds (imported by then anyway)
    import rapidfuzz
    import yaml

    digest = hashlib.sha256(sys.version.encode())
    digest.update(f"{pydantic.VERSION} {rapidfuzz.__version__} {yaml.__version__}".encode())
    here = Path(__file__).resolve().parent
    knowledge_dir = Path(knowledge_dir)
    files = [(f"bot/core/{name}", here / name) for name in _CODE] + [
        (path.relative_to(knowledge_dir).as_posix(), path)
        for path in sorted(knowledge_dir.rglob("*"))
        if path.is_file()
    ]
    for name, path in files:
        content = path.read_bytes()
        digest.update(f"{len(name)}:{name}:{len(content)}:".encode())
        digest.update(content)
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
    except Exception as exc:
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
    except Exception as exc:
        log.info("FAQ index cache not written to %s (%s)", path.parent, exc)
