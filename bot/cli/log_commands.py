"""`billing-bot log ...` and `billing-bot review ...`: the query log and the review desk from a terminal.

No logic here: each command opens the log, calls one `QueryLog`/`ReviewDesk` method and
turns its errors into click errors. The CLI has no login: whoever can write the database
file is trusted as a reviewer under the name given with `--as` (default "cli"), so there the
two-reviewer rule is a matter of trust. Every audit row records the OS user beside it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import yaml

import bot
from bot.config import default_db_path
from bot.storage.querylog import QueryLog, parse_age
from bot.storage.review import ExportError, ReviewDesk

DEFAULT_KNOWLEDGE = Path(bot.__file__).resolve().parent.parent / "knowledge"

db_option = click.option(
    "--db",
    "db_path",
    envvar="BILLING_BOT_DB",
    default=default_db_path,
    show_default=str(default_db_path()),
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the query log (env BILLING_BOT_DB).",
)


class BadInput(click.ClickException):
    """A reviewer's input the desk refused (an unknown id, a draft of one's own): usage, exit 2."""

    exit_code = 2
as_option = click.option(
    "--as",
    "as_user",
    default="cli",
    show_default=True,
    help="Reviewer name recorded for this action (e.g. your Slack user ID). Taken on trust: the "
    "CLI has no login, so anyone who can write the database can act as any reviewer (and "
    "approve their own draft under another name); the OS user is recorded beside it in the audit.",
)
knowledge_option = click.option(
    "--knowledge",
    "knowledge_dir",
    default=DEFAULT_KNOWLEDGE,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The knowledge/ directory (FAQ YAML).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group(name="log")
def log_group():
    """The query log: recent questions, weekly stats, purging old rows."""


@log_group.command()
@click.option(
    "-n", "n", default=20, show_default=True, type=click.IntRange(min=1), help="How many questions."
)
@json_option
@db_option
def recent(n: int, as_json: bool, db_path: Path):
    """The last N questions, newest first (text is stored redacted).

    \b
    Example:
      billing-bot log recent -n 5
      billing-bot log recent --json --db /var/lib/billing-bot/log.db
    """
    with _reading(db_path):
        rows = QueryLog(db_path).recent(n)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        what = r["entry_id"] or r["units_summary"] or ""
        score = "" if r["score"] is None else f"{r['score']:.0f}"
        click.echo(
            f"{r['ts'][:16].replace('T', ' ')}  {r['id']}  {r['surface']:<7} {r['kind']:<8} {score:>3}  "
            f"{_cut(what, 28):<28}  {_cut(r['text'] or '(not stored)', 60)}"
        )


@log_group.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1), help="How far back.")
@json_option
@db_option
def stats(days: int, as_json: bool, db_path: Path):
    """Questions, answered %, helpful %, top entries and unanswered questions.

    \b
    Example:
      billing-bot log stats
      billing-bot log stats --days 30 --json
    """
    with _reading(db_path):
        result = QueryLog(db_path).stats(datetime.now(UTC) - timedelta(days=days))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Last {days} days (since {result['since'][:16].replace('T', ' ')} UTC)")
    click.echo(f"  questions   {result['questions']}")
    click.echo(f"  answered    {result['answered']} ({_pct(result['answered_pct'])} of answered + declined)")
    click.echo(f"  declined    {result['declined']}  (the bot wasn't sure and said so)")
    click.echo(f"  help        {result['help']}  (a blank message or 'help')")
    click.echo(
        f"  helpful     {result['helpful']} of {result['feedback']} votes ({_pct(result['helpful_pct'])})"
    )
    if result["top_entries"]:
        click.echo("Top entries")
        for top in result["top_entries"]:
            click.echo(f"  {top['count']:>5}  {top['entry_id']}")
    if result["unanswered_examples"]:
        click.echo("Unanswered (latest)")
        for q in result["unanswered_examples"]:
            click.echo(f"  {q['id']}  {_cut(q['text'] or '(not stored)', 70)}")


@log_group.command()
@click.option("--older-than", "older_than", required=True, help="Age with a unit: 90d, 12h or 2w.")
@click.option("--dry-run", is_flag=True, help="Only say how many questions would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (for cron and scripts).")
@db_option
def purge(older_than: str, dry_run: bool, yes: bool, db_path: Path):
    """Delete questions (and their feedback) older than the given age.

    Asks first, unless --yes. Without a terminal to ask on, nothing is deleted without --yes.

    \b
    Example:
      billing-bot log purge --older-than 90d --dry-run
      billing-bot log purge --older-than 90d --yes
    """
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    log = QueryLog(db_path)
    with _reading(db_path):
        n = log.purge(age, dry_run=True)
    questions = f"{n} question{'' if n == 1 else 's'} older than {older_than}"
    if dry_run or n == 0:
        click.echo(f"Would purge {questions}." if dry_run else f"Nothing to purge: no {questions[2:]}.")
        return
    if not yes and not _confirm(f"Delete {questions} from {db_path}?"):
        click.echo("Nothing deleted (pass --yes to purge without asking).", err=True)
        raise SystemExit(1)
    with _reading(db_path):
        n = log.purge(age)
    click.echo(f"Purged {n} question{'' if n == 1 else 's'} older than {older_than}.")


@click.group(name="review")
def review_group():
    """The review desk: questions to review, links, drafts, approvals, export to knowledge/.

    Trust: the CLI has no login. `--as NAME` says which reviewer acts and is believed, so
    here the two-reviewer rule holds only among people who don't lie about their name; the
    audit records the OS user beside NAME. Use the Slack desk when that matters.
    """


@review_group.command(name="list")
@click.option("-n", "n", default=20, show_default=True, type=click.IntRange(min=1), help="How many items.")
@json_option
@db_option
@knowledge_option
def list_(n: int, as_json: bool, db_path: Path, knowledge_dir: Path):
    """What needs review (not helpful, unanswered, low confidence, past review_by), then drafts
    waiting for approval.

    \b
    Example:
      billing-bot review list
      billing-bot review list --json -n 50
    """
    with _desk(db_path, "cli", knowledge_dir) as desk:
        items = desk.queue(limit=n, kb_entries=_kb_entries(knowledge_dir))
        drafts = desk.drafts("draft")
    if as_json:
        click.echo(json.dumps({"items": [item.__dict__ for item in items], "drafts": drafts}, indent=2))
        return
    for item in items:
        click.echo(f"{item.kind:<14} {item.id}  {_cut(item.text or '(not stored)', 60)}  [{item.detail}]")
    for d in drafts:
        click.echo(f"{'draft':<14} {d['id']}  {_cut(d['question'], 60)}  [by {d['drafted_by']}]")
    if not items and not drafts:
        click.echo("Nothing to review.")


@review_group.command()
@click.argument("query_id")
@click.argument("entry_id")
@db_option
@as_option
@knowledge_option
def link(query_id: str, entry_id: str, db_path: Path, as_user: str, knowledge_dir: Path):
    """Make a logged question one of ENTRY_ID's phrasings.

    \b
    Example:
      billing-bot review link q01JY3M8Q0ZK4T7X2A9 massage-units --as U024BE7LH
    """
    with _desk(db_path, as_user, knowledge_dir) as desk:
        _report(desk.link(as_user, query_id, entry_id))


@review_group.command()
@click.option("--question", required=True, help="The question, as a therapist would ask it.")
@click.option("--answer", required=True, help="The answer (Slack mrkdwn).")
@click.option("--code", "codes", multiple=True, help="A code the answer is about (repeatable).")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help="'Title (https://...)' or a URL (repeatable; at least one).",
)
@click.option("--query", "query_id", help="The logged question this drafts an answer for.")
@db_option
@as_option
@knowledge_option
def draft(question, answer, codes, sources, query_id, db_path: Path, as_user: str, knowledge_dir: Path):
    """Draft a new FAQ entry; a second reviewer approves it.

    \b
    Example:
      billing-bot review draft --as U024BE7LH --question "Does Aetna cover 97124?" \\
        --answer "Often, with a referral; check the member's plan." --code 97124 \\
        --source "Aetna policy (https://www.aetna.com/)" --query q01JY3M8Q0ZK4T7X2A9
    """
    with _desk(db_path, as_user, knowledge_dir) as desk:
        _report(desk.draft(as_user, question, answer, codes, sources, query_id=query_id))


@review_group.command()
@click.argument("draft_id")
@db_option
@as_option
def approve(draft_id: str, db_path: Path, as_user: str):
    """Approve a draft or an edit someone else wrote; it answers from then on.

    \b
    Example:
      billing-bot review approve does-aetna-cover-97124 --as U02AB3CD4
    """
    with _desk(db_path, as_user) as desk:
        _report(desk.approve(as_user, draft_id))


@review_group.command()
@click.argument("item_id")
@db_option
@as_option
def dismiss(item_id: str, db_path: Path, as_user: str):
    """Take an item off the review list (a question id or a due: id), or reject a draft.

    \b
    Example:
      billing-bot review dismiss q01JY3M8Q0ZK4T7X2A9
    """
    with _desk(db_path, as_user) as desk:
        _report(desk.dismiss(as_user, item_id))


@review_group.command()
@click.argument("entry_id")
@db_option
@as_option
@knowledge_option
def verify(entry_id: str, db_path: Path, as_user: str, knowledge_dir: Path):
    """ENTRY_ID is still right: last_verified becomes today, review_by moves on.

    \b
    Example:
      billing-bot review verify npi-need --as U024BE7LH
    """
    with _desk(db_path, as_user, knowledge_dir) as desk:
        _report(desk.verify(as_user, entry_id))


@review_group.command()
@click.argument("entry_id")
@click.option("--answer", help="The new answer (Slack mrkdwn).")
@click.option("--question", help="The new question.")
@click.option("--code", "codes", multiple=True, help="The entry's codes, replacing them (repeatable).")
@click.option("--source", "sources", multiple=True, help="The entry's sources, replacing them (repeatable).")
@db_option
@as_option
@knowledge_option
def edit(entry_id, answer, question, codes, sources, db_path: Path, as_user: str, knowledge_dir: Path):
    """Propose an edit to an existing entry; a second reviewer approves it (`review approve EDIT_ID`).

    \b
    Example:
      billing-bot review edit npi-need --answer "Yes, to bill insurance." --as U024BE7LH
    """
    with _desk(db_path, as_user, knowledge_dir) as desk:
        _report(
            desk.propose_edit(
                as_user, entry_id, question=question, answer=answer,
                codes=codes or None, sources=sources or None,
            )
        )


@review_group.command()
@db_option
@as_option
@knowledge_option
def export(db_path: Path, as_user: str, knowledge_dir: Path):
    """Write approved entries to knowledge/faq/reviewed.yaml, verifications and approved edits
    into the entries' own files, and links to knowledge/asked/reviewed.yaml as labelled
    questions; then clear them from the overlay. Commit the files after.

    \b
    Example:
      billing-bot review export && git add knowledge && git commit -m "Reviewed FAQ"
    """
    with _desk(db_path, as_user, knowledge_dir) as desk:
        try:
            entries, phrasings = desk.export(knowledge_dir, user_id=as_user)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"Exported {entries} entr{'y' if entries == 1 else 'ies'} and {phrasings} "
        f"phrasing{'' if phrasings == 1 else 's'} to {knowledge_dir}."
    )


@review_group.command(name="stats")
@json_option
@db_option
def review_stats(as_json: bool, db_path: Path):
    """Numbers to act on: the answer rate of the last 7 and 30 days, and per entry over 30 days
    its answers, helpful % and down-votes by reason (most down-voted first).

    \b
    Example:
      billing-bot review stats
      billing-bot review stats --json
    """
    from bot.storage.desk_stats import review_stats as compute

    with _reading(db_path):
        result = compute(QueryLog(db_path))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    rate, questions = result["answer_rate"], result["questions"]
    click.echo(f"Answer rate  7 days: {_pct(rate['7d'])} of {questions['7d']} questions")
    click.echo(f"            30 days: {_pct(rate['30d'])} of {questions['30d']} questions")
    if not result["entries"]:
        click.echo("No FAQ answers in the last 30 days.")
        return
    click.echo(f"{'entry':<36} {'answers':>7} {'helpful':>8} {'votes':>5}  down-votes by reason")
    for e in result["entries"]:
        down = ", ".join(f"{reason} {n}" for reason, n in e["down_votes"].items())
        click.echo(f"{_cut(e['entry_id'], 36):<36} {e['answers']:>7} {_pct(e['helpful_pct']):>8} {e['votes']:>5}  {down}")


@review_group.command()
@click.option("--dry-run", is_flag=True, help="Print each reviewer's digest instead of sending it.")
@db_option
@knowledge_option
def digest(dry_run: bool, db_path: Path, knowledge_dir: Path):
    """DM each reviewer the weekly digest: entries due (owners first, their own entries first),
    the biggest clusters, last week's down-votes with reasons, drafts and edits waiting for a
    second reviewer. Reviewers are BILLING_BOT_REVIEWERS plus the members of
    BILLING_BOT_REVIEWER_GROUP; sent with SLACK_BOT_TOKEN through the Web API (SLACK_API_URL).
    Run it weekly from cron or a systemd timer. Nothing is sent when there is nothing to list.

    \b
    Example:
      billing-bot review digest --dry-run
      0 8 * * MON  billing-bot review digest     # crontab: Mondays at 8
    """
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import WebClient

    from bot.config import load_settings
    from bot.slack import digest as weekly
    from bot.slack.reviewer_group import group_members

    try:
        settings = load_settings()
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if not dry_run and not settings.slack_bot_token:
        raise BadInput("SLACK_BOT_TOKEN is not set: the digest is sent as the bot (or use --dry-run).")
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url) if settings.slack_bot_token else None
    reviewers = set(settings.reviewers)
    if settings.reviewer_group:
        try:
            if client is None:
                raise click.ClickException("no SLACK_BOT_TOKEN to read it with")
            reviewers |= set(group_members(client, settings.reviewer_group))
        except (SlackApiError, click.ClickException) as exc:
            if not dry_run:
                raise click.ClickException(f"could not read BILLING_BOT_REVIEWER_GROUP {settings.reviewer_group}: {exc}") from None
            click.echo(f"(reviewer group {settings.reviewer_group} not read: {exc})", err=True)
    with _desk(db_path, "cli", knowledge_dir) as desk:
        found = weekly.gather(desk, _kb_entries(knowledge_dir))
    if not reviewers:
        click.echo("No reviewers: set BILLING_BOT_REVIEWERS or BILLING_BOT_REVIEWER_GROUP.")
        return
    if found.empty:
        click.echo("Nothing to review this week: no digest sent.")
        return
    if dry_run:
        for reviewer in weekly.recipients(reviewers, found):
            click.echo(f"--- to {reviewer}")
            for part in weekly.parts(found, reviewer):
                click.echo(part)
        return
    sent, failed = weekly.send(found, reviewers, client.chat_postMessage)
    click.echo(f"Sent the digest to {len(sent)} reviewer{'' if len(sent) == 1 else 's'}: {', '.join(sent)}.")
    if failed:
        for reviewer, error in failed.items():
            click.echo(f"not sent to {reviewer}: {error}", err=True)
        raise SystemExit(1)


# -- helpers ---------------------------------------------------------------------------------------------
@contextmanager
def _reading(db_path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise click.ClickException(f"{db_path}: {exc}") from None


@contextmanager
def _desk(db_path: Path, as_user: str, knowledge_dir: Path | None = None) -> Iterator[ReviewDesk]:
    """A started log and a desk where `as_user` is a reviewer; drains the writes on the way out."""
    log = QueryLog(db_path)
    with _reading(db_path):
        log.start()
        entry_ids = None
        if knowledge_dir is not None and (knowledge_dir / "faq").is_dir():
            entry_ids = lambda: [e["id"] for e in _kb_entries(knowledge_dir)]
        try:
            yield ReviewDesk(
                log,
                frozenset({as_user}),
                entry_ids=entry_ids,
                lookup=(lambda i: _kb_entry(knowledge_dir, i)) if knowledge_dir is not None else None,
                os_user=_os_user(),
            )
        finally:
            if not log.close(timeout=10):
                raise click.ClickException(f"{db_path}: changes not saved ({log.last_error})")


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _kb_entry(knowledge_dir: Path, entry_id: str) -> dict | None:
    from bot.core.kb import load_kb

    entry = load_kb(knowledge_dir / "faq").get(entry_id)
    return None if entry is None else entry.model_dump(mode="json")


def _confirm(question: str) -> bool:
    """Yes only if someone answers yes; no input (a pipe, cron, Ctrl-D) is a no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo(err=True)
        return False


def _kb_entries(knowledge_dir: Path) -> list[dict]:
    """id, question and review_by of every FAQ entry (plain YAML read; `bot.core.kb` validates)."""
    entries = []
    for path in sorted((knowledge_dir / "faq").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries += [e for e in data.get("entries") or [] if isinstance(e, dict) and e.get("id")]
    return entries


def _report(result) -> None:
    if not result.ok:
        raise BadInput(result.message)
    click.echo(result.message)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}%"
