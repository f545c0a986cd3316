"""Matcher accuracy: cross-validated on the labelled questions the bot learns from
(knowledge/asked/*.yaml), and on held-out sets it never learns from (tests/eval/holdout*.yaml).

Run `python -m tests.eval.run_eval` (or `make eval`). Questions go through the same path as
the bot (`bot.core.answer.Answerer`). Exits 0 with the report, 1 when a held-out set isn't held
out (a question near-duplicates knowledge/ or another set: tests/eval/leakage.py).

- Cross-validation: each file of knowledge/asked/ is answered by a bot that learnt from all the
  other files but not from that one. Its figures and every miss are printed: tune on these.
- Held-out sets, tests/eval/holdout*.yaml (same format, written by people who saw only the topic
  list in tests/eval/writer-topics.md: never knowledge/, the entry titles or another set): answered by the bot as shipped. Only aggregate figures
  are printed; misses need `--show-holdout-misses`, so reading the report doesn't leak the
  held-out questions into tuning. `--dev-only` leaves them alone (for tuning runs).
- For comparison, the same figures for the matcher on the FAQ entries alone (what learning from
  knowledge/asked/ adds) and for a plain baseline: rapidfuzz WRatio of the raw question against
  each entry's `question` only, its threshold chosen on the first asked file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process, utils

from bot.core.asked import ASKED_DIR
from bot.core.kb import FAQ_DIR, KNOWLEDGE_DIR, KnowledgeBase, load_kb
from bot.core.match import DEFAULT_THRESHOLD, Matcher, codes_in, load_vocabulary
from tests.eval.leakage import written_order

# The labelled questions the bot learns from, file by file: cross-validated.
ASKED = sorted(ASKED_DIR.glob("*.yaml"))
QUESTIONS = ASKED_DIR / "questions-1.yaml"  # the first of them: picks the baseline's threshold
# Every held-out set (holdout.yaml, holdout-3.yaml, ...): aggregate figures only, each on its own.
HOLDOUTS = sorted(Path(__file__).resolve().parent.glob("holdout*.yaml"), key=written_order)
TARGET = 0.95
WRONG_IN_SCOPE_TARGET = 0.02  # confident-wrong, in scope
WRONG_OUT_OF_SCOPE_TARGET = 0.05  # answered though out of scope


@dataclass(frozen=True)
class Question:
    q: str
    expect: str | None  # None: out of scope, the bot must decline
    # A second entry the set's writer said would serve the asker as well (held-out sets written from
    # session 9 on, sparingly). Answering it still counts as wrong; the report says how often.
    also: str | None = None


@dataclass(frozen=True)
class Prediction:
    id: str | None  # entry answered, None for a decline
    score: float | None
    kind: str = ""  # the Answer kind when the bot's own path was used
    top: str | None = None  # the best candidate even when declined


@dataclass(frozen=True)
class Miss:
    question: Question
    got: Prediction


@dataclass(frozen=True)
class Report:
    name: str
    in_scope: int
    correct: int
    ranked_first: int  # in scope, the expected entry was the top candidate (gate or not)
    out_of_scope: int
    declined: int
    misses: tuple[Miss, ...]
    # confident-wrong: worse than a decline. In scope: answered with another entry (or a unit sum /
    # input error); out of scope: answered at all.
    wrong_in_scope: int = 0
    answered_out_of_scope: int = 0
    # of wrong_in_scope: answered with the writer's `also` entry, and how many questions have one
    wrong_but_also: int = 0
    with_also: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 1.0

    @property
    def decline_rate(self) -> float:
        return self.declined / self.out_of_scope if self.out_of_scope else 1.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong_in_scope / self.in_scope if self.in_scope else 0.0

    @property
    def answered_out_rate(self) -> float:
        return self.answered_out_of_scope / self.out_of_scope if self.out_of_scope else 0.0

    def meets_targets(self) -> bool:
        return (
            self.accuracy >= TARGET
            and self.decline_rate >= TARGET
            and self.wrong_rate <= WRONG_IN_SCOPE_TARGET
            and self.answered_out_rate <= WRONG_OUT_OF_SCOPE_TARGET
        )


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Question(str(item["q"]), item.get("expect"), item.get("also")) for item in data["questions"]]


def evaluate(name: str, predict: Callable[[str], Prediction], questions: list[Question]) -> Report:
    correct = declined = ranked_first = wrong = answered_out = also = 0
    misses = []
    for question in questions:
        got = predict(question.q)
        if question.expect is None:
            ok = got.id is None
            declined += ok
            answered_out += not ok
        else:
            ok = got.id == question.expect
            correct += ok
            wrong += got.id is not None and not ok
            also += got.id is not None and not ok and got.id == question.also
            ranked_first += question.expect in (got.id, got.top)
        if not ok:
            misses.append(Miss(question, got))
    in_scope = sum(q.expect is not None for q in questions)
    return Report(
        name, in_scope, correct, ranked_first, len(questions) - in_scope, declined, tuple(misses), wrong, answered_out,
        also, sum(q.also is not None for q in questions),
    )


# --- the ways of answering --------------------------------------------------------------------


def _known_codes(directory: Path = KNOWLEDGE_DIR) -> frozenset[str]:
    """Codes the code table knows (current and retired), read straight from codes.yaml."""
    path = directory / "codes.yaml"
    if not path.exists():
        return frozenset()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return frozenset(str(c["code"]) for key in ("codes", "retired") for c in data.get(key) or ())


def matcher_predictor(
    kb: KnowledgeBase, *, threshold: float = DEFAULT_THRESHOLD
) -> Callable[[str], Prediction]:
    """The Matcher as the bot calls it, with codes split into known and unknown, on the FAQ
    entries alone (it learns nothing from knowledge/asked/)."""
    matcher = Matcher(kb.entries, vocabulary=load_vocabulary(), threshold=threshold)
    known = _known_codes() | {c for e in kb.entries for c in e.codes}

    def predict(text: str) -> Prediction:
        codes = codes_in(text)
        result = matcher.match(
            text, [c for c in codes if c in known], unknown_codes=[c for c in codes if c not in known]
        )
        top = result.candidates[0] if result.candidates else None
        if result.best is None:
            return Prediction(None, top.score if top else None, top=top.entry.id if top else None)
        return Prediction(result.best.entry.id, result.best.score, top=top.entry.id)

    return predict


def answerer_predictor(
    leave_out: frozenset[str] = frozenset(), *, second_opinion: bool = True
) -> Callable[[str], Prediction]:
    """The bot's own router (`bot.core.answer`), learning from every file of knowledge/asked/ but
    those left out. Without `second_opinion`, the matcher's pick stands (bot.core.decide skipped):
    the bot as it was before the classifier, for comparison."""
    from unittest import mock

    from bot.core.answer import Answerer

    answerer = Answerer.from_knowledge(leave_out_asked=leave_out)
    unchecked = mock.patch("bot.core.decide.decide", lambda result, *args, **kwargs: result)

    def predict(text: str) -> Prediction:
        if second_opinion:
            answer = answerer.answer(text)
        else:
            with unchecked:
                answer = answerer.answer(text)
        return prediction(answer)

    return predict


def prediction(answer) -> Prediction:
    """What the eval counts of a bot.core.model.Answer: the entry answered, or None for a decline."""
    top = answer.suggestions[0].id if answer.suggestions else None
    if answer.kind == "faq":
        return Prediction(answer.id, answer.score, answer.kind)
    # help for "hi"/"thanks" is a decline too; units or error are not answers from the KB
    return Prediction(None if answer.kind in ("no_match", "help") else f"<{answer.kind}>", None, answer.kind, top)


def baseline_scores(kb: KnowledgeBase) -> Callable[[str], tuple[str, float]]:
    """Plain rapidfuzz: WRatio of the raw question against each entry's `question` field
    (rapidfuzz's default processing only: lower case, punctuation removed)."""
    questions = [e.question for e in kb.entries]

    def best(text: str) -> tuple[str, float]:
        _, score, index = process.extractOne(
            text, questions, scorer=fuzz.WRatio, processor=utils.default_process
        )
        return kb.entries[index].id, score

    return best


def best_threshold(scored: list[tuple[Question, str, float]]) -> float:
    """The threshold that does best on the weaker of in-scope accuracy and decline rate
    (ties: the better sum), chosen on this very set: a generous choice for the baseline."""
    inside = [(q, i, s) for q, i, s in scored if q.expect is not None]
    outside = [(q, i, s) for q, i, s in scored if q.expect is None]
    best_t, best_value = 0.0, (-1.0, -1.0)
    for t in range(101):
        acc = sum(i == q.expect and s >= t for q, i, s in inside) / max(1, len(inside))
        dec = sum(s < t for _, _, s in outside) / max(1, len(outside))
        if (min(acc, dec), acc + dec) > best_value:
            best_t, best_value = float(t), (min(acc, dec), acc + dec)
    return best_t


def baseline_predictor(
    kb: KnowledgeBase, questions: list[Question], *, threshold: float | None = None
) -> tuple[Callable[[str], Prediction], float]:
    """:param threshold: None picks the best one on `questions` (the development set)."""
    score = baseline_scores(kb)
    if threshold is None:
        threshold = best_threshold([(q, *score(q.q)) for q in questions])

    def predict(text: str) -> Prediction:
        entry_id, s = score(text)
        return Prediction(entry_id if s >= threshold else None, round(s, 1), top=entry_id)

    return predict, threshold


# --- printing ---------------------------------------------------------------------------------


def print_report(report: Report, *, show_misses: bool = True, out=sys.stdout) -> None:
    print(f"== {report.name}", file=out)
    print(
        f"   top-1 accuracy in scope: {report.correct}/{report.in_scope} = {report.accuracy:.1%}"
        f"   correct declines out of scope: {report.declined}/{report.out_of_scope} = {report.decline_rate:.1%}"
        f"\n   confident-wrong: in scope {report.wrong_in_scope}/{report.in_scope} = {report.wrong_rate:.1%}"
        f"   out of scope answered {report.answered_out_of_scope}/{report.out_of_scope} = {report.answered_out_rate:.1%}"
        f"\n   (expected entry ranked first, confident or not: {report.ranked_first}/{report.in_scope})",
        file=out,
    )
    if report.with_also:
        print(f"   (of the confident-wrong in scope, {report.wrong_but_also} answered with the entry the writer also"
              f" accepted; {report.with_also} questions name one)", file=out)
    if show_misses and report.misses:
        print(f"   misses ({len(report.misses)}):", file=out)
        for miss in report.misses:
            got = miss.got
            shown = got.id if got.id is not None else f"(declined; top {got.top})"
            score = "-" if got.score is None else f"{got.score:.1f}"
            kind = f" [{got.kind}]" if got.kind else ""
            print(
                f"   - {miss.question.q!r}\n       expected {miss.question.expect}, got {shown}{kind} score {score}",
                file=out,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline-misses", action="store_true", help="print the baseline's figures only")
    parser.add_argument(
        "--show-holdout-misses",
        action="store_true",
        help="also list the held-out sets' misses (off by default: don't tune on them)",
    )
    parser.add_argument(
        "--dev-only", action="store_true", help="cross-validation only: skip the held-out sets (holdout*.yaml)"
    )
    parser.add_argument(
        "--sets", nargs="+", metavar="NAME",
        help="held-out sets to read, e.g. holdout-15 (default: all; each read counts, so read only those you mean to)",
    )
    parser.add_argument(
        "--folds", type=int, default=5,
        help="cross-validation folds: the asked files dealt round-robin into this many groups, each answered"
             " by a bot that learnt from the others (default 5; each fold trains the classifier again)",
    )
    args = parser.parse_args(argv)

    if not QUESTIONS.exists() or not FAQ_DIR.is_dir():
        print(f"missing {QUESTIONS if not QUESTIONS.exists() else FAQ_DIR}", file=sys.stderr)
        return 1
    kb = load_kb(FAQ_DIR)
    asked = {path.name: load_questions(path) for path in ASKED}
    chosen = HOLDOUTS
    if args.sets:
        wanted = {name.removesuffix(".yaml") for name in args.sets}
        chosen = [path for path in HOLDOUTS if path.stem in wanted]
        if unknown := wanted - {path.stem for path in chosen}:
            print(f"no held-out set {', '.join(sorted(unknown))}; there are: "
                  f"{', '.join(path.stem for path in HOLDOUTS)}", file=sys.stderr)
            return 2
    holdouts = {} if args.dev_only else {path.name: load_questions(path) for path in chosen}
    if holdouts:
        from tests.eval.leakage import collisions

        found = collisions()
        if found:
            print(
                f"{len(found)} held-out questions are near-duplicates of knowledge/ or of another set: their"
                " figures would not be held out. List them with `python -m tests.eval.leakage`; drop them with"
                " `python -m tests.eval.leakage --drop` (or retire the set).",
                file=sys.stderr,
            )
            return 1
    print(f"{len(kb.entries)} entries")
    for name, questions in asked.items():
        print(f"asked (learnt from; cross-validated) {name}: {_describe(questions)}")
    if note := stale_weights(sum(len(questions) for questions in asked.values())):
        print(note)
    for name, holdout in holdouts.items():
        print(f"held-out set {name}: {_describe(holdout)}")
    print()

    matcher = matcher_predictor(kb)
    baseline, threshold = baseline_predictor(kb, asked[QUESTIONS.name])
    baseline_name = f"baseline: WRatio vs entry questions (threshold {threshold:g}, chosen on {QUESTIONS.name})"
    totals: list[Report] = []
    names = list(asked)
    fold_of = folds_of(names, args.folds)
    bots: dict[frozenset, Callable[[str], Prediction]] = {}
    for name, questions in asked.items():
        left_out = fold_of[name]
        print(f"### cross-validation: {name} ({_describe(questions)}), answered by a bot that learnt from the"
              f" other files but {', '.join(sorted(left_out - {name})) or 'none'}\n")
        if left_out not in bots:
            bots[left_out] = answerer_predictor(left_out)
        report = evaluate("bot (bot.core.answer.Answerer)", bots[left_out], questions)
        totals.append(report)
        print_report(report)
        print()
        print_report(evaluate(f"matcher on the entries alone (threshold {DEFAULT_THRESHOLD:g})", matcher, questions))
        print()
        print_report(evaluate(baseline_name, baseline, questions), show_misses=not args.no_baseline_misses)
        print()
    if totals:
        print_report(_sum("### cross-validation, all asked files: bot", totals), show_misses=False)
        print()

    bot = answerer_predictor()
    unchecked = answerer_predictor(second_opinion=False)
    for name, holdout in holdouts.items():
        show = args.show_holdout_misses
        print(f"\n### held-out set {name} (aggregate figures only" + (")\n" if not show else "; misses shown)\n"))
        print_report(evaluate("bot (bot.core.answer.Answerer)", bot, holdout), show_misses=show)
        print()
        print_report(evaluate("bot without the classifier's second opinion", unchecked, holdout), show_misses=show)
        print()
        print_report(
            evaluate(f"matcher on the entries alone (threshold {DEFAULT_THRESHOLD:g})", matcher, holdout),
            show_misses=show,
        )
        print()
        print_report(evaluate(baseline_name, baseline, holdout), show_misses=show and not args.no_baseline_misses)
    return 0


def stale_weights(asked_questions: int, path: Path | None = None) -> str | None:
    """A reminder when bot.core.decide's weights were fitted on another number of asked questions
    (labelled questions added or retired since `make fit-decide`); None when they match."""
    from bot.core.decide import WEIGHTS_FILE

    path = path or WEIGHTS_FILE
    if not path.exists():
        return f"no decision weights at {path}: run `make fit-decide`"
    figures = json.loads(path.read_text(encoding="utf-8")).get("cross_fitted") or {}
    fitted = figures.get("in_scope", 0) + figures.get("out_of_scope", 0)
    if fitted == asked_questions:
        return None
    return (f"note: decide's weights were fitted on {fitted} asked questions and there are {asked_questions}"
            " now: run `make fit-decide` (its cross-fitted figures are the ones to quote)")


def folds_of(names: list[str], folds: int = 5) -> dict[str, frozenset[str]]:
    """Each asked file's fold: the files dealt round-robin into `folds` groups (a file is answered by
    a bot that learnt from every other group)."""
    folds = max(1, min(folds, len(names)))
    return {name: frozenset(names[i % folds :: folds]) for i, name in enumerate(names)}


def _sum(name: str, reports: list[Report]) -> Report:
    return Report(
        name,
        sum(r.in_scope for r in reports),
        sum(r.correct for r in reports),
        sum(r.ranked_first for r in reports),
        sum(r.out_of_scope for r in reports),
        sum(r.declined for r in reports),
        tuple(m for r in reports for m in r.misses),
        sum(r.wrong_in_scope for r in reports),
        sum(r.answered_out_of_scope for r in reports),
        sum(r.wrong_but_also for r in reports),
        sum(r.with_also for r in reports),
    )


def _describe(questions: list[Question]) -> str:
    in_scope = sum(q.expect is not None for q in questions)
    return f"{len(questions)} questions ({in_scope} in scope, {len(questions) - in_scope} out of scope)"


if __name__ == "__main__":
    sys.exit(main())
