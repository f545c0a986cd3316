"""Message -> Answer: the one place that decides between a unit sum, an FAQ answer,
help, an honest "I don't know" and an input error.

Pure: it reads the knowledge/ YAML once (through codes, kb and match) and nothing else.
The knowledge base and matcher load lazily, so a units message never pays for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from bot.core import followup
from bot.core.codes import KNOWLEDGE_DIR, CodeTable, Rule, RuleBook, load_code_table, load_rule_book
from bot.core.errors import UnknownRule
from bot.core.model import Answer, Source, Suggestion, UnitLine, Visit
from bot.core.parse import MAX_MINUTES, Parser, Request, Segment
from bot.core.units import Allocation, Item, allocate, minutes_range, units_for

PLAUSIBLE_MINUTES = 4 * 60  # more timed minutes than this for one patient on one day: say so
DISCLAIMER = "Rules vary by payer and state; this is billing guidance, not legal advice."
_GREETINGS = {"hi", "hello", "hey", "help", "usage", "start", "menu", "yo", "howdy", "commands"}
# Words that, next to code numbers, still make a short note a unit request ("97010 please").
_UNIT_WORDS = {"units", "unit", "bill", "billing", "for", "of", "x", "please", "pls", "min", "mins", "today", "session",
               "visit", "with", "and", "how", "many", "calc", "calculate", "the", "a", "did", "i", "we"}

_UNIT_WORDS |= {"on", "pt", "patient", "client", "today", "yesterday", "tx", "treated", "done", "then", "total",
                "in", "am", "pm", "session", "sessions"}
# Words that only ask to check a sum ("40 min 97140, is that right?"), and how many other words a
# question with minutes needs before the knowledge base may answer it (Answerer._asks_beyond_units).
_CHECKING_WORDS = {"is", "that", "it", "this", "right", "correct", "ok", "okay", "can", "could", "should", "would",
                   "what", "so", "does", "do", "be", "get", "are", "you", "my", "me", "much", "long", "or",
                   "it's", "thats", "whats", "what's", "that's", "im", "i'm", "if", "just", "put", "code", "codes"}
_BEYOND_UNITS = 3
_READ_PROBLEMS = {"ask_code", "unsure_time", "unknown_code", "outside_code", "almost_code"}
_BILLING_WORDS = {"unit", "units", "bill", "billed", "billing", "billable"}
# "how many units is 40 minutes?", "is 53 minutes 3 or 4 units": a unit sum even without a code
_HOW_MANY_UNITS = re.compile(r"\bhow\s+many\s+units\b|\b\d+\s+or\s+\d+\s+units?\b", re.IGNORECASE)
# Minutes that state a rule, not a session: "13 minutes to bill a unit", "the whole 15 mins per unit",
# "13 of 15 min", "a unit isn't billable unless ...", "'check your state' every five minutes".
_MINUTES_STATE_A_RULE = re.compile(
    r"\bper\s+unit\b|\b(?:to|can|could)\s+(?:bill|get|count|charge|make)\s+(?:a|an|one|1|each|every|single)\s+unit\b"
    r"|\b(?:a|an|one|1|each|every|single)\s+unit\s+(?:of\s+\S+\s+)?"
    r"(?:requires?|needs?|has\s+to|must|is|isn'?t|can'?t|cannot|doesn'?t)\b"
    r"|\bevery\s+(?:\d+|few|five|ten|fifteen)\s+min|\bunless\b|\b\d+\s+(?:of|out\s+of)\s+(?:the\s+|a\s+)?15\b",
    re.IGNORECASE,
)
# Questions about which code to use, modifiers, or billing a service separately or bundled are for the
# knowledge base even when they give the session's minutes ("what code do i bill for an hour long massage").
_CODE_CHOICE = re.compile(r"\b(?:what|which|wat|wich)\s+(?:cpt\s+)?codes?\b", re.IGNORECASE)
_CODING_RULE = re.compile(r"\bseparate(?:ly)?\b|\bon\s+top\s+of\b|\bbundl|\bmodifiers?\b", re.IGNORECASE)

HELP_EXAMPLES = (
    "40 min 97140",
    "1h15 97124",
    "25 min manual therapy + 20 min NMR",
    "97110: 33, 97140: 7, 97010",
    "40 min 97140 ama",
    "Pt 1: 40 min 97140. Pt 2: 25 min 97124",
    "how many minutes for 3 units?",
    "can I bill 97124 and 97140 together?",
    "do I need an NPI?",
)


def escape(text: str) -> str:
    """Slack mrkdwn escaping for user text we echo: exactly &, <, > (in that order)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _range(units: int, threshold: int) -> str:
    lo, hi = minutes_range(units, threshold)
    return f"{lo}-{hi} min"


def _checked(last_verified, sources: tuple[Source, ...]) -> str:
    """When the answer was checked against its sources, and how old those sources are: a fact
    checked last week against a 2016 blog post is still a 2016 fact."""
    years = sorted(s.date[:4] for s in sources if s.date != "undated")
    line = f"Checked against its sources {last_verified.isoformat()}"
    if years:
        line += f"; sources dated {years[0]}" + (f" to {years[-1]}" if years[-1] != years[0] else "")
    undated = len(sources) - len(years)
    if undated:
        line += f"{';' if not years else ','} {_plural(undated, 'source')} undated"
    return line


def _join(lead: str, text: str, notes: tuple[str, ...]) -> str:
    """The answer text: what a follow-up carried over, the units, then how the message was read."""
    return "\n".join([*([lead] if lead else []), text, *(f"_{n}_" if not n.startswith("_") else n for n in notes)])


def _plural(n: int, word: str = "unit") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Knowledge:
    """Everything the answerer reads from knowledge/."""

    codes: CodeTable
    rules: RuleBook
    directory: Path


class Answerer:
    """Answers messages. Build once (it compiles patterns and indexes), call `answer` many times."""

    def __init__(
        self, knowledge: Knowledge, *, default_rule: str | None = None, leave_out_asked: frozenset[str] = frozenset()
    ):
        """:param leave_out_asked: files of knowledge/asked/ not to learn from (the evaluation's
            cross-validation answers each file's questions without having seen them)."""
        self.knowledge = knowledge
        self.leave_out_asked = leave_out_asked
        self.codes = knowledge.codes
        self.rules = knowledge.rules
        self.parser = Parser(self.codes, self.rules)
        name = default_rule or self.rules.default
        if self.rules.get(name) is None:
            raise UnknownRule(f"unknown rule {name!r}; choose one of: {', '.join(self.rules.names())}")
        self.default_rule = self.rules.get(name).name
        # What a decline promises about the question: true where the caller logs it (Slack, the
        # CLI by default); a caller that doesn't log must say nothing (BILLING_BOT_LOG_CLI=0).
        self.logged_note = "Your question is logged so the team can add an answer."

    @classmethod
    def from_knowledge(
        cls, directory: Path = KNOWLEDGE_DIR, *, default_rule: str | None = None, leave_out_asked: frozenset[str] = frozenset()
    ) -> Answerer:
        knowledge = Knowledge(load_code_table(directory / "codes.yaml"), load_rule_book(directory / "rules.yaml"), directory)
        return cls(knowledge, default_rule=default_rule, leave_out_asked=leave_out_asked)

    # -- the knowledge base and matcher, loaded on first FAQ question --------------------------------
    @property
    def kb(self):
        return self._faq_index[0]

    @property
    def matcher(self):
        return self._faq_index[1]

    @property
    def classifier(self):
        return self._faq_index[2]

    @cached_property
    def _faq_index(self) -> tuple:
        """(knowledge base, matcher, classifier): from the on-disk cache (bot.core.index_cache) when knowledge/ is
        unchanged since it was last built. A cross-validation fold (`leave_out_asked`) always builds."""
        if self.leave_out_asked:
            return self._build_faq_index()
        from bot.core.index_cache import cached

        return cached(self.knowledge.directory, self._build_faq_index)

    def _build_faq_index(self) -> tuple:
        from bot.core.asked import load_asked
        from bot.core.classifier import train
        from bot.core.kb import load_kb, load_phrasings
        from bot.core.match import Matcher, load_vocabulary

        directory = self.knowledge.directory
        kb = load_kb(directory / "faq", known_codes=self.codes.known)
        vocabulary = load_vocabulary(directory / "vocabulary.yaml")
        matcher = Matcher(kb.entries, vocabulary=vocabulary)
        examples = [(text, entry.id) for entry in kb.entries for text in (entry.question, *entry.phrasings)]
        examples += [(text, None) for questions in vocabulary.off_topic.values() for text in questions]
        for entry_id, phrasings in load_phrasings(directory / "phrasings.yaml").items():
            if kb.get(entry_id) is not None:
                for phrasing in phrasings:
                    matcher.add_phrasing(entry_id, phrasing)
                    examples.append((phrasing, entry_id))
        for asked in load_asked(directory / "asked", leave_out=self.leave_out_asked):
            if asked.entry_id is None or kb.get(asked.entry_id) is not None:
                matcher.learn(asked.entry_id, asked.text)
                examples.append((asked.text, asked.entry_id))
        matcher.warm()
        texts, labels = zip(*examples)
        return kb, matcher, train(texts, labels)

    @cached_property
    def _learnt_labels(self) -> frozenset:
        return frozenset(self.classifier.labels)

    def resolve_rule(self, name: str | None) -> Rule:
        rule = self.rules.get(name) if name else self.rules.get(self.default_rule)
        if rule is None:
            raise UnknownRule(f"unknown rule {name!r}; choose one of: {', '.join(self.rules.names())}")
        return rule

    # -- routing ------------------------------------------------------------------------------------
    def answer(
        self,
        message: str,
        *,
        rule: str | None = None,
        rule_from: str | None = None,
        home_state: str | None = None,
        previous: dict | None = None,
        conversation: bool = False,
    ) -> Answer:
        """Answer one message. `rule` is the caller's default (channel setting, --rule); a rule named
        in the message wins over it.

        :param rule_from: where the caller's default came from, for the context line.
        :param home_state: the asker's state (e.g. "WA"), preferred among state-specific entries when
            the question names no state.
        :param conversation: the message comes from a conversation (DM, thread, chat), so it may be a
            follow-up of `previous`, the `state` of the last units answer there (None: nothing to follow).
        """
        req = self.parser.parse(message)
        if not req.text or req.text.lower().strip("!?. ") in _GREETINGS:
            return self.help(req.text)
        if conversation:
            follow = followup.read(req)
            if follow is not None and previous is not None:
                answer = self._follow(follow, previous, req, rule)
                if answer is not None:
                    return answer
            elif follow is not None and not follow.standalone:
                return Answer(
                    "no_match",
                    "There's no earlier units question here for me to change (I keep the last one of a "
                    "conversation for a few hours). Send the whole note, e.g. `40 min 97140 ama`.",
                    context=(DISCLAIMER,), query=req.text)
        try:
            chosen = self.resolve_rule(req.rule or rule)
        except UnknownRule as exc:
            return Answer("error", escape(str(exc)), query=req.text)
        if self._is_units_request(req):
            if self._asks_beyond_units(req):
                faq = self._faq(req, home_state)
                if faq.kind == "faq":
                    return faq
                if req.durations > 1 and not req.visits:
                    return _times_not_added(faq)
            return _rule_origin(self._units(req, chosen), RULE_IN_MESSAGE if req.rule else rule_from)
        return self._faq(req, home_state)

    @staticmethod
    def _asks_beyond_units(req: Request) -> bool:
        """A question that gives minutes but asks about a rule ("does the booked time count? she came 15
        min late to a 60 min slot", "is there a cap on units? I do 90 min sessions"): the knowledge base
        answers it when it knows the answer. No sum beside it: a story's minutes (booked 60, came 15
        late, treated 45) aren't a note's, and adding them up would be wrong: when the knowledge base
        has no answer either, the bot says so rather than sum them. A note of minutes and codes, or a
        sum to check ("can I bill 4 units for 40 min?"), never goes there."""
        if not req.is_question:
            return False
        return len(_asking_words(req)) >= _BEYOND_UNITS

    def _follow(self, follow: followup.FollowUp, previous: dict, req: Request, rule: str | None) -> Answer | None:
        """The previous question with the follow-up's change, worked out again; None when `previous`
        is not a state this version can read (then the message is answered on its own)."""
        try:
            visits = [(str(v["label"]), [(str(c), None if m is None else int(m)) for c, m in v["lines"]])
                      for v in previous["visits"]]
            if not visits or any(c not in self.codes.codes for _, pairs in visits for c, _ in pairs):
                return None
            before = self.resolve_rule(previous.get("rule"))
        except (KeyError, TypeError, ValueError, UnknownRule):
            return None
        changes: list[str] = []
        same = "Same visits as above" if len(visits) > 1 else "Same visit as above"
        if len(visits) > 1 and (follow.minutes is not None or follow.set or follow.add or follow.remove):
            return Answer("error", f"The note above had {len(visits)} visits: send it again with the change, so I "
                          "know which visit it is for.", query=req.text)
        pairs = list(visits[0][1])
        timed = [c for c, _ in pairs if self.codes.codes[c].timed]
        if follow.minutes is not None:
            if len(timed) != 1:
                names = " or ".join(timed) or "which code"
                return Answer("error", f"Which code gets {follow.minutes} min: {names}? Ask like "
                              f"`what if {timed[0] if timed else '97124'} was {follow.minutes} min`.", query=req.text)
            pairs = [(c, follow.minutes if c == timed[0] else m) for c, m in pairs]
            changes.append(f"with {timed[0]} at {follow.minutes} min")
        for seg in follow.set:
            if any(c == seg.code for c, _ in pairs):
                pairs = [(c, seg.minutes if c == seg.code else m) for c, m in pairs]
            else:
                pairs.append((seg.code, seg.minutes))
            changes.append(f"with {seg.code} at {seg.minutes} min")
        if follow.add:
            pairs += [(s.code, s.minutes) for s in follow.add]
            changes.append("plus " + ", ".join(f"{s.minutes} min {s.code}" if s.minutes is not None else s.code
                                               for s in follow.add))
        if follow.remove:
            missing = [c for c in follow.remove if all(c != p for p, _ in pairs)]
            if missing:
                return Answer("error", f"{', '.join(missing)} wasn't in the visit above, so there's nothing to take "
                              "out. Send the whole note if it changed.", query=req.text)
            pairs = [(c, m) for c, m in pairs if c not in follow.remove]
            if not pairs:
                return Answer("error", "That takes out every code of the visit above: nothing is left to bill.",
                              query=req.text)
            changes.append("without " + ", ".join(follow.remove))
        missing_minutes = [c for c, m in pairs if m is None and self.codes.codes[c].timed]
        if missing_minutes:
            return Answer("error", f"{missing_minutes[0]} is a timed code: how many minutes? Ask like "
                          f"`and 15 min {missing_minutes[0]}`.", query=req.text)
        chosen, notes, payer = before, (), previous.get("payer")
        if follow.rule:
            try:
                chosen = self.resolve_rule(req.rule or rule)
            except UnknownRule as exc:
                return Answer("error", escape(str(exc)), query=req.text)
            payer = req.payer
            notes = self._notes(req, chosen)
            changes.append(f"for {escape(req.payer)}" if req.payer and not req.rule else f"under the {chosen.title}")
        lead = f"_{same}, {' and '.join(changes)}:_"
        return self.work_out([(visits[0][0], pairs)] if len(visits) == 1 else visits, chosen, lead=lead,
                             notes=notes, query=req.text, payer=payer)

    def _is_units_request(self, req: Request) -> bool:
        """Units or question? Notes ("40 min 97140", "97010") are units; questions that merely
        mention minutes ("does a unit need a full 15 min?") go to the knowledge base."""
        note = all(w in _UNIT_WORDS for w in req.leftover_words)  # only codes, minutes and filler words
        if req.reverse_units is not None or (req.visits and req.segments):
            return True
        if req.claimed_units is not None and req.has_minutes:
            return True  # "billed 4 units for 50 min": check the claim
        if any(p.kind in _READ_PROBLEMS for p in req.problems) and (
                req.has_minutes or any(p.kind == "ask_code" for p in req.problems)):
            return True  # "30 min NMT", "40 min 12345", "10:30 97124": say what needs asking
        if any(p.kind in ("negative", "too_long") for p in req.problems) and (req.segments or note):
            return True  # a note with impossible minutes gets told so; "is a 600 hour program enough?" is a question
        if req.has_minutes:
            if not req.segments and not note:  # "how many units is 40 minutes?" but not "13 of 15 min in WA?"
                return bool(_HOW_MANY_UNITS.search(req.text))
            if note or _HOW_MANY_UNITS.search(req.text):
                return True
            if _MINUTES_STATE_A_RULE.search(req.text):
                return False
            if not _asking_words(req):
                return True  # "40 min 97140, is that right?": a note to check
            if not req.is_question:
                return True
            if _CODING_RULE.search(req.text) or (
                _CODE_CHOICE.search(req.text) and not any(s.said.isdigit() for s in req.segments)
            ):
                return False
            if any(s.minutes is None and self.codes.codes[s.code].timed for s in req.segments):
                return False  # "can I count the same 15 minutes toward 97124 and 97112?"
            return any(w in _BILLING_WORDS for w in req.leftover_words)
        if req.is_question or not (req.segments or req.retired_codes or req.unknown_codes):
            return False
        return note  # a bare note of codes ("97010", "97124 97010 please"); a sentence is a question

    # -- units --------------------------------------------------------------------------------------
    def _units(self, req: Request, rule: Rule) -> Answer:
        error = self._input_error(req, rule)
        if error:
            return error
        if req.reverse_units is not None and not req.has_minutes:
            return self._reverse(req, rule)
        if not req.segments:
            return self._minutes_only(req, rule)
        visits = [(v.label, [(s.code, s.minutes) for s in v.segments]) for v in req.visits] or [
            ("", [(s.code, s.minutes) for s in req.segments])]
        return self.work_out(visits, rule, claimed=req.claimed_units, notes=self._notes(req, rule), query=req.text,
                             payer=req.payer, warnings=req.technique_warnings)

    def work_out(self, visits: list[tuple[str, list[tuple[str, int | None]]]], rule: Rule, *,
                 claimed: int | None = None, notes: tuple[str, ...] = (), lead: str = "", query: str = "",
                 payer: str | None = None, warnings: tuple[str, ...] = ()) -> Answer:
        """The units of one visit, or of each visit on its own: `visits` is [(label, [(code, minutes)])].

        Also what a follow-up calls with the previous question changed (`lead` says what was carried)."""
        extra = warnings
        codes = self.codes.codes
        done = []
        for label, pairs in visits:
            items = [Item(code, minutes, codes[code].timed) for code, minutes in pairs]
            alloc = allocate(items, rule)
            done.append((label, items, alloc, self._unit_warnings(alloc)))
        state = {"rule": rule.name, "payer": payer,
                 "visits": [{"label": label, "lines": [[it.code, it.minutes] for it in items]}
                            for label, items, _, _ in done]}
        if len(done) == 1:
            _, items, alloc, warnings = done[0]
            text = self._units_text(alloc, rule, claimed=claimed)
            other = self._compare(items, rule, alloc)
            if other:
                text += "\n" + other
            lines = tuple(UnitLine(a.code, a.minutes, a.units, a.timed, self.codes.codes[a.code].name)
                          for a in alloc.lines)
            return Answer("units", _join(lead, text, notes), context=self._rule_context(rule),
                          warnings=tuple(dict.fromkeys((*extra, *warnings))), rule=rule.name, total_minutes=alloc.total_minutes,
                          total_units=alloc.total_units, lines=lines, query=query, state=state)

        out_visits, all_lines, all_warnings = [], [], []
        rows = []
        for i, (label, _, alloc, warnings) in enumerate(done):
            lines = tuple([UnitLine(a.code, a.minutes, a.units, a.timed, codes[a.code].name, i) for a in alloc.lines])
            out_visits.append(Visit(label, alloc.total_minutes, alloc.total_units, lines, tuple(warnings)))
            all_lines += lines
            shown = escape(label)
            if warnings:
                all_warnings += [f"{shown}: {w}" for w in warnings]
            detail = ", ".join([
                f"{a.code} {a.minutes} min -> {_plural(a.units)}" if a.timed else f"{a.code} untimed -> 1 unit"
                for a in alloc.lines])
            rows.append(f"• *{shown}*: *{_plural(alloc.total_units)}* ({detail})")
        total_units = sum(v.total_units for v in out_visits)
        total_minutes = sum(v.total_minutes for v in out_visits)
        head = (f"*{_plural(total_units, 'timed unit')}* over {len(done)} visits, each worked out on its own "
                f"under the {rule.title}:")
        text = "\n".join([head, *rows])
        return Answer("units", _join(lead, text, notes), context=self._rule_context(rule),
                      warnings=tuple(dict.fromkeys((*extra, *all_warnings))), rule=rule.name, total_minutes=total_minutes,
                      total_units=total_units, lines=tuple(all_lines), visits=tuple(out_visits), query=query,
                      state=state)

    def _notes(self, req: Request, rule: Rule) -> tuple[str, ...]:
        """What the answer says about how it read the message: payer without a profile, a rule word
        that lost to the payer's profile, technique words and clock times."""
        notes: list[str] = []
        if req.payer:
            profile = self.rules.payers[req.payer.lower()] if req.payer.lower() in self.rules.payers else None
            profile = profile or next((p for p in self.rules.payers.values() if p.name == req.payer), None)
            if profile is not None and profile.rule is None:
                how = " as you asked" if req.rule else "; ask the payer which method it uses"
                notes.append(f"No profile for {escape(req.payer)}: {rule.title} used{how}.")
            elif profile is not None:
                lost = [w for w in req.rule_said if self.rules.words.get(w.lower()) not in (None, rule.name)]
                if lost:
                    notes.append(f"{escape(req.payer)} claims follow the {rule.title}, so I used it, not "
                                 f"{', '.join(f'`{escape(w)}`' for w in lost)}.")
        return tuple(notes) + req.notes

    def _input_error(self, req: Request, rule: Rule) -> Answer | None:
        """Input the bot understood to be wrong or can't read with confidence: say what, and how to ask."""
        how = "Ask like `40 min 97140` or `25 min 97124 + 15 min 97140`."
        for p in req.problems:
            if p.kind == "negative":
                return Answer("error", f"Minutes can't be negative (`{escape(p.detail)}`). {how}", query=req.text)
            if p.kind == "too_long":
                return Answer(
                    "error",
                    f"`{escape(p.detail)}` is more than 24 hours, which can't happen on one date of service. {how}",
                    query=req.text,
                )
            if p.kind == "retired_code":
                r = self.codes.retired[p.detail]
                reps = " or ".join(f"{c} ({self.codes.codes[c].name})" for c in r.replacements)
                return Answer("error", f"{r.note} Did you mean {reps}? {how}", query=req.text,
                              suggestions=tuple(Suggestion(c, self.codes.codes[c].name) for c in r.replacements))
            if p.kind in ("unknown_code", "almost_code"):
                return self._unknown_code(p.detail, req.text, how)
            if p.kind == "outside_code":
                return Answer(
                    "no_match",
                    f"`{escape(p.detail)}` is outside what I cover ({self.codes.outside_name(p.detail)}): I work out "
                    "massage and physical-medicine units. Ask your billing office or the payer about that code.",
                    context=(DISCLAIMER,), query=req.text)
            if p.kind == "ask_code":
                t = self.codes.techniques[p.detail]
                choices = " or ".join(f"`30 min {c}`" for c in t.ask[:2])
                return Answer("error", f"{t.note} Ask again with the code, e.g. {choices}.", query=req.text,
                              suggestions=tuple(Suggestion(c, self.codes.codes[c].name) for c in t.ask))
            if p.kind == "unsure_time":
                return Answer(
                    "error",
                    f"I can't tell how long `{escape(p.detail)}` is: a time of day, or a duration? Give the minutes "
                    "(`45 min 97124`) or the start and end (`2:00-2:45 97124`).",
                    query=req.text)
            if p.kind == "rule_conflict":
                return Answer("error", f"You named more than one rule or payer ({escape(p.detail)}): which one applies? "
                              "Ask again with one, e.g. `40 min 97140 ama`.", query=req.text)
        for v in req.visits or (None,):
            segments = v.segments if v else req.segments
            loose = v.loose_minutes if v else req.loose_minutes
            timed_total = sum(s.minutes or 0 for s in segments if self.codes.codes[s.code].timed)
            where = f" for {escape(v.label)}" if v else ""
            if timed_total + sum(loose) > MAX_MINUTES:
                return Answer("error", f"That adds up to more than 24 hours on one day{where}. {how}", query=req.text)
            if v and loose:
                return Answer("error", f"Which code are the {sum(loose)} min{where}? Ask like "
                              f"`{escape(v.label)}: {sum(loose)} min 97124`.", query=req.text)
        missing = [s for s in req.segments if s.minutes is None and self.codes.codes[s.code].timed]
        if missing and (req.reverse_units is None or req.has_minutes):
            names = ", ".join(f"{s.code} ({self.codes.codes[s.code].name})" for s in dict.fromkeys(missing))
            example = f"{30 if len(missing) == 1 else 20} min {missing[0].code}"
            return Answer(
                "error",
                f"{names} {'is a timed code' if len(missing) == 1 else 'are timed codes'}: how many minutes? "
                f"Ask like `{example}`.",
                query=req.text,
            )
        return None

    def _unknown_code(self, code: str, text: str, how: str) -> Answer:
        close = self.codes.nearest(code)
        if close:
            hint = " Did you mean " + " or ".join(f"{c} ({self.codes.codes[c].name})" for c in close) + "?"
        else:
            close = list(self.codes.massage_codes)
            hint = " The massage codes are " + ", ".join(f"{c} ({self.codes.codes[c].name})" for c in close) + "."
        msg = (
            f"`{escape(code)}` is not a code I know, so I counted nothing for it (its minutes don't go to another "
            f"code).{hint} I cover massage and physical-medicine codes (`billing-bot codes` or `/units codes`). {how}"
        )
        return Answer("error", msg, query=text, suggestions=tuple(Suggestion(c, c) for c in close))

    def _unit_warnings(self, alloc: Allocation) -> list[str]:
        """What to flag about one visit's units: code pairs, code notes, untimed minutes, implausible
        totals, ties, codes left without a unit and the payer's cap (in that order). One pass over
        the lines: every visit of a 200-visit note comes through here."""
        codes = self.codes.codes
        rule = alloc.rule
        lines = alloc.lines
        warnings: list[str] = [c.note for c in self.codes.conflicts_among(line.code for line in lines)]
        no_unit: list[str] = []
        capped = 0
        for line in lines:
            code = codes[line.code]
            if code.warning:
                warnings.append(code.warning)
            if not line.timed:
                if line.minutes:
                    warnings.append(
                        f"{line.code} is untimed: it bills 1 unit whatever the minutes, and its {line.minutes} min "
                        "don't count toward the timed total (document them as total treatment time)."
                    )
                continue
            capped += line.capped
            if line.units == 0 and rule.method == "total" and (line.minutes or 0) >= rule.threshold:
                no_unit.append(
                    f"{line.code} gets no unit even with {line.minutes} min: total timed minutes limit the units. "
                    "Still document it in your notes."
                )
        if alloc.total_minutes > PLAUSIBLE_MINUTES:
            warnings.append(
                f"{alloc.total_minutes} timed minutes is more than {PLAUSIBLE_MINUTES // 60} hours of one-on-one "
                "treatment for one patient on one day: check the minutes (a typo, or a clock time?)."
            )
        if alloc.tied:
            warnings.append(
                f"{', '.join(alloc.tied)} tie for the extra unit (same leftover minutes): under CMS you choose which "
                "one gets it; I gave it to the longer service, or the one you listed first."
            )
        warnings += no_unit
        if capped:
            warnings.append(
                f"{rule.title}: {capped} unit{'s' if capped != 1 else ''} over the {rule.cap}-unit visit "
                "limit won't be paid. The payer pays the units in claim-line order, so list the most important first."
            )
        return warnings

    def _units_text(self, alloc: Allocation, rule: Rule, *, claimed: int | None = None) -> str:
        timed = [line for line in alloc.lines if line.timed]
        untimed = [line for line in alloc.lines if not line.timed]
        th = rule.threshold
        parts: list[str] = []
        name = self.codes.codes
        if claimed is not None:
            parts.append(self._claim_verdict(claimed, alloc.total_units, alloc.total_minutes, rule))
        if len(timed) == 1 and not untimed:
            line = timed[0]
            head = f"*{_plural(line.units)}* of {line.code} ({name[line.code].name}) for {line.minutes} min"
            parts.append(f"{head} under the {rule.title}.")
        elif timed:
            parts.append(
                f"*{_plural(alloc.total_units, 'timed unit')}* for {alloc.total_minutes} timed minutes "
                f"under the {rule.title}:"
            )
        else:
            total_units = sum(line.units for line in untimed)
            parts.append(f"*{_plural(total_units)}* under the {rule.title}:")

        if timed:
            t = alloc.total_minutes if rule.method == "total" else None
            if t is not None:
                u = units_for(t, th)
                parts.append(f"• {t} min -> {_plural(u)} ({_range(u, th)}).")
            if len(timed) > 1 or untimed or rule.method == "per_code":
                for line in timed:
                    parts.append(f"• {line.code} {name[line.code].name}: {line.minutes} min -> *{_plural(line.units)}*"
                                 f" ({self._why(line, rule)})")
            if claimed is not None and claimed > alloc.total_units:
                pass  # asked about billing more than was done: no "N more minutes" line
            elif rule.cap is not None and alloc.uncapped_units > alloc.total_units:
                pass  # the "Capped at" line says it
            elif rule.cap is not None and alloc.uncapped_units >= rule.cap:
                parts.append(f"• {rule.cap} timed units is this payer's visit limit: more minutes add no paid unit.")
            elif t is not None:
                nxt = minutes_range(units_for(t, th) + 1, th)[0]
                parts.append(f"• The next unit starts at {nxt} total timed minutes (bill only documented time).")
            elif len(timed) == 1:
                line = timed[0]
                nxt = minutes_range(units_for(line.minutes or 0, th) + 1, th)[0]
                parts.append(f"• The next unit of {line.code} starts at {nxt} min (bill only documented time).")
        for line in untimed:
            parts.append(f"• {line.code} {name[line.code].name}: untimed -> *1 unit* (minutes don't count)")
        if rule.cap is not None and alloc.uncapped_units > alloc.total_units:
            parts.append(f"• Capped at {rule.cap} timed units per visit (from {alloc.uncapped_units}).")
        return "\n".join(parts)

    @staticmethod
    def _claim_verdict(claimed: int, supported: int, minutes: int, rule: Rule) -> str:
        """A direct yes or no to "billed 4 units for 50 min": the minutes decide, never the other way."""
        if claimed > supported:
            return (f"*No*: {minutes} timed min supports *{_plural(supported)}* under the {rule.title}, not {claimed}. "
                    "Bill only the minutes you treated and documented.")
        if claimed == supported:
            return f"*Yes*: {minutes} timed min supports *{_plural(supported)}*."
        return f"*Yes*: {claimed} is within the *{_plural(supported)}* that {minutes} timed min supports."

    @staticmethod
    def _why(line, rule: Rule) -> str:
        if line.capped:
            return f"{line.capped} over the {rule.cap}-unit visit cap"
        if rule.method == "per_code":
            return f"on its own: {_range(line.units, rule.threshold)}"
        blocks = f"{line.full_blocks} full 15-min block{'s' if line.full_blocks != 1 else ''}"
        if line.extra:
            return f"{blocks} + 1 for its {line.leftover} leftover min"
        if line.leftover >= rule.threshold:
            return f"{blocks}; {line.leftover} leftover min, but the extra unit went to the larger leftover"
        if line.leftover:
            return f"{blocks}; {line.leftover} leftover min not enough for another unit"
        return blocks

    def _compare(self, items: list[Item], rule: Rule, alloc: Allocation) -> str:
        """Show the other standard rule's result when it differs (CMS vs AMA)."""
        if not any(it.timed for it in items):
            return ""
        other_name = "ama" if rule.method == "total" else "cms"
        other = self.rules.get(other_name)
        if other is None or other.name == rule.name:
            return ""
        timed = [it for it in items if it.timed]
        if len({it.code for it in timed}) == 1 and other.threshold == rule.threshold and not (rule.cap or other.cap):
            return ""  # one code: both rules give the same units
        mine = [(a.code, a.units) for a in alloc.lines if a.timed]
        if other.method == "per_code" and other.cap is None:  # cheap: each code on its own
            theirs = [(a.code, units_for(a.minutes, other.threshold)) for a in alloc.lines if a.timed]
            other_total = sum(u for _, u in theirs)
        else:
            alt = allocate(items, other)
            theirs = [(a.code, a.units) for a in alt.lines if a.timed]
            other_total = alt.total_units
        if mine == theirs:
            return ""
        detail = ", ".join(f"{c} {u}" for c, u in theirs)
        return f"_The {other.title} would give {_plural(other_total)} ({detail}). Which rule applies depends on the payer._"

    def _reverse(self, req: Request, rule: Rule) -> Answer:
        n = req.reverse_units
        lo, hi = minutes_range(n, rule.threshold)
        timed = [s.code for s in req.segments if self.codes.codes[s.code].timed]
        untimed = [s.code for s in req.segments if not self.codes.codes[s.code].timed]
        if untimed and not timed:
            c = untimed[0]
            text = f"{c} ({self.codes.codes[c].name}) is untimed: it bills *1 unit* per visit whatever the minutes."
        elif len(set(timed)) == 1:
            c = timed[0]
            text = (f"*{_plural(n)}* of {c} ({self.codes.codes[c].name}) need {lo}-{hi} min of it under the "
                    f"{rule.title}.")
        else:
            scope = "total timed minutes" if rule.method == "total" else "minutes of that code"
            text = f"*{_plural(n)}* need {lo}-{hi} {scope} under the {rule.title}."
        if n == 0:
            text = f"Under {rule.threshold} minutes bills *no unit* under the {rule.title}."
        return Answer("units", text, context=self._rule_context(rule), rule=rule.name,
                      total_minutes=None, total_units=n, query=req.text)

    def _minutes_only(self, req: Request, rule: Rule) -> Answer:
        t = sum(req.loose_minutes)
        u = units_for(t, rule.threshold)
        lines = []
        if req.claimed_units is not None:
            lines.append(self._claim_verdict(req.claimed_units, u, t, rule))
        lines.append(f"*{_plural(u)}*: {t} min -> {_plural(u)} ({_range(u, rule.threshold)}) under the {rule.title}.")
        if req.claimed_units is None or req.claimed_units <= u:
            lines.append(f"The next unit starts at {minutes_range(u + 1, rule.threshold)[0]} min (bill only documented "
                         "time).")
        lines.append("Name the code too for a per-code split, e.g. `40 min 97140`.")
        return Answer("units", _join("", "\n".join(lines), self._notes(req, rule)), context=self._rule_context(rule),
                      rule=rule.name, total_minutes=t, total_units=u, query=req.text)

    def _rule_context(self, rule: Rule) -> tuple[str, ...]:
        ctx = [f"Rule: {rule.title}" + (f" ({rule.source.title})" if rule.source else "")]
        if rule.note:
            ctx.append(rule.note)
        ctx.append(DISCLAIMER)
        return tuple(ctx)

    # -- questions ----------------------------------------------------------------------------------
    def choose(self, text: str, codes=(), *, unknown_codes=(), prefer_state: str | None = None):
        """The entry for a question (a bot.core.match.MatchResult): the matcher's pick, weighed with
        the classifier's opinion (bot.core.decide)."""
        from bot.core.decide import decide

        result = self.matcher.match(text, codes, unknown_codes=unknown_codes, prefer_state=prefer_state)
        return decide(result, lambda: self.classifier.scores(text), self.matcher.entry, learnt=self._learnt_labels,
                      unknown_codes=bool(unknown_codes), preferred_state=prefer_state)

    def _faq(self, req: Request, state: str | None = None) -> Answer:
        # Codes outside the code table: KB entries may only name table codes (kb check), and the
        # matcher itself ignores any an approved draft has since taught it.
        unknown = req.unknown_codes
        result = self.choose(req.text, req.codes, unknown_codes=unknown, prefer_state=state)
        suggestions = tuple(Suggestion(m.entry.id, m.entry.question) for m in result.candidates[:3])
        if result.best is None:
            if unknown:
                text = (f"I don't have anything on code {', '.join(f'`{escape(c)}`' for c in unknown)}: "
                        "I cover massage and physical-medicine billing.")
            else:
                text = "I'm not sure I know the answer to that, and I'd rather not guess."
            if suggestions:
                text += " Did you mean one of these?\n" + "\n".join(f"• {escape(s.question)}" for s in suggestions)
            text += "\nFor units, ask like `40 min 97140`." + (f" {self.logged_note}" if self.logged_note else "")
            return Answer("no_match", text, context=(DISCLAIMER,), suggestions=suggestions, query=req.text)
        entry = result.best.entry
        others = tuple(s for s in suggestions if s.id != entry.id)
        return self._entry_answer(entry, round(result.best.score, 1), others, req.text)

    def answer_entry(self, entry_id: str, *, query: str = "") -> Answer | None:
        """The answer an entry gives, as if the matcher had picked it (a "did you mean" button
        clicked, an asker told their question now has an answer); None for an unknown id."""
        entry = self.matcher.entry(entry_id)
        return None if entry is None else self._entry_answer(entry, None, (), query)

    @staticmethod
    def _entry_answer(entry, score, others, query: str) -> Answer:
        sources = tuple(Source(s.title, s.url, s.kind, s.date) for s in entry.sources)
        context = [f"Source: {sources[0].title}" if sources else "", _checked(entry.last_verified, sources), DISCLAIMER]
        return Answer("faq", f"*{escape(entry.question)}*\n{entry.answer.strip()}",
                      context=tuple(c for c in context if c), id=entry.id, score=score,
                      sources=sources, suggestions=others, query=query)

    def help(self, text: str = "") -> Answer:
        rule = self.resolve_rule(None)
        examples = "\n".join(f"• `{e}`" for e in HELP_EXAMPLES)
        body = (
            "I work out 15-minute billing units and answer massage-therapy billing questions.\n"
            f"Tell me minutes and codes (or names like _massage_, _manual therapy_, _NMR_), or ask a question:\n"
            f"{examples}\n"
            f"Default rule: {rule.title}. Add `ama`, `cms` or a payer profile "
            f"({', '.join(n for n in self.rules.names() if n not in ('cms', 'ama'))}) to a message to use another."
        )
        return Answer("help", body, context=(DISCLAIMER,), query=text)

    # -- other ways in (the Slack shortcut and form) ------------------------------------------------
    def count(self, message: str, *, rule: str | None = None, rule_from: str | None = None) -> Answer | None:
        """Units only ("Count units" on a colleague's note): the minutes and codes a message names,
        worked out even when it reads like a question. None when it names neither."""
        req = self.parser.parse(message)
        if not (req.segments or req.has_minutes or req.problems or req.reverse_units is not None):
            return None
        try:
            chosen = self.resolve_rule(req.rule or rule)
        except UnknownRule as exc:
            return Answer("error", escape(str(exc)), query=req.text)
        return _rule_origin(self._units(req, chosen), RULE_IN_MESSAGE if req.rule else rule_from)

    def answer_rows(
        self, rows: list[tuple[str, int | None]], *, rule: str | None = None, rule_from: str | None = None
    ) -> Answer:
        """Units for rows of (code, minutes) from a form. The caller has checked each row (a code
        of the table, whole minutes 0-1440); the same code twice is summed, as in a message."""
        text = " + ".join(f"{m} min {c}" if m is not None else c for c, m in rows)
        req = Request(text=text, segments=tuple(Segment(c, m, c) for c, m in rows))
        return _rule_origin(self._units(req, self.resolve_rule(rule)), rule_from)


RULE_IN_MESSAGE = "the message"


def _asking_words(req: Request) -> list[str]:
    """The message's words beyond codes, minutes, filler and a check ("is that right?")."""
    return [w for w in req.leftover_words if w not in _UNIT_WORDS and w not in _CHECKING_WORDS]


def _times_not_added(decline: Answer) -> Answer:
    """A decline for a question whose several times read like a story, not one session's minutes."""
    lead = ("Your message gives several times, so I haven't added them up: bill only the minutes you "
            "treated, and send them like `50 min 97124` for the units.\n")
    return replace(decline, text=lead + decline.text)


def _rule_origin(answer: Answer, origin: str | None) -> Answer:
    """Say where the rule came from on the context line's "Rule:" item (message, person, channel,
    default), so nobody has to guess why a channel's rule was or wasn't used."""
    if not origin or not answer.context or not answer.context[0].startswith("Rule: "):
        return answer
    return replace(answer, context=(f"{answer.context[0]} · rule from {origin}", *answer.context[1:]))
