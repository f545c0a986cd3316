import json
from datetime import UTC, date, datetime, timedelta

import click
import pytest
import yaml
from click.testing import CliRunner
from sqlite_utils import Database

from bot.cli.log_commands import log_group, review_group
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id

CMS = "CMS fee schedule (https://www.cms.gov/medicare/payment/fee-schedules/physician)"


@pytest.fixture
def knowledge(tmp_path):
    faq = tmp_path / "knowledge" / "faq"
    faq.mkdir(parents=True)
    entry = {
        "id": "massage-units",
        "question": "How are massage units counted?",
        "phrasings": [],
        "answer": "In 15-minute units.",
        "codes": ["97124"],
        "tags": [],
        "state": None,
        "sources": [{"title": "CMS", "url": "https://www.cms.gov"}],
        "last_verified": date(2025, 1, 1),
        "review_by": date(2026, 1, 1),
    }
    (faq / "units.yaml").write_text(yaml.safe_dump({"entries": [entry]}))
    return tmp_path / "knowledge"


@pytest.fixture
def asked(db_path):
    """Three logged questions: a recent no_match, a recent FAQ answer and one 100 days old."""

    def record(text, kind, entry_id, days=0):
        ts = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
        r = QueryRecord(
            new_query_id(),
            ts,
            "slash",
            "T1",
            "C1",
            "U1",
            text,
            kind,
            entry_id,
            None if entry_id is None else 93.0,
            None,
            None,
            2.0,
        )
        log.record_query(r)
        return r.id

    log = QueryLog(db_path).start()
    ids = {
        "old": record("an old question", "faq", "massage-units", days=100),
        "faq": record("how many units for 40 minutes", "faq", "massage-units"),
        "no_match": record("does patient Ann Lee's Aetna plan cover 99213?", "no_match", None),
    }
    log.close()
    return ids


def run(group, *args, env=None, code=0):
    result = CliRunner().invoke(group, [str(a) for a in args], env=env)
    assert code == result.exit_code, result.output + repr(result.exception)
    return result.output


def test_log_recent(db_path, asked):
    first, second = run(log_group, "recent", "-n", 2, "--db", db_path).splitlines()
    assert asked["no_match"] in first and first.endswith("  does patient [name]'s Aetna plan cover 99213?")
    assert "massage-units" in second and second.endswith("  how many units for 40 minutes")
    rows = json.loads(run(log_group, "recent", "--json", env={"BILLING_BOT_DB": str(db_path)}))
    assert [asked["no_match"], asked["faq"], asked["old"]] == [r["id"] for r in rows]


def test_log_stats(db_path, asked):
    stats = json.loads(run(log_group, "stats", "--json", "--db", db_path))
    assert (2, 1, 50.0, [{"entry_id": "massage-units", "count": 1}]) == (
        stats["questions"],
        stats["answered"],
        stats["answered_pct"],
        stats["top_entries"],
    )
    out = run(log_group, "stats", "--db", db_path)
    assert "  answered    1 (50% of answered + declined)" in out
    assert "  declined    1" in out and "  help        0" in out
    assert "  helpful     0 of 0 votes (n/a)" in out
    assert f"  {asked['no_match']}  does patient [name]'s Aetna plan cover 99213?" in out


def test_log_purge(db_path, asked):
    assert "Purged 1 question older than 90d.\n" == run(
        log_group, "purge", "--older-than", "90d", "--yes", "--db", db_path
    )
    assert 2 == Database(db_path).table("queries").count
    assert "ninety" in run(log_group, "purge", "--older-than", "ninety", "--db", db_path, code=2)


def test_unusable_database_is_an_error_not_a_traceback(tmp_path):
    out = run(log_group, "recent", "--db", tmp_path / "missing" / "log.db", code=1)
    assert "unable to open database file" in out


def test_review_list(db_path, asked, knowledge):
    out = run(review_group, "list", "--db", db_path, "--knowledge", knowledge)
    assert [("no_match", asked["no_match"]), ("review_due", "due:massage-units:2026-01-01")] == [
        tuple(line.split()[:2]) for line in out.splitlines()
    ]
    data = json.loads(run(review_group, "list", "--json", "--db", db_path, "--knowledge", knowledge))
    assert ["no_match", "review_due"] == [item["kind"] for item in data["items"]]


def test_review_link(db_path, asked, knowledge):
    args = ("--db", db_path, "--knowledge", knowledge, "--as", "U024BE7LH")
    assert "No entry 'nope'" in run(review_group, "link", asked["no_match"], "nope", *args, code=2)
    out = run(review_group, "link", asked["no_match"], "massage-units", *args)
    assert out.startswith("Linked")
    assert [("massage-units", "does patient [name]'s Aetna plan cover 99213?", "U024BE7LH")] == [
        (r["entry_id"], r["text"], r["linked_by"]) for r in Database(db_path).table("phrasings").rows
    ]


def test_review_draft_approve_export(db_path, knowledge):
    common = ("--db", db_path, "--knowledge", knowledge)
    out = run(
        review_group,
        "draft",
        "--question",
        "Does Aetna cover 97124?",
        "--answer",
        "Often, with a referral.",
        "--code",
        "97124",
        "--source",
        CMS,
        *common,
    )
    assert "Drafted does-aetna-cover-97124" in out
    # the CLI user drafted it as "cli", so approving as "cli" is refused; a second person approves
    assert "a second reviewer" in run(
        review_group, "approve", "does-aetna-cover-97124", "--db", db_path, code=2
    )
    run(review_group, "approve", "does-aetna-cover-97124", "--db", db_path, "--as", "U02AB3CD4")
    out = run(review_group, "export", *common)
    assert f"Exported 1 entry and 0 phrasings to {knowledge}.\n" == out
    reviewed = yaml.safe_load((knowledge / "faq" / "reviewed.yaml").read_text())
    assert [("does-aetna-cover-97124", ["97124"])] == [(e["id"], e["codes"]) for e in reviewed["entries"]]
    assert "Exported 0 entries and 0 phrasings" in run(review_group, "export", *common)


def test_review_dismiss(db_path, asked, knowledge):
    run(review_group, "dismiss", asked["no_match"], "--db", db_path)
    out = run(review_group, "list", "--db", db_path, "--knowledge", knowledge)
    assert asked["no_match"] not in out
    assert "No review item 'x'" in run(review_group, "dismiss", "x", "--db", db_path, code=2)


@pytest.mark.parametrize("group", [log_group, review_group])
def test_every_command_has_an_example_and_takes_db(group):
    assert group.name in ("log", "review")
    for name, command in group.commands.items():
        assert "Example:" in command.help, name
        assert "--db" in [opt for p in command.params if isinstance(p, click.Option) for opt in p.opts], name


def test_purge_without_yes_asks_and_no_answer_deletes_nothing(db_path, asked):
    out = run(log_group, "purge", "--older-than", "90d", "--db", db_path, code=1)  # no input: a no
    assert f"Delete 1 question older than 90d from {db_path}? [y/N]" in out
    assert "Nothing deleted (pass --yes to purge without asking)." in out
    assert 3 == Database(db_path).table("queries").count
    out = CliRunner().invoke(log_group, ["purge", "--older-than", "90d", "--db", str(db_path)], input="n\n")
    assert (1, 3) == (out.exit_code, Database(db_path).table("queries").count)
    out = CliRunner().invoke(log_group, ["purge", "--older-than", "90d", "--db", str(db_path)], input="y\n")
    assert 0 == out.exit_code and "Purged 1 question older than 90d." in out.output
    assert 2 == Database(db_path).table("queries").count


def test_purge_dry_run_counts_and_keeps_everything(db_path, asked):
    # 0d: everything logged before now, i.e. all three rows (the "deleted all 208 rows")
    assert "Would purge 3 questions older than 0d.\n" == run(
        log_group, "purge", "--older-than", "0d", "--dry-run", "--db", db_path
    )
    assert 3 == Database(db_path).table("queries").count
    assert "Nothing to purge: no questions older than 1000d.\n" == run(
        log_group, "purge", "--older-than", "1000d", "--db", db_path
    )


def test_purge_rejects_a_duration_without_a_unit(db_path, asked):
    out = run(log_group, "purge", "--older-than", "90", "--yes", "--db", db_path, code=2)
    assert "90 what? 90d is 90 days" in out
    assert 3 == Database(db_path).table("queries").count
