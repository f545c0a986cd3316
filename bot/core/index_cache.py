"""The built FAQ index (knowledge base and matcher), kept on disk between runs.

Building it reads, validates and learns some 9,000 labelled questions (seconds); reading it back
takes a few tens of milliseconds, which is what a one-off `billing-bot ask` notices. The file is
named by a hash of every file under knowledge/ and of the modules whose objects it holds, so any
edit builds a new one. It is only ever a shortcut: a cache directory that can't be read or
written, or a file that doesn't load, just means building as if there were none.

Reading it back fast:
- The objects store themselves as plain data (their __getstate__: lists, dicts, sets, tuples,
  text, numbers), written with marshal, which reads that several times faster than pickle reads
  thousands of small objects; a value marshal can't write is pickled instead.
- The hash of the files' bytes is remembered beside the index for the files' stat (size,
  modification and change times, inode), so an unchanged checkout is recognised without reading
  every file. Any write to a file changes its change time (which no tool can set back), so an
  edit is never missed; a file changed in the last few seconds is not remembered by its stat
  (a second write in the same clock tick would not show), so the next run hashes again.
- Nothing here needs pydantic: the entries were validated when the index was built.

BILLING_BOT_CACHE_DIR chooses the directory ("off" turns the cache off); the default is
$XDG_CACHE_HOME/billing-bot, else ~/.cache/billing-bot.
"""

from __future__ import annotations

import gc
import logging
import marshal
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

ENV = "BILLING_BOT_CACHE_DIR"
# the modules that build the index (schema.py validates its entries) or are stored in it
_CODE = ("answer.py", "codes.py", "kb.py", "schema.py", "match.py", "asked.py", "classifier.py", "index_cache.py")
_KEEP = 3  # index files kept: the newest, and a couple for a checkout that switches back and forth
_KEEP_STATS = 8  # remembered stats (a few hundred bytes each)
_SETTLED_NS = 3_000_000_000  # a file changed more recently than this is not remembered by its stat
_MARSHAL, _PICKLE = b"BBM1", b"BBP1"  # the index file's first bytes: how the rest is written


def cache_dir() -> Path | None:
    """Where index files go; None when the cache is turned off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "false", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "billing-bot"


def _files(knowledge_dir: Path) -> list[tuple[str, str]]:
    """(name, path) of the code that builds the index and of every file under `knowledge_dir`,
    named by their path there, in a fixed order."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = [(f"bot/core/{name}", os.path.join(here, name)) for name in _CODE]
    found = []
    stack = [(os.fspath(knowledge_dir), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as it:
                for item in it:
                    if item.is_dir():
                        stack.append((item.path, f"{prefix}{item.name}/"))
                    elif item.is_file():
                        found.append((f"{prefix}{item.name}", item.path))
        except (FileNotFoundError, NotADirectoryError):
            pass  # no knowledge there: building says so
    return files + sorted(found)


def _versions() -> str:
    """Python's and the libraries' versions (the index holds their behaviour's results)."""
    import rapidfuzz  # imported by then anyway (the matcher uses both)
    import yaml

    return f"{sys.version} {rapidfuzz.__version__} {yaml.__version__}"


def index_key(knowledge_dir: Path) -> str:
    """A hash of every file under `knowledge_dir` (its path there and its bytes), the code that
    builds the index, the libraries' versions and Python's."""
    return _content_key(_files(Path(knowledge_dir)))


def _content_key(files: list[tuple[str, str]]) -> str:
    import hashlib

    digest = hashlib.sha256(_versions().encode())
    for name, path in files:
        with open(path, "rb") as f:
            content = f.read()
        digest.update(f"{len(name)}:{name}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()[:32]


def _stat_of(files: list[tuple[str, str]]) -> tuple[str, bool]:
    """The files' names and stat, one line each, and whether they are all settled (none changed
    in the last few seconds)."""
    lines = [_versions()]
    newest = 0
    for name, path in files:
        st = os.stat(path)
        lines.append(f"{name}\0{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}")
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    return "\n".join(lines), time.time_ns() - newest > _SETTLED_NS


def _key(directory: Path, knowledge_dir: Path) -> str:
    """index_key(knowledge_dir), from what was remembered for the files' stat when that is the same."""
    files = _files(Path(knowledge_dir))
    stat, settled = _stat_of(files)
    import zlib  # a short name for the stat; the stat itself is compared in full

    memo = directory / f"faq-stat-{zlib.crc32(stat.encode()):08x}"
    try:
        remembered, key = memo.read_text(encoding="utf-8").rsplit("\n", 1)
        if remembered == stat and len(key) == 32:
            return key
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    key = _content_key(files)
    if settled:
        _write(memo, f"{stat}\n{key}".encode(), "faq-stat-*", _KEEP_STATS)
    return key


def cached(knowledge_dir: Path, build: Callable[[], T]) -> T:
    """`build()`'s result, from the cache when the same knowledge was built before."""
    directory = cache_dir()
    if directory is None:
        return build()
    path = directory / f"faq-index-{_key(directory, knowledge_dir)}.bin"
    try:
        with open(path, "rb") as f:
            return _loads(f.read())
    except FileNotFoundError:
        pass
    except Exception as exc:
        log.info("FAQ index cache %s not used (%s); building", path, exc)
    value = build()
    try:
        data = _dumps(value)
    except Exception as exc:
        log.info("FAQ index not cached (%s)", exc)
    else:
        _write(path, data, "faq-index-*", _KEEP)
    return value


def _dumps(value: object) -> bytes:
    """The value as plain data written with marshal: a tuple of objects that store themselves
    (__getstate__ and __setstate__) as (module, class, state) each; else pickled."""
    items = value if type(value) is tuple else None
    if items is not None and all(hasattr(type(item), "__setstate__") for item in items):
        plain = ("objects", [(type(i).__module__, type(i).__qualname__, i.__getstate__()) for i in items])
    else:
        plain = ("value", value)
    try:
        return _MARSHAL + marshal.dumps(plain)
    except ValueError:  # something marshal can't write (an object, a subclass of a builtin type)
        import pickle

        return _PICKLE + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes):
    """_dumps' value, without the cyclic garbage collector, which would walk the index's tens of
    thousands of new containers again and again as they are made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        if data[:4] == _PICKLE:
            import pickle

            return pickle.loads(data[4:])
        if data[:4] != _MARSHAL:
            raise ValueError("not an index file")
        kind, plain = marshal.loads(data[4:])
        if kind == "value":
            return plain
        return tuple(_restored(module, name, state) for module, name, state in plain)
    finally:
        if enabled:
            gc.enable()


def _restored(module: str, name: str, state):
    import importlib

    cls = importlib.import_module(module)
    for part in name.split("."):
        cls = getattr(cls, part)
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


def _write(path: Path, data: bytes, pattern: str, keep: int) -> None:
    """Write atomically (another process may be reading), then drop the oldest files of `pattern`."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".faq-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        older = sorted(path.parent.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in older[keep:]:
            stale.unlink(missing_ok=True)
    except Exception as exc:
        log.info("FAQ index cache not written to %s (%s)", path.parent, exc)
