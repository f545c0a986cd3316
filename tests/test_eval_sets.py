"""The held-out sets are held out: no question near-duplicates knowledge/ or another set, and
every label names an entry (a cheap version of what `make eval` checks before it reports)."""

import yaml

from bot.core.kb import FAQ_DIR, load_kb
from tests.eval.leakage import HELD_OUT_DIR, Collision, collisions, drop


def test_no_held_out_question_near_duplicates_knowledge_or_another_set():
    assert [] == collisions()


def test_every_held_out_label_names_an_entry():
    ids = set(load_kb(FAQ_DIR).by_id)
    for path in sorted(HELD_OUT_DIR.glob("holdout*.yaml")):
        items = yaml.safe_load(path.read_text())["questions"]
        labels = {item[key] for item in items for key in ("expect", "also") if key in item} - {None}
        assert set() == labels - ids, path.name


def test_collisions_finds_near_duplicates_after_case_and_punctuation():
    sets = {"holdout-a.yaml": ["What's a superbill?", "totally unrelated question about tables"],
            "holdout-b.yaml": ["whats a superbill"]}
    knowledge = [("knowledge/asked/x.yaml", "What is a SUPERBILL"), ("knowledge/faq/y.yaml", "do i need an npi")]
    found = collisions(sets, knowledge)
    # "whats a superbill" vs "what is a superbill": ratio 94; a vs b share the question exactly.
    assert {("holdout-a.yaml:1", "knowledge/asked/x.yaml"), ("holdout-b.yaml:1", "knowledge/asked/x.yaml"),
            ("holdout-a.yaml:1", "holdout-b.yaml:1")} == {(c.held_out, c.other) for c in found}


def test_drop_removes_the_held_out_side_and_keeps_comments(tmp_path):
    (tmp_path / "holdout-a.yaml").write_text(
        '# a comment\nquestions:\n  - q: "one"\n    expect: null\n  - q: "two"\n    expect: x\n  - q: "three"\n    expect: null\n'
    )
    lost = drop([Collision("holdout-a.yaml:2", "knowledge/asked/x.yaml", 95.0)], tmp_path)
    assert {"holdout-a.yaml": 1} == lost
    assert '# a comment\nquestions:\n  - q: "one"\n    expect: null\n  - q: "three"\n    expect: null\n' == (
        tmp_path / "holdout-a.yaml"
    ).read_text()


def test_of_two_sets_sharing_a_question_the_newer_one_loses_it(tmp_path):
    # holdout-9 was written before holdout-10: by number, not by file name ("holdout-10" < "holdout-9")
    for name, q, other in (("holdout-9.yaml", "what is a superbill for", "best massage table brand"),
                           ("holdout-10.yaml", "what is a superbill for?", "how do I raise my cash rates")):
        (tmp_path / name).write_text(f'questions:\n  - q: "{q}"\n    expect: superbill\n  - q: "{other}"\n    expect: null\n')
    from tests.eval.leakage import held_out_sets

    sets = held_out_sets(tmp_path)
    assert ["holdout-9.yaml", "holdout-10.yaml"] == list(sets)
    assert {"holdout-10.yaml": 1} == drop(collisions(sets, []), tmp_path)
    assert ["how do I raise my cash rates"] == held_out_sets(tmp_path)["holdout-10.yaml"]
    assert 2 == len(held_out_sets(tmp_path)["holdout-9.yaml"])


def test_eval_reads_only_the_sets_named_and_refuses_an_unknown_one(capsys):
    from tests.eval import run_eval

    assert 2 == run_eval.main(["--sets", "holdout-15", "holdout-99"])
    err = capsys.readouterr().err
    assert "no held-out set holdout-99" in err and "holdout-15" in err.split("there are:")[1]


def test_an_answer_the_writer_also_accepted_still_counts_as_wrong_and_is_reported_apart(tmp_path):
    from tests.eval.run_eval import Prediction, evaluate, load_questions

    path = tmp_path / "holdout-x.yaml"
    path.write_text('questions:\n  - q: "one"\n    expect: superbill\n    also: cms-1500\n'
                    '  - q: "two"\n    expect: superbill\n  - q: "three"\n    expect: npi-need\n    also: superbill\n')
    answers = {"one": "cms-1500", "two": "cms-1500", "three": "npi-need"}
    report = evaluate("x", lambda q: Prediction(answers[q], 90.0), load_questions(path))
    assert (report.correct, report.wrong_in_scope, report.wrong_but_also, report.with_also) == (1, 2, 1, 2)


def test_eval_says_when_the_decision_weights_were_fitted_on_other_questions(tmp_path):
    import json

    from tests.eval.run_eval import stale_weights

    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"cross_fitted": {"in_scope": 80, "out_of_scope": 20}}))
    assert stale_weights(100, path) is None
    assert "fitted on 100 asked questions and there are 104 now" in stale_weights(104, path)
    assert "make fit-decide" in stale_weights(1, tmp_path / "missing.json")

