"""bot.core.index_cache: the built FAQ index is reused until knowledge/ changes, and the cache never
stands in the bot's way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from bot.core import index_cache
from bot.core.answer import Answerer
from bot.core.kb import KNOWLEDGE_DIR


@pytest.fixture
def knowledge(tmp_path):
    directory = tmp_path / "knowledge"
    directory.mkdir()
    (directory / "a.yaml").write_text("one\n", encoding="utf-8")
    return directory


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv(index_cache.ENV, str(directory))
    return directory


class Builds:
    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return {"built": self.count}


def test_built_once_then_read_back_until_a_knowledge_file_changes(knowledge, cache):
    build = Builds()
    assert {"built": 1} == index_cache.cached(knowledge, build)
    assert {"built": 1} == index_cache.cached(knowledge, build)
    assert 1 == build.count
    (knowledge / "sub").mkdir()
    (knowledge / "sub" / "b.yaml").write_text("two\n", encoding="utf-8")
    assert {"built": 2} == index_cache.cached(knowledge, build)
    (knowledge / "a.yaml").write_text("one, edited\n", encoding="utf-8")
    assert {"built": 3} == index_cache.cached(knowledge, build)
    assert 3 == build.count
    assert len(list(cache.glob("faq-index-*.bin"))) <= 3  # old ones are dropped


def test_a_damaged_file_is_rebuilt_and_replaced(knowledge, cache):
    build = Builds()
    index_cache.cached(knowledge, build)
    (stored,) = cache.glob("faq-index-*.bin")
    stored.write_bytes(b"not a pickle")
    assert {"built": 2} == index_cache.cached(knowledge, build)
    assert {"built": 2} == index_cache.cached(knowledge, build)


def test_turned_off_or_unwritable_it_just_builds(knowledge, tmp_path, monkeypatch):
    build = Builds()
    monkeypatch.setenv(index_cache.ENV, "off")
    assert index_cache.cache_dir() is None
    index_cache.cached(knowledge, build)
    index_cache.cached(knowledge, build)
    assert 2 == build.count
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv(index_cache.ENV, str(blocked / "cache"))  # a directory inside a file: can't exist
    assert {"built": 3} == index_cache.cached(knowledge, build)


def test_the_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(index_cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tmp_path / "billing-bot" == index_cache.cache_dir()


def test_the_bot_answers_the_same_from_the_cache(tmp_path, cache, monkeypatch):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    first = Answerer.from_knowledge(knowledge)
    questions = ["do i need an npi", "can i bill 97124 and 97140 together", "what's the weather in tampa"]
    answers = [first.answer(q) for q in questions]
    assert list(cache.glob("faq-index-*.bin"))

    def no_build(self):
        raise AssertionError("built again although nothing changed")

    monkeypatch.setattr(Answerer, "_build_faq_index", no_build)
    again = Answerer.from_knowledge(knowledge)
    assert answers == [again.answer(q) for q in questions]
    assert ["faq", "faq", "no_match"] == [a.kind for a in answers]


def test_the_key_follows_paths_inside_knowledge_not_just_names(knowledge):
    (knowledge / "asked").mkdir()
    (knowledge / "asked" / "q.yaml").write_text("questions: []\n", encoding="utf-8")
    before = index_cache.index_key(knowledge)
    (knowledge / "asked").rename(knowledge / "asked.disabled")
    assert before != index_cache.index_key(knowledge)


def test_an_edit_that_keeps_the_size_and_modification_time_is_still_seen(knowledge, cache, monkeypatch):
    """The files' stat stands in for their hash only while it is the same: an edit changes the
    change time, which no tool sets back."""
    monkeypatch.setattr(index_cache, "_SETTLED_NS", -(10**18))  # remember the stat at once, as for old files
    build = Builds()
    index_cache.cached(knowledge, build)
    assert list(cache.glob("faq-stat-*"))
    hashed = index_cache._content_key
    monkeypatch.setattr(index_cache, "_content_key", lambda files: pytest.fail("hashed: the stat is known"))
    assert {"built": 1} == index_cache.cached(knowledge, build)
    monkeypatch.setattr(index_cache, "_content_key", hashed)
    path = knowledge / "a.yaml"
    before = path.stat()
    time.sleep(0.05)  # past the file system's clock tick
    path.write_text("two\n", encoding="utf-8")  # the same size...
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... and modification time
    assert {"built": 2} == index_cache.cached(knowledge, build)


def test_files_changed_a_moment_ago_are_not_remembered_by_their_stat(knowledge, cache):
    """A second write in the same clock tick would leave the stat as it was: hash those again."""
    index_cache.cached(knowledge, Builds())
    assert [] == list(cache.glob("faq-stat-*"))


def test_the_index_reads_back_as_built(tmp_path):
    """Every attribute of the matcher (and the knowledge base) comes back equal and of the same
    type, and the classifier scores the same, through marshal: an attribute added to the Matcher can't be lost on the way."""
    from bot.core.match import Matcher

    answerer = Answerer.from_knowledge(leave_out_asked=frozenset({"none"}))  # built, not from the cache
    kb, matcher, classifier = answerer._faq_index
    data = index_cache._dumps((kb, matcher, classifier))
    assert data.startswith(index_cache._MARSHAL)
    kb2, matcher2, classifier2 = index_cache._loads(data)
    assert kb2.entries == kb.entries and kb2.by_id == kb.by_id
    assert isinstance(matcher2, Matcher)

    def same(a, b, where):
        assert type(a) is type(b), where
        if hasattr(a, "__dict__"):
            assert a.__dict__.keys() == b.__dict__.keys(), where
            for name in a.__dict__:
                same(a.__dict__[name], b.__dict__[name], f"{where}.{name}")
        else:
            assert a == b, where
            if isinstance(a, (list, tuple)):
                assert [type(x) for x in a] == [type(y) for y in b], where
            if isinstance(a, dict) and hasattr(a, "default_factory"):
                assert a.default_factory is b.default_factory, where

    same(matcher, matcher2, "matcher")
    assert matcher2._spelling._known is matcher2._normalise.known  # shared, as when built
    question = "can i bill massage and manual therapy the same day"
    assert matcher.match(question) == matcher2.match(question)
    assert classifier.scores(question) == classifier2.scores(question)


def test_what_marshal_cannot_write_is_pickled(knowledge, cache):
    value = (frozenset({1, 2}), date(2026, 1, 1))
    assert index_cache._dumps(value).startswith(index_cache._PICKLE)
    assert value == index_cache.cached(knowledge, lambda: value)
    assert value == index_cache.cached(knowledge, lambda: pytest.fail("built again"))


def test_answering_from_the_cache_imports_no_pydantic(tmp_path, cache):
    """The entries were validated when the index was built: `billing-bot ask` doesn't pay for
    importing pydantic again (it costs more than the rest of reading the index)."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    Answerer.from_knowledge(knowledge).matcher  # build the cache
    script = (
        "import sys; from pathlib import Path; from bot.core.answer import Answerer; "
        f"a = Answerer.from_knowledge(Path({str(knowledge)!r})); "
        "assert a.answer('do i need an npi').kind == 'faq'; "
        "assert 'pydantic' not in sys.modules, 'pydantic imported'"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, index_cache.ENV: str(cache), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, cwd=root
    )
    assert 0 == done.returncode, done.stderr[-2000:]
