"""bot.core.index_cache: the built FAQ index is reused until knowledge/ changes, and the cache never
stands in the bot's way."""

from __future__ import annotations

import shutil

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
    assert len(list(cache.glob("faq-index-*.pickle"))) <= 3  # old ones are dropped


def test_a_damaged_file_is_rebuilt_and_replaced(knowledge, cache):
    build = Builds()
    index_cache.cached(knowledge, build)
    (stored,) = cache.glob("faq-index-*.pickle")
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
    assert list(cache.glob("faq-index-*.pickle"))

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
