"""The FAQ matcher: normalisation, vocabulary, typos, codes, states and the confidence gate."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from bot.core.kb import Entry
from bot.core.match import Matcher, MatchResult, Vocabulary, VocabularyError, codes_in, load_vocabulary


def entry(id: str, question: str, phrasings=(), codes=(), state=None, answer="See the source.") -> Entry:
    return Entry(
        id=id,
        question=question,
        phrasings=list(phrasings),
        answer=answer,
        codes=list(codes),
        tags=[],
        state=state,
        sources=[{"title": "Source", "url": "https://example.org"}],
        last_verified=date(2026, 11, 27),
        review_by=date(2027, 5, 27),
    )


ENTRIES = [
    entry(
        "bill-97124-with-97140",
        "Can I bill 97124 and 97140 in the same session?",
        ["can i bill massage and manual therapy together", "97124 and 97140 same day"],
        codes=["97124", "97140"],
    ),
    entry("code-97124", "What does 97124 cover?", ["what is 97124", "swedish massage code"], codes=["97124"]),
    entry(
        "code-97140", "What does 97140 cover?", ["what is 97140", "myofascial release code"], codes=["97140"]
    ),
    entry("npi-need", "Do I need an NPI as a massage therapist?", ["is an npi required to bill insurance"]),
    entry("npi-apply", "How do I apply for an NPI?", ["where do i register for an npi", "nppes application"]),
    entry(
        "florida-pip",
        "Does Florida PIP cover massage?",
        ["florida pip massage", "fl no fault massage"],
        state="FL",
    ),
    entry(
        "oregon-pip",
        "Does Oregon PIP cover massage?",
        ["oregon pip massage", "portland car accident massage"],
        state="OR",
    ),
    entry(
        "kentucky-workers-comp",
        "Can I bill Kentucky workers' comp for massage?",
        ["kentucky workers compensation massage"],
        state="KY",
    ),
    entry(
        "eight-minute-rule",
        "What is the 8-minute rule?",
        ["how does the eight minute rule work"],
        answer="Medicare counts total timed minutes; 8 minutes or more bills one unit.",
    ),
]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return load_vocabulary()


@pytest.fixture
def matcher(vocabulary) -> Matcher:
    return Matcher(ENTRIES, vocabulary=vocabulary)


def best_id(result: MatchResult) -> str | None:
    return result.best.entry.id if result.best else None


def test_exact_question_matches_confidently(matcher):
    result = matcher.match("What is the 8-minute rule?")
    assert "eight-minute-rule" == best_id(result)
    assert result.best.score >= matcher.threshold
    assert result.best == result.candidates[0]


@pytest.mark.parametrize(
    "text",
    [
        "WHAT IS THE 8 MINUTE RULE???",
        "what   is the eight-minute rule",
        "8 min rule?",
        "whats the 8-min rule",
    ],
)
def test_case_punctuation_spacing_and_number_words_are_normalised(matcher, text):
    assert "eight-minute-rule" == best_id(matcher.match(text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("does an LMT need an NPI", "npi-need"),  # LMT -> massage therapist
        ("national provider identifier required for an lmp?", "npi-need"),  # NPI spelt out
        ("does florida personal injury protection pay for massage", "florida-pip"),  # PIP spelt out
        ("can i bill ky wc for massage", "kentucky-workers-comp"),  # WC, KY
        ("kentucky work comp massage", "kentucky-workers-comp"),
        ("oregon mva massage coverage", "oregon-pip"),  # MVA -> motor vehicle accident ~ car accident
    ],
)
def test_abbreviations_and_synonyms_from_the_vocabulary(matcher, text, expected):
    assert expected == best_id(matcher.match(text))


def test_without_the_vocabulary_abbreviations_do_not_match(vocabulary):
    text = "can i bill ky wc for massage"
    plain = Matcher(ENTRIES, vocabulary=Vocabulary(stopwords=vocabulary.stopwords))
    assert "kentucky-workers-comp" != best_id(plain.match(text))
    assert "kentucky-workers-comp" == best_id(Matcher(ENTRIES, vocabulary=vocabulary).match(text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("how do i aply for an npi", "npi-apply"),
        ("where do i registr for my npi", "npi-apply"),
        ("does florda pip cover masage", "florida-pip"),
        ("what is the eigth minute rule", "eight-minute-rule"),
    ],
)
def test_typos_are_tolerated(matcher, text, expected):
    assert expected == best_id(matcher.match(text))


def test_stop_words_do_not_dominate(matcher):
    # Only "can i ... together" is shared with the 97124+97140 entry; the topic words decide.
    assert "npi-apply" == best_id(matcher.match("can i apply for my npi together with my business partner"))


def test_code_named_in_the_message_picks_the_entry_about_that_code(matcher):
    assert "code-97140" == best_id(matcher.match("what does 97140 cover", ["97140"]))
    assert "code-97124" == best_id(matcher.match("what does 97124 cover", ["97124"]))
    assert "bill-97124-with-97140" == best_id(matcher.match("97124 + 97140 same visit?", ["97124", "97140"]))


def test_codes_written_in_the_text_count_even_when_not_passed(matcher):
    assert "code-97140" == best_id(matcher.match("97140?"))


def test_entry_about_other_codes_is_penalised(matcher):
    result = matcher.match("what does 97140 cover", ["97140"])
    scores = {m.entry.id: m.score for m in result.candidates}
    assert scores["code-97140"] > scores.get("code-97124", 0.0)


def test_codes_found_from_a_name_do_not_count_as_named(matcher):
    # The caller's parser turns "massage" into 97124; that must not drag every massage
    # question to the 97124 entries.
    result = matcher.match("does an lmt need an npi for massage", ["97124"])
    assert "npi-need" == best_id(result)


def test_unknown_code_means_no_match_but_keeps_candidates(matcher):
    result = matcher.match("what does 99213 cover", unknown_codes=["99213"])
    assert result.best is None
    assert result.candidates  # "did you mean" suggestions are still offered


def test_code_in_text_that_nobody_classified_and_the_kb_lacks_is_unknown(matcher):
    assert matcher.match("what does 99213 cover").best is None
    assert matcher.match("what does d1110 cover").best is None
    # ...but a code the caller knows from the code table is a normal code.
    assert matcher.match("can i bill 97035 and 97124 together", ["97035", "97124"]).best is not None


def test_unknown_code_passed_that_the_kb_covers_is_not_unknown(matcher):
    assert "code-97124" == best_id(matcher.match("what is 97124", unknown_codes=["97124"]))


def test_state_named_prefers_that_states_entry(matcher):
    assert "florida-pip" == best_id(matcher.match("does pip cover massage in FL"))
    assert "florida-pip" == best_id(matcher.match("does pip cover massage in fl"))
    assert "oregon-pip" == best_id(matcher.match("does pip cover massage in oregon"))
    assert "oregon-pip" == best_id(matcher.match("i'm in portland, will pip pay for massage"))


def test_a_place_alone_is_not_a_topic(matcher):
    result = matcher.match("hi from florida!")
    assert result.best is None
    assert "florida-pip" == result.candidates[0].entry.id  # still offered as "did you mean"
    assert matcher.match("is it going to rain in portland").best is None


def test_ambiguous_state_abbreviations_are_not_states(matcher):
    # "OR" is a word here, and "MT" means massage therapist, not Montana.
    scores = {m.entry.id: m.score for m in matcher.match("does pip cover massage OR not").candidates}
    assert scores["florida-pip"] == scores["oregon-pip"]
    assert "florida-pip" == best_id(matcher.match("can an MT bill florida pip"))


@pytest.mark.parametrize(
    "text",
    ["what's the weather in tokyo", "asdfghjkl", "how do i reverse a list in python", "", "   ", "!!!"],
)
def test_off_topic_is_declined(matcher, text):
    assert matcher.match(text).best is None


def test_gate_threshold_is_what_decides(vocabulary):
    text = "npi for my dog"
    loose = Matcher(ENTRIES, vocabulary=vocabulary, threshold=1)
    strict = Matcher(ENTRIES, vocabulary=vocabulary, threshold=100)
    assert loose.match(text).best is not None
    assert strict.match(text).best is None
    assert strict.match(text).candidates == loose.match(text).candidates


def test_candidates_are_three_distinct_entries_best_first(matcher):
    result = matcher.match("pip massage")
    ids = [m.entry.id for m in result.candidates]
    assert len(ids) == len(set(ids)) <= 3
    assert [m.score for m in result.candidates] == sorted((m.score for m in result.candidates), reverse=True)
    assert {"florida-pip", "oregon-pip"} <= set(ids)


def test_add_phrasing_takes_effect_on_the_next_match(matcher):
    text = "how do i get an individual provider number"
    assert "npi-apply" != best_id(matcher.match(text))
    matcher.add_phrasing("npi-apply", "how do i get an individual provider number")
    assert "npi-apply" == best_id(matcher.match(text))
    with pytest.raises(KeyError):
        matcher.add_phrasing("no-such-entry", "anything")


def test_a_question_that_is_a_phrasing_word_for_word_is_marked_verbatim(matcher):
    assert matcher.match("What is the 8-minute rule?").verbatim  # the entry's own question, normalised
    assert matcher.match("how does the EIGHT minute rule work??").verbatim  # a phrasing: case and punctuation aside
    assert not matcher.match("how does the eight minute rule work for medicare").verbatim
    text = "is there a minutes chart for the eight minute rule"
    assert not matcher.match(text).verbatim
    matcher.add_phrasing("eight-minute-rule", text)  # as a link made on the review desk does
    assert matcher.match(text).verbatim


def test_add_entry_makes_a_new_entry_matchable_and_replaces_by_id(matcher):
    text = "superbill for an out of network client"
    assert matcher.match(text).best is None
    draft = entry(
        "superbill",
        "How do I write a superbill?",
        ["superbill for out of network clients"],
    )
    matcher.add_entry(draft)
    assert "superbill" == best_id(matcher.match(text))
    revised = entry("superbill", "What goes on a superbill?", ["superbill contents"])
    matcher.add_entry(revised)
    result = matcher.match("superbill contents")
    assert revised == result.best.entry
    assert [revised] == [m.entry for m in result.candidates if m.entry.id == "superbill"]
    assert 1 == sum(e.id == "superbill" for e in matcher.entries)


def test_codes_in_finds_code_shaped_tokens_but_not_ranges():
    assert ("97124", "G0283", "D1110") == codes_in("97124, g0283 or D1110? 97124 again")
    assert () == codes_in("the 97000 series, 2013, 15 min, 225700000X")


def test_vocabulary_from_dict_reads_synonyms_stopwords_and_states():
    vocab = Vocabulary.from_dict(
        {
            "synonyms": {"workers compensation": ["wc", "work comp"]},
            "stopwords": ["can", "i"],
            "states": {"FL": ["florida", "fl"], "OR": ["oregon"]},
            "ambiguous_abbreviations": ["OR"],
        }
    )
    assert "workers compensation" == vocab.synonyms["work comp"]
    assert {"FL"} == vocab.state_codes
    assert {"florida": "FL", "fl": "FL", "oregon": "OR"} == vocab.state_names


def test_stop_phrases_are_dropped_like_stop_words():
    vocab = Vocabulary.from_dict({"stop_phrases": ["In charge of"], "stopwords": ["who", "is"]})
    assert {"in charge of"} == vocab.stop_phrases
    matcher = Matcher(ENTRIES, vocabulary=vocab)
    # "charge" alone is a word; inside the idiom it is chatter
    assert ("charg", "cpt") == matcher._normalise("charge cpt").words  # stemmed
    assert ("cpt",) == matcher._normalise("who is in charge of cpt").words


def test_capitals_only_abbreviations_count_only_in_capitals():
    vocab = Vocabulary.from_dict(
        {"synonyms": {"physical therapist": ["pt", "pts"]}, "stopwords": ["each"], "capitals_only": ["PT", "pts"]}
    )
    assert {"pt", "pts"} == vocab.capitals_only
    matcher = Matcher(ENTRIES, vocabulary=vocab)
    # "PT" is the physical therapist; "each pt", "Pt gets ..." is the patient (clinical shorthand)
    assert ("physical_therapist", "bill") == matcher._normalise("PTs bill").words
    assert ("physical_therapist",) == matcher._normalise("PT").words
    assert ("bill",) == matcher._normalise("each pt bill").words
    assert ("get",) == matcher._normalise("Pt gets").words


def test_an_inflected_stop_word_is_dropped_like_one():
    vocab = Vocabulary.from_dict({"stopwords": ["say", "do"]})
    matcher = Matcher(ENTRIES, vocabulary=vocab)
    assert ("npi",) == matcher._normalise("saying doing npi").words
    assert ("bill", "us") == matcher._normalise("billing uses").words  # "use" is no stop-word


def test_entries_about_a_named_code_are_scored_however_few_words_they_share(matcher):
    # florida-pip shares far more words, but the entries about 97124 get their code bonus too
    query = matcher._normalise("97124 florida pip no fault personal injury")
    scored = {matcher._entries[i].id for i in matcher._score(query.words, {"97124"}, query.states)}
    assert {"code-97124", "bill-97124-with-97140", "florida-pip"} <= scored


def test_a_synonym_of_a_stop_word_is_dropped_like_one():
    vocab = Vocabulary.from_dict({"synonyms": {"thanks": ["thank you", "thx"]}, "stopwords": ["thanks"]})
    matcher = Matcher(ENTRIES, vocabulary=vocab)
    assert ("npi",) == matcher._normalise("npi thank you").words
    assert ("npi",) == matcher._normalise("npi thx").words


def test_a_message_nearer_an_off_topic_question_than_any_entry_is_declined():
    vocab = Vocabulary.from_dict(
        {
            "stopwords": ["my", "for", "do", "i", "a", "the", "how"],
            "off_topic": {"own-insurance": ["liability insurance for my practice"]},
        }
    )
    matcher = Matcher(ENTRIES, vocabulary=vocab, threshold=10)
    assert {"own-insurance": ("liability insurance for my practice",)} == vocab.off_topic
    result = matcher.match("liability insurance for my massage practice")
    assert result.best is None
    # the off-topic questions are never offered as suggestions, and don't touch other questions
    assert all(m.entry.id in {e.id for e in ENTRIES} for m in result.candidates)
    assert "eight-minute-rule" == best_id(matcher.match("how does the eight minute rule work"))
    assert {e.id for e in ENTRIES} == {e.id for e in matcher.entries}


def test_a_close_call_the_two_scorers_disagree_on_is_no_answer_but_both_suggestions(monkeypatch):
    import bot.core.match

    # in a KB of two entries every shared word is light: find phrasings through all of them here
    monkeypatch.setattr(bot.core.match, "LIGHT_WORD", 0.0)
    vocab = Vocabulary.from_dict({"stopwords": ["the", "a", "is", "for", "what"]})
    short = entry("short", "what is a fee schedule", ["fee schedule lookup online"])
    long = entry(
        "long",
        "fee schedule for massage codes",
        [
            "massage fee schedule",
            "fee schedule massage rates",
            "massage codes fee schedule",
            "rates for massage codes",
        ],
    )
    matcher = Matcher([short, long], vocabulary=vocab, threshold=0)
    question = "fee schedule lookup massage"
    words = matcher._normalise(question).words
    assert matcher._bm25(matcher._ids["long"], words) > matcher._bm25(matcher._ids["short"], words)
    result = matcher.match(question)
    # the best phrasing says "short", all of each entry's phrasings say "long": not sure, both offered,
    # the second opinion's choice first
    assert result.best is None
    assert ["long", "short"] == [m.entry.id for m in result.candidates]
    # with no close-call window, the best phrasing alone decides
    monkeypatch.setattr(bot.core.match, "TIE_MARGIN", 0.0)
    assert "short" == best_id(matcher.match(question))
    # replacing an entry keeps the counts consistent
    terms = matcher._terms
    matcher.add_entry(long)
    assert terms == matcher._terms


def test_a_message_without_billing_words_needs_a_clearer_match(matcher):
    # Technique talk that shares one topic word with an entry is not a billing question ...
    assert best_id(matcher.match("swedish massage for a stiff neck")) is None
    assert "code-97124" == matcher.match("swedish massage for a stiff neck").candidates[0].entry.id
    # ... the same words asking about the code are; and a clear match needs no billing word.
    assert "code-97124" == best_id(matcher.match("swedish massage code for a stiff neck"))
    assert "code-97140" == best_id(matcher.match("best way to do myofascial release"))


def test_without_billing_words_in_the_vocabulary_every_message_counts_as_billing(vocabulary):
    plain = Matcher(
        ENTRIES, vocabulary=Vocabulary(synonyms=vocabulary.synonyms, stopwords=vocabulary.stopwords)
    )
    assert "code-97124" == best_id(plain.match("swedish massage for a stiff neck"))


def test_vocabulary_reads_billing_words():
    vocab = Vocabulary.from_dict({"billing_words": ["Bill", "prior auth"]})
    assert {"bill", "prior auth"} == vocab.billing_words


def test_eval_set_accuracy_does_not_regress():
    """knowledge/asked/questions-1.yaml through the matcher on the FAQ entries alone (learning
    nothing from knowledge/asked/; test_asked.py holds the floor for the bot that learns).
    Floors under what make eval reports for "matcher on the entries alone", to catch regressions.
    """
    from bot.core.kb import load_kb
    from tests.eval.run_eval import evaluate, load_questions, matcher_predictor

    report = evaluate("matcher", matcher_predictor(load_kb()), load_questions())
    assert report.in_scope >= 200 and report.out_of_scope >= 50
    assert report.accuracy >= 0.94, [m.question.q for m in report.misses if m.question.expect]
    assert report.decline_rate >= 0.96, [m.question.q for m in report.misses if not m.question.expect]


def test_vocabulary_rejects_words_yaml_read_as_booleans(tmp_path):
    path = tmp_path / "vocabulary.yaml"
    path.write_text("stopwords: [can, i, no, yes]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="stopwords: \\[False, True\\] must be quoted"):
        load_vocabulary(path)
    path.write_text("stopwords: [can, i, 'no', 'yes']\n", encoding="utf-8")
    assert {"can", "i", "no", "yes"} == load_vocabulary(path).stopwords


def test_in_a_big_kb_a_question_of_only_common_words_still_finds_its_entry():
    # 300 entries about "claim" and "denied", 250 of them also about "audit", one of those about
    # "letter" too: every word of the question is used by more entries than the candidate pass
    # reads in full, and the entry that has them all must still be found.
    entries = [entry(f"claim-{i}", f"why was my claim denied number{i}") for i in range(50)]
    entries += [entry(f"audit-{i}", f"audit {i} after a claim denied") for i in range(249)]
    entries += [entry(f"letter-{i}", f"letter {i} about a claim denied") for i in range(250)]
    entries.insert(120, entry("audit-letter", "audit letter after a claim denied"))
    matcher = Matcher(entries, vocabulary=Vocabulary.empty(), threshold=0)
    assert "audit-letter" == matcher.match("claim denied audit letter").candidates[0].entry.id


def test_the_question_sentence_of_a_long_message_is_matched_on_its_own_too(matcher):
    context = "so my new office manager handed me a stack of forms this morning and my coffee went cold."
    question = "where do i register for an npi as a massage therapist?"
    assert best_id(matcher.match(question)) == "npi-apply"
    long = matcher.match(f"{context} {question} thanks!!")
    assert best_id(long) == "npi-apply"
    # the whole message alone scores lower: the context's words are unexplained
    whole = matcher._score(matcher._normalise(f"{context} {question}").words, set(), frozenset())
    assert long.best.score > whole[matcher._ids["npi-apply"]]


def test_a_question_sentence_naming_a_code_needs_one_word_fewer(matcher):
    text = "sorry to flood the channel today, my new clinic lead keeps talking. what does 97140 cover?"
    assert best_id(matcher.match(text, ["97140"])) == "code-97140"


def test_a_question_sentence_too_short_to_stand_alone_is_not_matched_on_its_own(matcher):
    # "what is 97140?" would be a perfect match alone; here it says too little without the context
    text = "my cousin got a new puppy and it chews everything in the house. what is it?"
    assert matcher.match(text).best is None


def test_learnt_questions_teach_how_people_ask_and_what_to_decline(vocabulary):
    matcher = Matcher(ENTRIES, vocabulary=vocabulary)
    assert "npi-apply" != best_id(matcher.match("nppes website keeps timing out"))
    matcher.learn("npi-apply", "the nppes website times out before I can finish")
    assert "npi-apply" == best_id(matcher.match("nppes website keeps timing out"))

    # (without the vocabulary's off-topic questions, one of which is about one's own car insurance)
    matcher = Matcher(ENTRIES, vocabulary=dataclasses.replace(vocabulary, off_topic={}), threshold=30)
    asked = "how do I pick a florida pip insurance policy for my own car"
    assert "florida-pip" == best_id(matcher.match(asked))  # shares "florida pip": a wrong answer
    matcher.learn(None, "which pip policy should i buy for my own car")
    result = matcher.match(asked)
    assert result.best is None
    # a declined question is never offered as a suggestion, nor an entry of the matcher
    assert {m.entry.id for m in result.candidates} <= {e.id for e in ENTRIES}
    assert {e.id for e in ENTRIES} == {e.id for e in matcher.entries}
    assert "florida-pip" == best_id(matcher.match("does florida pip cover massage"))

    with pytest.raises(KeyError):
        matcher.learn("no-such-entry", "anything")


def test_each_declined_question_stands_alone(vocabulary):
    # Taken together, these use every word of the questions below; one at a time, none is near them.
    matcher = Matcher(ENTRIES, vocabulary=vocabulary)
    for text in ("how are you today", "my doctor's npi for a thank-you card", "apply for a passport",
                 "best car to buy", "is it going to rain in florida", "pip install fails"):
        matcher.learn(None, text)
    assert "npi-apply" == best_id(matcher.match("how do i apply for an npi today"))
    assert "florida-pip" == best_id(matcher.match("florida pip massage for a car accident client"))


def test_a_message_of_everyday_words_only_names_no_topic():
    vocab = Vocabulary.from_dict({"stopwords": ["youre", "the", "what", "is", "a"], "weak_words": ["best", "good"]})
    matcher = Matcher([entry("best-code", "what is the best code", ["best code for massage"])], vocabulary=vocab)
    assert "best-code" == matcher.match("you're the best").candidates[0].entry.id  # near, but not an answer
    assert best_id(matcher.match("you're the best")) is None
    assert "best-code" == best_id(matcher.match("the best code"))


def test_a_message_about_as_near_a_declined_question_as_an_entry_is_declined(vocabulary, monkeypatch):
    import bot.core.match

    matcher = Matcher(ENTRIES, vocabulary=vocabulary)
    matcher.learn(None, "where do i apply for a business license")
    text = "where do i apply for my license or an npi"  # nearer to npi-apply, but not by much
    result = matcher.match(text)
    assert result.best is None and "npi-apply" == result.candidates[0].entry.id
    monkeypatch.setattr(bot.core.match, "DECLINE_MARGIN", 0.0)
    assert "npi-apply" == best_id(matcher.match(text))


def test_an_entry_matched_clearly_is_answered_even_next_to_a_declined_question(vocabulary):
    matcher = Matcher(ENTRIES, vocabulary=vocabulary)
    matcher.learn(None, "8 minute rule abs")  # a workout: near "the 8-minute rule", within DECLINE_MARGIN
    result = matcher.match("What is the 8-minute rule?")  # the entry's own question, word for word
    assert "eight-minute-rule" == best_id(result)
    assert best_id(matcher.match("8 minute rule abs routine")) is None


def test_typos_in_learnt_questions_are_corrected_not_learnt(vocabulary):
    matcher = Matcher(ENTRIES, vocabulary=vocabulary)
    matcher.learn("npi-need", "do i need an npi for an acident client")
    assert "accident" in matcher._normalise("acident", matcher._spelling).words[0]  # still a typo to correct
    assert "npi-need" == best_id(matcher.match("do i need an npi for an accident client"))  # learnt as corrected
