"""Fit bot.core.decide's weights on cross-validation over knowledge/asked/, and report them honestly.

Run `python -m tests.eval.fit_decide` (or `make fit-decide`) after the knowledge base or the
matcher changes much. Each asked file is answered, as in `make eval`, by a bot that learnt from the
other folds; every question the matcher's result doesn't settle on its own is recorded with what
the matcher and the classifier said of each candidate entry (bot.core.decide.candidates).

- **Cross-fitted figures** (printed for several thresholds): each fold's questions are decided by
  weights fitted on the other folds' records only, so neither the scorers nor the weights saw them.
  These, not `make eval`'s cross-validation (which uses weights fitted on every fold), are the
  figures to quote for the decision.
- **The shipped weights**: fitted on every record, written to bot/core/decide_weights.json with the
  threshold (`--answer-at`, default: the file's current one) and the cross-fitted figures.

Needs scikit-learn (the model: degree-2 products of the features, standardised, logistic regression;
the scaling is folded into the weights, so answering needs neither).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from bot.core import decide as decide_module
from tests.eval.run_eval import ASKED, folds_of, load_questions, prediction

THRESHOLDS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8)
FIRST_ANSWER_AT = 0.7  # with no weights file yet: chosen on the cross-fitted figures (NOTES.md, session 8)
REGULARISATION_C = 1.0  # scikit-learn's default; 0.1 and 10 gave the same figures within a few answers


@dataclass
class Record:
    """One asked question: its expected entry, and either the bot's settled answer or the candidates."""

    fold: frozenset
    expect: str | None
    settled: str | None = None  # the answer when nothing was weighed (units, a trusted match, ...)
    rows: list | None = None  # [(entry id, features)] when decide weighed candidates


def record(folds: int = 5) -> list[Record]:
    """Answer every asked question with its fold's bot, keeping what decide was given."""
    from bot.core.answer import Answerer

    asked = {path.name: load_questions(path) for path in ASKED}
    fold_of = folds_of(list(asked), folds)
    records, bots = [], {}
    for name, questions in asked.items():
        left_out = fold_of[name]
        if left_out not in bots:
            bots[left_out] = _recording(Answerer.from_knowledge(leave_out_asked=left_out))
        answerer, seen = bots[left_out]
        for question in questions:
            seen.clear()
            got = prediction(answerer.answer(question.q)).id
            rows = seen[-1] if seen else None
            records.append(Record(left_out, question.expect, None if rows else got, rows or None))
        print(f"recorded {name}", file=sys.stderr)
    return records


def _recording(answerer):
    """The answerer, with each choice it weighs noted: (answerer, list the candidate rows go to)."""
    seen: list = []
    choose = answerer.choose

    def noting(text, codes=(), *, unknown_codes=(), prefer_state=None):
        result = answerer.matcher.match(text, codes, unknown_codes=unknown_codes, prefer_state=prefer_state)
        if decide_module.settled(result, answerer._learnt_labels, unknown_codes=bool(unknown_codes),
                                 preferred_state=prefer_state) is None:
            seen.append(decide_module.candidates(result, answerer.classifier.scores(text)))
            return result  # its answer isn't used: the weights being fitted decide it
        return choose(text, codes, unknown_codes=unknown_codes, prefer_state=prefer_state)

    answerer.choose = noting
    return answerer, seen


def fit(records: list[Record]) -> decide_module.Weights:
    """Logistic regression on the candidates' degree-2 terms (standardised), folded into plain weights."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = [], []
    for r in records:
        for entry_id, features in r.rows or ():
            x.append(decide_module.terms(features))
            y.append(entry_id == r.expect)
    scaler = StandardScaler().fit(np.array(x))
    model = LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit(scaler.transform(np.array(x)), np.array(y))
    return fold_scaling(model.coef_[0], model.intercept_[0], scaler.mean_, scaler.scale_)


def fold_scaling(coef, intercept, mean, scale, answer_at: float = 0.5) -> decide_module.Weights:
    """w . (t - mean) / scale + b as plain coefficients over t and one intercept."""
    coefficients = [float(w / s) for w, s in zip(coef, scale)]
    return decide_module.Weights(
        tuple(coefficients), float(intercept - sum(c * m for c, m in zip(coefficients, mean))), answer_at
    )


def outcome(records: list[Record], chosen: dict[int, tuple[str, float]], answer_at: float) -> dict:
    """In scope right / wrong and out of scope answered, with each weighed question's likeliest entry."""
    right = wrong = answered_out = in_scope = 0
    for i, r in enumerate(records):
        if r.rows is None:
            got = r.settled
        else:
            entry_id, p = chosen[i]
            got = entry_id if p >= answer_at else None
        if r.expect is not None:
            in_scope += 1
            right += got == r.expect
            wrong += got is not None and got != r.expect
        else:
            answered_out += got is not None
    out_of_scope = len(records) - in_scope
    return {"in_scope": in_scope, "right": right, "wrong": wrong, "out_of_scope": out_of_scope,
            "answered_out_of_scope": answered_out}


def likeliest(model: decide_module.Weights, rows) -> tuple[str, float]:
    return max(((entry_id, model.probability(f)) for entry_id, f in rows), key=lambda kv: kv[1])


def cross_fitted(records: list[Record]) -> dict[int, tuple[str, float]]:
    """Each weighed question's likeliest entry under weights fitted without its fold."""
    chosen = {}
    for fold in {r.fold for r in records}:
        model = fit([r for r in records if r.fold != fold])
        for i, r in enumerate(records):
            if r.fold == fold and r.rows:
                chosen[i] = likeliest(model, r.rows)
    return chosen


def _line(figures: dict) -> str:
    n, m = figures["in_scope"], figures["out_of_scope"]
    return (f"in scope {figures['right']}/{n} = {figures['right'] / n:.1%} right, {figures['wrong']} = "
            f"{figures['wrong'] / n:.1%} wrong; out of scope answered {figures['answered_out_of_scope']}/{m} = "
            f"{figures['answered_out_of_scope'] / m:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answer-at", type=float, help="the probability at which the likeliest entry answers"
                        " (default: the shipped file's)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="print the figures; leave the weights file alone")
    args = parser.parse_args(argv)
    if args.answer_at is not None:
        answer_at = args.answer_at
    elif decide_module.WEIGHTS_FILE.exists():
        answer_at = decide_module.weights().answer_at
    else:
        answer_at = FIRST_ANSWER_AT
    records = record(args.folds)
    chosen = cross_fitted(records)
    print(f"{sum(r.rows is not None for r in records)} of {len(records)} questions weighed; cross-fitted, {args.folds} folds:")
    for threshold in sorted({*THRESHOLDS, answer_at}):
        print(f"  answer at {threshold:g}: {_line(outcome(records, chosen, threshold))}")
    if args.dry_run:
        return 0
    model = fit(records)
    if (already := decide_module.WEIGHTS_FILE).exists():
        print(f"replacing {already}")
    shipped = {
        "features": list(decide_module.FEATURES),
        "answer_at": answer_at,
        "intercept": model.intercept,
        "coefficients": list(model.coefficients),
        "cross_fitted": outcome(records, chosen, answer_at),
        "fitted_on": f"{sum(len(r.rows or ()) for r in records)} candidates of {sum(r.rows is not None for r in records)}"
                     f" weighed questions, {args.folds}-fold cross-validation over knowledge/asked/",
    }
    decide_module.WEIGHTS_FILE.write_text(json.dumps(shipped, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {decide_module.WEIGHTS_FILE} (answer at {answer_at:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
