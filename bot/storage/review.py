"""The review desk: what needs a reviewer's eye, and what reviewers can do about it.

The queue comes from the query log (unanswered, low-confidence and not-helpful questions)
plus knowledge-base entries past their `review_by` date. Reviewers link a question to an
entry (it becomes one of the entry's phrasings), draft new entries, approve a colleague's
draft (never their own) and dismiss items. Links and approved drafts form an *overlay* on
the knowledge base that answers at once (the caller's `on_change` rebuilds its matcher)
until `export` writes it to knowledge/ YAML for the team to commit.

Changes are kept in memory (reads are consistent at once) and written through the query
log's writer, so a locked database delays them but loses nothing. Every action, allowed or
not, is recorded in `review_actions`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from bot.core.kb import same_text_key
from bot.storage.clusters import CLUSTERED_KINDS, Cluster, cluster_items
from bot.storage.querylog import UPSERT, QueryLog, dumps, utc_now

KINDS = ("not_helpful", "no_match", "low_confidence", "review_due")
REVIEW_EVERY = timedelta(days=365)  # review_by of an exported entry, counted from approval
# On tests/eval, FAQ answers scoring below 70 hold 12 of the 14 wrong matches (and 32 of 210 right ones).
LOW_CONFIDENCE = 70.0
_DENIED = "Only reviewers can do that (BILLING_BOT_REVIEWERS)."
_KEEP = object()  # propose_edit: leave this field as it is


class ExportError(Exception):
    """The exported entries would not load as knowledge-base entries (nothing was written)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("export would break the knowledge base:\n" + "\n".join(problems))


@dataclass(frozen=True)
class ReviewItem:
    """One thing in the review queue. `id` is what `dismiss` takes."""

    id: str  # a query id, or "due:<entry-id>:<review_by>" for an entry past its review date
    kind: str  # not_helpful | no_match | low_confidence | review_due
    text: str  # the question as logged (redacted), or the entry's question
    query_id: str | None = None
    entry_id: str | None = None  # the entry the bot answered with, or the entry to review
    score: float | None = None
    ts: str | None = None
    detail: str = ""  # "score 62", "not helpful: wrong code", "review by 2026-01-01"


@dataclass(frozen=True)
class ReviewResult:
    ok: bool
    message: str
    id: str | None = None  # the draft id for `draft`


class ReviewDesk:
    """Review queue and overlay over a `QueryLog`'s database. Thread-safe."""

    def __init__(
        self,
        log: QueryLog,
        reviewers: frozenset[str],
        *,
        on_change: Callable[[], None] | None = None,
        low_confidence: float = LOW_CONFIDENCE,
        entry_ids: Callable[[], Iterable[str]] | None = None,
        normalise: Callable[[str], str] | None = None,
        suggest: Callable[[str], str | None] | None = None,
        lookup: Callable[[str], object | None] | None = None,
        os_user: str | None = None,
    ):
        """
        :param on_change: called after the overlay changes (a link, an approval, an export, a
          `reload` that found changes), so the caller can update its matcher: `apply_to(matcher)`.
        :param low_confidence: FAQ answers scoring below this are queued for review.
        :param entry_ids: the knowledge base's entry ids; when given, `link` checks against it
          and draft ids avoid them.
        :param normalise: question -> the words that matter (the matcher's `normalised`): how
          near-identical questions are clustered. Default: case and spacing ignored.
        :param suggest: question -> the entry the matcher ranks first (a cluster's candidate
          when nobody picked one).
        :param lookup: entry id -> the entry as it is now (a `bot.core.kb.Entry` or a FAQ dict):
          what "Verify" and "Propose edit" start from.
        :param os_user: the operating-system account acting (the CLI): recorded beside the
          reviewer name in every audit row, since the CLI's `--as` is taken on trust.
        """
        self.log = log
        self.reviewers = self._listed = frozenset(reviewers)
        self.on_change = on_change
        self.low_confidence = low_confidence
        self.entry_ids = entry_ids
        self.normalise = normalise or same_text_key
        self.suggest = suggest
        self.lookup = lookup
        self.os_user = os_user
        self._lock = threading.RLock()
        self._phrasings: dict[tuple[str, str], dict] = {}  # (entry_id, lowercased text) -> row
        self._drafts: dict[str, dict] = {}
        self._dismissed: set[str] = set()
        self._picks: dict[str, str] = {}  # query id -> entry picked from "did you mean"
        self._verified: dict[str, dict] = {}  # entry id -> verifications row
        self._edits: dict[str, dict] = {}  # edit id -> edits row
        self._applied: dict[int, set[tuple[str, str]]] = {}  # per matcher: what apply_to added
        self._reload()

    # -- state ----------------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the overlay from the database: another process (the CLI) may have changed it.
        When this process's own writes are not all on disk yet, its rows win. True (and
        `on_change` called) if the answering overlay (links, approved entries) changed."""
        changed = self._reload()
        if changed:
            self._changed()
        return changed

    def _reload(self) -> bool:
        with self._lock:  # held throughout, so no action lands between the read and the merge
            written = self.log.flush(1.0)
            try:
                with self.log.open_db() as db:
                    phrasings = list(db.table("phrasings").rows_where(order_by="ts"))
                    drafts = list(db.table("drafts").rows_where(order_by="drafted_at"))
                    dismissed = [r["item_id"] for r in db.table("dismissals").rows]
                    picks = list(db.table("picks").rows_where(order_by="ts"))
                    verified = list(db.table("verifications").rows)
                    edits = list(db.table("edits").rows_where(order_by="proposed_at"))
            except Exception:
                return False
            before = (self.overlay_phrasings(), self.approved_entries(), self.changed_entries())
            if written:
                self._phrasings, self._drafts, self._verified, self._edits = {}, {}, {}, {}
            for row in phrasings:
                self._phrasings.setdefault((row["entry_id"], row["text"].lower()), row)
            for row in drafts:
                self._drafts.setdefault(row["id"], row)
            self._dismissed.update(dismissed)
            for row in picks:
                self._picks.setdefault(row["query_id"], row["entry_id"])
            for row in verified:
                self._verified.setdefault(row["entry_id"], row)
            for row in edits:
                self._edits.setdefault(row["id"], row)
            return (self.overlay_phrasings(), self.approved_entries(), self.changed_entries()) != before

    def set_group_reviewers(self, members: Iterable[str]) -> None:
        """The reviewer user group's members now (BILLING_BOT_REVIEWER_GROUP), on top of the
        listed reviewers; whoever left the group stops being a reviewer."""
        self.reviewers = self._listed | frozenset(members)

    def is_reviewer(self, user_id: str | None) -> bool:
        return user_id in self.reviewers

    def overlay_phrasings(self) -> list[tuple[str, str]]:
        """(entry_id, phrasing) linked so far and not yet exported, oldest first."""
        with self._lock:
            return [(r["entry_id"], r["text"]) for r in self._phrasings.values() if not r.get("exported_at")]

    def approved_entries(self) -> list[dict]:
        """Approved, not yet exported drafts as FAQ-schema dicts."""
        with self._lock:
            return [_faq_entry(d) for d in self._drafts.values() if d["status"] == "approved"]

    def changed_entries(self) -> list[dict]:
        """Existing entries as approved edits and verifications left them (not yet exported), as
        FAQ dicts: an edit's fields, then a later verification's dates on top."""
        with self._lock:
            out: dict[str, dict] = {}
            for e in sorted(self._edits.values(), key=lambda r: r.get("approved_at") or ""):
                if e["status"] == "approved":
                    out[e["entry_id"]] = json.loads(e["entry"])
            for entry_id, v in self._verified.items():
                if v.get("exported_at"):
                    continue
                base = out.get(entry_id) or _as_dict(self.lookup(entry_id) if self.lookup else None)
                if base is not None:
                    out[entry_id] = {**base, "last_verified": v["last_verified"], "review_by": v["review_by"]}
            return list(out.values())

    def apply_to(self, matcher) -> int:
        """Teach a `bot.core.match.Matcher` the overlay it hasn't seen yet: approved entries
        (`add_entry`, idempotent) and linked phrasings (`add_phrasing`, once each). Call it at
        start and from `on_change`. Returns how many things were added."""
        from bot.core.kb import Entry

        with self._lock:
            applied = self._applied.setdefault(id(matcher), set())
            added = 0
            for entry in self.approved_entries():
                if ("entry", entry["id"]) not in applied:
                    matcher.add_entry(Entry.model_validate(entry))
                    applied.add(("entry", entry["id"]))
                    added += 1
            for entry in self.changed_entries():
                key = ("changed", entry["id"], json.dumps(entry, sort_keys=True, default=str))
                if key in applied:
                    continue
                try:
                    matcher.replace_entry(Entry.model_validate(entry))
                except KeyError:
                    continue
                applied.add(key)
                added += 1
            for entry_id, text in self.overlay_phrasings():
                if (entry_id, text.lower()) in applied:
                    continue
                try:
                    matcher.add_phrasing(entry_id, text)
                except KeyError:  # linked to an entry this matcher doesn't have (yet)
                    continue
                applied.add((entry_id, text.lower()))
                added += 1
            return added

    def drafts(self, status: str | None = "draft") -> list[dict]:
        """Drafts (as stored rows, codes/sources decoded) with this status; None for all."""
        with self._lock:
            rows = [d for d in self._drafts.values() if status is None or d["status"] == status]
        return [{**d, "codes": json.loads(d["codes"]), "sources": json.loads(d["sources"])} for d in rows]

    # -- the queue ------------------------------------------------------------------------------------
    def queue(
        self, *, limit: int = 20, kb_entries: Iterable = (), today: date | None = None
    ) -> list[ReviewItem]:
        """What needs review, most urgent first: not-helpful feedback, unanswered questions,
        low-confidence answers, then entries past `review_by` (from `kb_entries`: objects or
        dicts with id, question, review_by)."""
        with self._lock:
            skip = set(self._dismissed)
            skip.update(r["query_id"] for r in self._phrasings.values() if r.get("query_id"))
            skip.update(d["query_id"] for d in self._drafts.values() if d.get("query_id"))
        items = [item for item in self._query_items(limit + len(skip)) if item.id not in skip][:limit]
        return items + self.due(kb_entries, today=today, limit=limit - len(items))

    def due(self, kb_entries: Iterable = (), *, today: date | None = None, limit: int = 1000) -> list[ReviewItem]:
        """Entries past `review_by` (after any verification on the desk), longest overdue first."""
        today = today or date.today()
        with self._lock:
            skip = set(self._dismissed)
        items = []
        with self._lock:
            verified = {k: v["review_by"] for k, v in self._verified.items()}
        for entry in kb_entries:
            review_by = _date(verified.get(_field(entry, "id")) or _field(entry, "review_by"))
            if review_by is None or review_by > today:
                continue
            item_id = f"due:{_field(entry, 'id')}:{review_by.isoformat()}"
            if item_id not in skip:
                items.append(
                    ReviewItem(
                        item_id,
                        "review_due",
                        _field(entry, "question") or "",
                        entry_id=_field(entry, "id"),
                        detail=f"review by {review_by.isoformat()}",
                    )
                )
        items.sort(key=lambda i: i.detail)
        return items[: max(limit, 0)]

    def _query_items(self, limit: int) -> list[ReviewItem]:
        sql = """
            select q.id, q.ts, q.text, q.kind, q.entry_id, q.score, f.reason,
              f.query_id is not null as unhelpful
            from queries q
            left join (
              select query_id, max(reason) as reason from feedback where not helpful group by query_id
            ) f on f.query_id = q.id
            where (q.kind = 'no_match' or (q.kind = 'faq' and q.score < :low) or f.query_id is not null)
              and q.id not in (select item_id from dismissals)
              and q.id not in (select query_id from phrasings where query_id is not null)
              and q.id not in (select query_id from drafts where query_id is not null)
            order by
              case when f.query_id is not null then 0 when q.kind = 'no_match' then 1 else 2 end,
              q.ts desc
            limit :limit
        """
        try:
            with self.log.open_db() as db:
                rows = list(db.query(sql, {"low": self.low_confidence, "limit": limit}))
        except Exception:
            return []
        items = []
        for r in rows:
            if r["unhelpful"]:
                kind, detail = "not_helpful", "not helpful" + (f": {r['reason']}" if r["reason"] else "")
            elif r["kind"] == "no_match":
                kind, detail = "no_match", "no answer"
            else:
                kind, detail = "low_confidence", f"score {r['score']:.0f} for {r['entry_id']}"
            items.append(
                ReviewItem(
                    r["id"],
                    kind,
                    r["text"] or "",
                    query_id=r["id"],
                    entry_id=r["entry_id"],
                    score=r["score"],
                    ts=r["ts"],
                    detail=detail,
                )
            )
        return items

    # -- actions --------------------------------------------------------------------------------------
    def link(self, user_id: str, query_id: str, entry_id: str) -> ReviewResult:
        """Make a logged question one of an entry's phrasings (answers from the next question)."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "link", f"{query_id}->{entry_id}")
        if not self._entry_exists(entry_id):
            return self._done(
                user_id, "link", query_id, False, f"No entry {entry_id!r} in the knowledge base."
            )
        ok, message = self._link_one(user_id, query_id, entry_id)
        result = self._done(user_id, "link", f"{query_id}->{entry_id}" if ok else query_id, ok, message)
        if ok:
            self._changed()
        return result

    def _link_one(self, user_id: str, query_id: str, entry_id: str) -> tuple[bool, str]:
        text = self._query_text(query_id)
        if text is None:
            return False, f"No question {query_id!r} in the log."
        if not text.strip():
            return False, "That question's text was not stored (BILLING_BOT_STORE_TEXT=0), so it can't be linked."
        key = (entry_id, text.lower())
        with self._lock:
            existing = self._phrasings.get(key)
            if existing and not existing.get("exported_at"):
                return True, f"Already linked to {entry_id}."
            row = {
                "entry_id": entry_id,
                "text": text,
                "query_id": query_id,
                "linked_by": user_id,
                "ts": utc_now(),
                "exported_at": None,
            }
            self._phrasings[key] = row
        self.log.enqueue("phrasings", row, UPSERT)
        return True, f"Linked “{text}” to {entry_id}; it answers from the next question."

    # -- clusters and picks ---------------------------------------------------------------------------
    def record_pick(self, user_id: str, query_id: str, entry_id: str) -> ReviewResult:
        """Someone picked `entry_id` from a "did you mean" under `query_id`: explicit feedback
        (one row per person per question; a second click replaces the first). Not a review
        action, so anyone may; the question must still be in the log."""
        if not entry_id or not self._entry_exists(entry_id):
            return ReviewResult(False, "That topic is no longer in the knowledge base.")
        if self._query_text(query_id) is None:
            return ReviewResult(False, "That question is no longer in my log (it may have expired).")
        row = {"query_id": query_id, "user_id": user_id, "entry_id": entry_id, "ts": utc_now()}
        with self._lock:
            self._picks[query_id] = entry_id
        self.log.enqueue("picks", row, UPSERT)
        return ReviewResult(True, f"picked {entry_id}")

    def picks(self) -> dict[str, str]:
        """query id -> the entry picked for it (the latest pick)."""
        with self._lock:
            return dict(self._picks)

    def clusters(self, *, limit: int = 2000, suggest_for: int = 30) -> list[Cluster]:
        """The queue's questions (unanswered, not helpful, low confidence) grouped, biggest first.
        The first `suggest_for` clusters nobody picked an entry for get the matcher's candidate."""
        self.log.flush(1.0)  # the question asked a moment ago belongs in its cluster
        skip = self._skipped()
        items = [i for i in self._query_items(limit + len(skip)) if i.id not in skip]
        clusters = cluster_items(
            [i for i in items if i.kind in CLUSTERED_KINDS][:limit], self.normalise, picks=self.picks()
        )
        if self.suggest is not None:
            for n, c in enumerate(clusters[:suggest_for]):
                if c.candidate is None and c.newest.text:
                    clusters[n] = Cluster(c.items, self.suggest(c.newest.text), 0)
        return clusters

    def cluster_of(self, query_id: str) -> list[str]:
        """The query ids of the cluster `query_id` is in now (just it when it is in none)."""
        for c in self.clusters():
            if query_id in c.query_ids:
                return c.query_ids
        return [query_id]

    def link_cluster(self, user_id: str, query_id: str, entry_id: str) -> ReviewResult:
        """Link every question of `query_id`'s cluster to an entry: one action, one audit row."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "link", f"{query_id}->{entry_id}")
        if not self._entry_exists(entry_id):
            return self._done(
                user_id, "link", query_id, False, f"No entry {entry_id!r} in the knowledge base."
            )
        ids = self.cluster_of(query_id)
        results = [self._link_one(user_id, q, entry_id) for q in ids]
        linked = sum(1 for ok, _ in results if ok)
        if len(ids) == 1:
            ok, message = results[0]
        else:
            ok, message = linked > 0, f"Linked {linked} of {len(ids)} questions to {entry_id}; they answer from the next question."
        result = self._done(user_id, "link", f"{query_id}->{entry_id} ({len(ids)})", ok, message)
        if linked:
            self._changed()
        return result

    def dismiss_cluster(self, user_id: str, query_id: str) -> ReviewResult:
        """Take every question of `query_id`'s cluster off the queue: one audit row."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "dismiss", query_id)
        if not query_id.startswith("q"):
            return self.dismiss(user_id, query_id)
        ids = self.cluster_of(query_id)
        now = utc_now()
        with self._lock:
            self._dismissed.update(ids)
        for q in ids:
            self.log.enqueue("dismissals", {"item_id": q, "user_id": user_id, "ts": now}, UPSERT)
        message = "Dismissed." if len(ids) == 1 else f"Dismissed {len(ids)} questions."
        return self._done(user_id, "dismiss", f"{query_id} ({len(ids)})", True, message)

    # -- verification and edits -----------------------------------------------------------------------
    def verify(self, user_id: str, entry_id: str, *, today: date | None = None) -> ReviewResult:
        """The entry is still right: `last_verified` becomes today and `review_by` moves on by
        the entry's own interval (a year when it has none). Live now, written by `export`."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "verify", entry_id)
        entry = self._current(entry_id)
        if entry is None:
            return self._done(user_id, "verify", entry_id, False, f"No entry {entry_id!r} in the knowledge base.")
        today = today or date.today()
        last, due = _date(entry.get("last_verified")), _date(entry.get("review_by"))
        every = (due - last) if last and due and due > last else REVIEW_EVERY
        row = {
            "entry_id": entry_id,
            "last_verified": today.isoformat(),
            "review_by": (today + every).isoformat(),
            "verified_by": user_id,
            "ts": utc_now(),
            "exported_at": None,
        }
        with self._lock:
            self._verified[entry_id] = row
        self.log.enqueue("verifications", row, UPSERT)
        result = self._done(
            user_id, "verify", entry_id, True, f"Verified {entry_id}; next review by {row['review_by']}."
        )
        self._changed()
        return result

    def propose_edit(
        self,
        user_id: str,
        entry_id: str,
        *,
        question: str | None = None,
        answer: str | None = None,
        codes: Iterable[str] | None = None,
        sources: Iterable | None = None,
        state: str | None | object = _KEEP,
        query_id: str | None = None,
    ) -> ReviewResult:
        """Propose new text, sources, codes or state for an existing entry; a second reviewer
        approves it (`approve(edit_id)`) before it answers."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "propose_edit", entry_id)
        entry = self._current(entry_id)
        if entry is None:
            return self._done(user_id, "propose_edit", entry_id, False, f"No entry {entry_id!r} in the knowledge base.")
        new = dict(entry)
        if question is not None and question.strip():
            new["question"] = question.strip()
        if answer is not None and answer.strip():
            new["answer"] = answer.strip()
        if codes is not None:
            new["codes"] = [str(c).strip() for c in codes if str(c).strip()]
        if sources is not None:
            # a source whose URL the entry already cites keeps its kind and date
            known = {src.get("url"): src for src in entry.get("sources") or []}
            new["sources"] = [
                {**known[src["url"]], "title": src["title"]} if src["url"] in known else src
                for src in map(_source, sources)
            ]
        if state is not _KEEP:
            new["state"] = state or None
        problem = _entry_problem(new)
        if problem:
            return self._done(user_id, "propose_edit", entry_id, False, f"Not proposed: {problem}")
        if _comparable(new) == _comparable(entry):
            return self._done(user_id, "propose_edit", entry_id, False, "Nothing changed.")
        with self._lock:
            edit_id = unique_slug(f"edit {entry_id}", set(self._edits))
            row = {
                "id": edit_id,
                "entry_id": entry_id,
                "entry": dumps(_jsonable(new)),
                "proposed_by": user_id,
                "proposed_at": utc_now(),
                "query_id": query_id,
                "status": "draft",
                "approved_by": None,
                "approved_at": None,
                "exported_at": None,
            }
            self._edits[edit_id] = row
        self.log.enqueue("edits", row, UPSERT)
        result = self._done(
            user_id, "propose_edit", edit_id, True, f"Proposed {edit_id}; another reviewer can approve it."
        )
        return ReviewResult(result.ok, result.message, edit_id)

    def edits(self, status: str | None = "draft") -> list[dict]:
        """Proposed edits with this status (None: all), each with its `diff` against the entry now."""
        with self._lock:
            rows = [e for e in self._edits.values() if status is None or e["status"] == status]
        out = []
        for e in rows:
            new = json.loads(e["entry"])
            out.append({**e, "entry": new, "diff": entry_diff(self._current(e["entry_id"]) or {}, new)})
        return out

    def _approve_edit(self, user_id: str, edit_id: str) -> ReviewResult:
        return self._second_approval(
            user_id, edit_id, self._edits, "edits", "proposed_by", "proposed",
            lambda row: f"{row['entry_id']} answers this way from now on.",
        )

    def _second_approval(
        self, user_id: str, item_id: str, rows: dict, table: str, author: str, verb: str, answers
    ) -> ReviewResult:
        """The two-reviewer rule, for drafts and edits alike: a draft-status item approved by
        someone other than its author is written through the log and answers from then on."""
        with self._lock:
            row = rows.get(item_id)
            if row is None:
                message = f"No draft {item_id!r}."
            elif row["status"] != "draft":
                message = f"{item_id} is already {row['status']}."
            elif row[author] == user_id:
                message = f"You {verb} {item_id}; a second reviewer has to approve it."
            else:
                row = rows[item_id] = {**row, "status": "approved", "approved_by": user_id, "approved_at": utc_now()}
                message = ""
        if message:
            return self._done(user_id, "approve", item_id, False, message)
        self.log.enqueue(table, row, UPSERT)
        result = self._done(user_id, "approve", item_id, True, f"Approved {item_id}; {answers(row)}")
        self._changed()
        return result

    def _current(self, entry_id: str) -> dict | None:
        """The entry as it answers now: the knowledge base, then approved edits and verifications."""
        changed = {e["id"]: e for e in self.changed_entries()}
        if entry_id in changed:
            return changed[entry_id]
        with self._lock:
            draft = next((d for d in self._drafts.values() if d["id"] == entry_id and d["status"] == "approved"), None)
        if draft is not None:
            return _faq_entry(draft)
        return _as_dict(self.lookup(entry_id) if self.lookup else None)

    def _skipped(self) -> set[str]:
        with self._lock:
            skip = set(self._dismissed)
            skip.update(r["query_id"] for r in self._phrasings.values() if r.get("query_id"))
            skip.update(d["query_id"] for d in self._drafts.values() if d.get("query_id"))
        return skip

    def draft(
        self,
        user_id: str,
        question: str,
        answer: str,
        codes: Iterable[str] = (),
        sources: Iterable = (),
        *,
        query_id: str | None = None,
    ) -> ReviewResult:
        """Draft a new entry; another reviewer must approve it before it answers."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "draft", query_id or question[:60])
        question, answer = (question or "").strip(), (answer or "").strip()
        with self._lock:
            taken = set(self._drafts) | set(self.entry_ids() if self.entry_ids else ())
            draft_id = unique_slug(question, taken)
            row = {
                "id": draft_id,
                "question": question,
                "answer": answer,
                "codes": dumps([str(c).strip() for c in codes if str(c).strip()]),
                "sources": dumps([_source(s) for s in sources]),
                "query_id": query_id,
                "drafted_by": user_id,
                "drafted_at": utc_now(),
                "status": "draft",
                "approved_by": None,
                "approved_at": None,
                "exported_at": None,
            }
            problem = _entry_problem(_faq_entry(row))
            if problem:
                return self._done(user_id, "draft", query_id, False, f"Not drafted: {problem}")
            self._drafts[draft_id] = row
        self.log.enqueue("drafts", row, UPSERT)
        result = self._done(
            user_id, "draft", draft_id, True, f"Drafted {draft_id}; another reviewer can approve it."
        )
        return ReviewResult(result.ok, result.message, draft_id)

    def approve(self, user_id: str, draft_id: str) -> ReviewResult:
        """Approve a colleague's draft: from now on it answers."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "approve", draft_id)
        if draft_id not in self._drafts and draft_id not in self._edits:
            self._reload()
        if draft_id in self._edits:
            return self._approve_edit(user_id, draft_id)
        return self._second_approval(
            user_id, draft_id, self._drafts, "drafts", "drafted_by", "drafted", lambda row: "it answers from now on."
        )

    def dismiss(self, user_id: str, item_id: str) -> ReviewResult:
        """Take an item off the queue (a query id, a "due:" item), or reject a draft."""
        if not self.is_reviewer(user_id):
            return self._deny(user_id, "dismiss", item_id)
        with self._lock:
            row = self._drafts.get(item_id)
            edit = self._edits.get(item_id)
            if edit is not None:
                if edit["status"] != "draft":
                    return self._done(user_id, "dismiss", item_id, False, f"{item_id} is already {edit['status']}.")
                row = self._edits[item_id] = {**edit, "status": "dismissed"}
                table, message = "edits", f"Dismissed edit {item_id}."
            elif row is not None:
                if row["status"] != "draft":
                    return self._done(
                        user_id, "dismiss", item_id, False, f"{item_id} is already {row['status']}."
                    )
                row = self._drafts[item_id] = {**row, "status": "dismissed"}
                table, message = "drafts", f"Dismissed draft {item_id}."
            elif item_id.startswith(("q", "due:")):
                self._dismissed.add(item_id)
                row = {"item_id": item_id, "user_id": user_id, "ts": utc_now()}
                table, message = "dismissals", "Dismissed."
            else:
                return self._done(user_id, "dismiss", item_id, False, f"No review item {item_id!r}.")
        self.log.enqueue(table, row, UPSERT)
        return self._done(user_id, "dismiss", item_id, True, message)

    def export(self, knowledge_dir: Path, *, user_id: str = "cli") -> tuple[int, int]:
        """Write approved entries to knowledge/faq/reviewed.yaml, linked questions to
        knowledge/asked/reviewed.yaml (labelled, deduped), verifications and approved edits into
        the entries' own files (see bot/storage/export.py), then clear them from the overlay.
        Returns (entries written, linked questions written)."""
        from bot.storage import export as out

        knowledge_dir = Path(knowledge_dir)
        with self._lock:
            drafts = [d for d in self._drafts.values() if d["status"] == "approved"]
            links = [r for r in self._phrasings.values() if not r.get("exported_at")]
            edits = [e for e in self._edits.values() if e["status"] == "approved"]
            verified = {k: v for k, v in self._verified.items() if not v.get("exported_at")}
            faq, asked = knowledge_dir / "faq", knowledge_dir / "asked"
            reviewed = faq / "reviewed.yaml"
            files = [reviewed, *faq.glob("*.yaml"), *asked.glob("*.yaml"), asked / "reviewed.yaml"]
            backup = {path: path.read_bytes() if path.exists() else None for path in files}
            n_entries = _append_entries(reviewed, [_faq_entry(d) for d in drafts])
            n_phrasings = out.merge_asked(asked, [(r["entry_id"], r["text"]) for r in links])
            edited = {e["entry_id"]: json.loads(e["entry"]) for e in sorted(edits, key=lambda e: e["approved_at"])}
            for entry_id, v in verified.items():
                if entry_id in edited:
                    edited[entry_id] = {**edited[entry_id], "last_verified": v["last_verified"], "review_by": v["review_by"]}
            patched = out.patch_entries(
                faq, {k: (v["last_verified"], v["review_by"]) for k, v in verified.items() if k not in edited}, edited
            )
            for d in drafts:
                out.relabel_declines(asked, d["id"], [d["question"], self._query_text(d["query_id"]) or ""] if d.get("query_id") else [d["question"]])
            problems = [p for path in [reviewed, *patched] for p in _kb_problems(path)]
            if problems:  # e.g. a drafted question duplicates an existing phrasing: put the files back
                for path, content in backup.items():
                    if content is None:
                        path.unlink(missing_ok=True)
                    else:
                        path.write_bytes(content)
                self.log.record_action(
                    user_id, "export", str(knowledge_dir), False, "\n".join(problems), os_user=self.os_user
                )
                raise ExportError(problems)
            now = utc_now()
            for d in drafts:
                self._drafts[d["id"]] = row = {**d, "status": "exported", "exported_at": now}
                self.log.enqueue("drafts", row, UPSERT)
            for r in links:
                self._phrasings[(r["entry_id"], r["text"].lower())] = row = {**r, "exported_at": now}
                self.log.enqueue("phrasings", row, UPSERT)
            for e in edits:
                self._edits[e["id"]] = row = {**e, "status": "exported", "exported_at": now}
                self.log.enqueue("edits", row, UPSERT)
            for v in verified.values():
                self._verified[v["entry_id"]] = row = {**v, "exported_at": now}
                self.log.enqueue("verifications", row, UPSERT)
        self.log.record_action(
            user_id, "export", str(knowledge_dir), True, f"{n_entries} entries, {n_phrasings} phrasings",
            os_user=self.os_user,
        )
        if drafts or links or edits or verified:
            self._changed()
        return n_entries, n_phrasings

    def week_stats(self, now: datetime | None = None) -> dict:
        """The last seven days: questions, answered %, helpful %, top entries, unanswered; plus
        the overlay waiting for review or export."""
        now = now or datetime.now(UTC)
        stats = self.log.stats(now - timedelta(days=7))
        with self._lock:
            stats["drafts_waiting"] = sum(1 for d in self._drafts.values() if d["status"] == "draft")
            stats["approved_not_exported"] = sum(
                1 for d in self._drafts.values() if d["status"] == "approved"
            )
        stats["links_not_exported"] = len(self.overlay_phrasings())
        return stats

    # -- helpers --------------------------------------------------------------------------------------
    def _deny(self, user_id: str, action: str, target: str | None) -> ReviewResult:
        return self._done(user_id, action, target, False, _DENIED)

    def _done(self, user_id: str, action: str, target: str | None, ok: bool, message: str) -> ReviewResult:
        self.log.record_action(user_id, action, target, ok, message, os_user=self.os_user)
        return ReviewResult(ok, message)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _entry_exists(self, entry_id: str) -> bool:
        if self.entry_ids is None:
            return bool(entry_id)
        with self._lock:
            approved = {d["id"] for d in self._drafts.values() if d["status"] in ("approved", "exported")}
        return entry_id in approved or entry_id in set(self.entry_ids())

    def _query_text(self, query_id: str) -> str | None:
        self.log.flush(1.0)  # the question may have been asked a moment ago
        try:
            with self.log.open_db() as db:
                rows = list(db.table("queries").rows_where("id = ?", [query_id], select="text"))
        except Exception:
            return None
        return (rows[0]["text"] or "") if rows else None


def entry_diff(old: dict, new: dict) -> str:
    """What an edit changes, as a unified diff of the two entries' YAML (the fields a reviewer edits)."""
    import difflib

    def lines(entry: dict) -> list[str]:
        shown = {k: entry.get(k) for k in ("question", "answer", "codes", "state", "sources") if k in entry}
        return yaml.safe_dump(_jsonable(shown), sort_keys=False, allow_unicode=True, width=90).splitlines()

    diff = difflib.unified_diff(lines(old), lines(new), "now", "proposed", n=1, lineterm="")
    return "\n".join(list(diff)[2:])


def _as_dict(entry) -> dict | None:
    if entry is None:
        return None
    if isinstance(entry, dict):
        return dict(entry)
    return entry.model_dump(mode="json")


def _jsonable(entry: dict) -> dict:
    return json.loads(json.dumps(entry, default=str))


def _comparable(entry: dict) -> str:
    keys = ("question", "answer", "codes", "sources", "state")
    return json.dumps({k: entry.get(k) for k in keys}, sort_keys=True, default=str)


# -- the FAQ schema and the YAML files -------------------------------------------------------------------
def slugify(text: str, max_words: int = 8) -> str:
    """Kebab-case id from a question: 'Can I bill 97124 twice?' -> 'can-i-bill-97124-twice'."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:max_words]
    return "-".join(words)[:60].strip("-") or "entry"


def unique_slug(text: str, taken: set[str]) -> str:
    base = slugify(text)
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _source(source) -> dict:
    """{title, url} from a dict, a bare URL, or 'Title (https://...)'/'Title https://...'."""
    if isinstance(source, dict):
        return {
            "title": str(source.get("title") or source.get("url") or ""),
            "url": str(source.get("url") or ""),
        }
    text = str(source).strip()
    m = re.match(r"^(.*?)\s*\(?(https?://[^\s)]+)\)?$", text)
    if m:
        return {"title": m[1].strip() or m[2], "url": m[2]}
    return {"title": text, "url": ""}


def _faq_entry(draft: dict) -> dict:
    approved = _date(draft.get("approved_at")) or date.today()
    return {
        "id": draft["id"],
        "question": draft["question"],
        "phrasings": [],
        "answer": draft["answer"],
        "codes": json.loads(draft["codes"] or "[]"),
        "tags": [],
        "state": None,
        "sources": json.loads(draft["sources"] or "[]"),
        "last_verified": approved,
        "review_by": approved + REVIEW_EVERY,
    }


def _entry_problem(entry: dict) -> str | None:
    """Why this FAQ dict would not load (bot.core.kb's schema: a source with a URL, ...), or None."""
    from pydantic import ValidationError

    from bot.core.kb import Entry

    try:
        Entry.model_validate(entry)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors())
    return None


def _kb_problems(reviewed: Path) -> list[str]:
    """Problems `bot.core.kb` finds that involve the reviewed file (in it, or duplicates of it)."""
    from bot.core.kb import check_kb

    if not reviewed.exists():
        return []
    problems = map(str, check_kb(reviewed.parent, known_codes=None, today=date.min))
    return [p for p in problems if str(reviewed) in p]


def _append_entries(path: Path, entries: list[dict]) -> int:
    data = _load_yaml(path) or {}
    existing = data.get("entries") or []
    ids = {e.get("id") for e in existing if isinstance(e, dict)}
    new = [e for e in entries if e["id"] not in ids]
    if new or not path.exists():
        _write_yaml(path, {"entries": existing + new})
    return len(new)


def _merge_phrasings(path: Path, links: list[tuple[str, str]]) -> int:
    data = _load_yaml(path) or {}
    phrasings: dict[str, list[str]] = {k: list(v or []) for k, v in (data.get("phrasings") or {}).items()}
    added = 0
    for entry_id, text in links:
        have = phrasings.setdefault(entry_id, [])
        if text.lower() not in {p.lower() for p in have}:
            have.append(text)
            added += 1
    if added:
        _write_yaml(path, {"phrasings": phrasings})
    return added


def _load_yaml(path: Path) -> dict | None:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None


def _write_yaml(path: Path, data: dict) -> None:
    """Write via a temporary file so a crash never leaves half a knowledge file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by `billing-bot review export`; edit freely, keep the shape.\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(
        header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    os.replace(tmp, path)


def _field(entry, name: str):
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def _date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None
