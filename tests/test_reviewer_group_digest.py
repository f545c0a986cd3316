"""Verification extras (issue #13): reviewers from a Slack user group (BILLING_BOT_REVIEWER_GROUP,
usergroups.users.list) through signed requests, and the weekly digest DM
(`billing-bot review digest [--dry-run]`) sent to the fake Web API on 127.0.0.1."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from click.testing import CliRunner

from bot.cli.commands import cli
from bot.slack.app import build_app, make_client
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id, utc_now
from bot.storage.review import ReviewDesk
from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_curation import rows
from tests.test_slack_review import actions, last_home


@pytest.fixture
def group(fake_slack):
    fake_slack.server.expect_request("/usergroups.users.list").respond_with_json({"ok": True, "users": ["UGRP1"]})
    return "S0REV"


async def test_members_of_the_reviewer_group_get_the_desk_and_others_dont(slack_settings, answerer, querylog, fake_slack, group):
    settings = replace(slack_settings, reviewer_group=group)
    app = build_app(settings, make_client(settings), answerer=answerer, log=querylog)
    await dispatch(app, p.home_opened("UGRP1"))
    assert "Review desk" in json.dumps(last_home(fake_slack, "UGRP1"))
    assert ["S0REV"] == [r.args.get("usergroup") for r, _ in fake_slack.server.log if r.path == "/usergroups.users.list"]
    await dispatch(app, p.button("review_verify", "npi-need", user="UGRP1"))
    await dispatch(app, p.home_opened("U1"))
    await dispatch(app, p.button("review_verify", "npi-apply", user="U1"))
    assert "Review desk" not in json.dumps(last_home(fake_slack, "U1"))
    assert [("npi-need", "UGRP1")] == [(r["entry_id"], r["verified_by"]) for r in rows(querylog, "verifications")]
    assert [("UGRP1", "verify", True), ("U1", "verify", False)] == [a for a in actions(querylog) if a[1] == "verify"]
    assert 1 == len(fake_slack.calls("usergroups.users.list"))  # re-read every few minutes, not per click


def knowledge(tmp_path):
    """Two entries: one past review_by, owned by UREV2; one not due."""
    faq = tmp_path / "knowledge" / "faq"
    faq.mkdir(parents=True)
    entries = [
        {"id": "npi-need", "question": "Do I need an NPI?", "review_by": "2020-01-01", "owner": "UREV2"},
        {"id": "later", "question": "Later?", "review_by": "2999-01-01"},
    ]
    (faq / "x.yaml").write_text(yaml.safe_dump({"entries": entries}))
    return tmp_path / "knowledge"


def seed(db_path) -> None:
    log = QueryLog(db_path, flush_interval=0.01).start()
    for text in ("is hot stone massage billed separately", "is hot stone massage billed separately?"):
        log.record_query(QueryRecord(new_query_id(), utc_now(), "dm", "T", "D1", "U1", text, "no_match",
                                     None, None, None, None, 1.0))
    voted = new_query_id()
    log.record_query(QueryRecord(voted, utc_now(), "dm", "T", "D1", "U1", "npi?", "faq", "npi-need", 95.0,
                                 None, None, 1.0))
    log.record_feedback(voted, "U1", False, "outdated")
    desk = ReviewDesk(log, frozenset({"UREV1"}))
    assert desk.draft("UREV1", "Is hot stone billed apart?", "No.", (), ["AMTA https://www.amtamassage.org/"]).ok
    log.close()


def run(db_path, knowledge_dir, *args, **env):
    base = {"BILLING_BOT_DB": str(db_path), "BILLING_BOT_REVIEWERS": "UREV1,UREV2"}
    return CliRunner().invoke(cli, ["review", "digest", "--knowledge", str(knowledge_dir), *args], env={**base, **env})


def test_the_digest_goes_to_each_reviewer_owners_first(db_path, tmp_path, fake_slack, group):
    seed(db_path)
    result = run(db_path, knowledge(tmp_path), SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=fake_slack.url,
                 BILLING_BOT_REVIEWER_GROUP=group)
    assert 0 == result.exit_code, result.output
    assert "Sent the digest to 3 reviewers: UREV2, UGRP1, UREV1.\n" == result.stdout
    sent = fake_slack.calls("chat.postMessage")
    assert ["UREV2", "UGRP1", "UREV1"] == [m["channel"] for m in sent]
    owner = json.dumps(sent[0]["blocks"], ensure_ascii=False)
    assert "• `npi-need` (review by 2020-01-01) *yours*" in owner
    # both asked in the same moment: either may be the cluster's newest example
    assert "• 2 × “is hot stone massage billed separately" in owner
    assert "• `npi-need`: outdated × 1" in owner and "• 1 × “npi?”" in owner
    assert "• `is-hot-stone-billed-apart`: new entry: Is hot stone billed apart? (by <@UREV1>)" in owner
    assert "later" not in owner
    assert "owner <@UREV2>" in json.dumps(sent[1]["blocks"])
    assert "_yours: someone else approves it_" in json.dumps(sent[2]["blocks"])
    assert sent[0]["text"].startswith("Review digest: 1 entries due (1 yours), 2 clusters, 1 down-votes, 1 waiting")  # the down-voted question is a cluster of its own


def test_dry_run_prints_and_sends_nothing(db_path, tmp_path, fake_slack):
    seed(db_path)
    result = run(db_path, knowledge(tmp_path), "--dry-run")
    assert 0 == result.exit_code, result.output
    assert result.stdout.startswith("--- to UREV2\n*Entries due for review* (1)")
    assert "--- to UREV1" in result.output
    assert [] == fake_slack.calls("chat.postMessage")


def test_without_a_token_it_refuses_and_an_empty_week_sends_nothing(db_path, tmp_path, fake_slack):
    seed(db_path)
    refused = run(db_path, knowledge(tmp_path))
    assert 2 == refused.exit_code and "SLACK_BOT_TOKEN is not set" in refused.output
    empty = run(tmp_path / "empty.db", tmp_path / "nowhere", SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=fake_slack.url)
    assert (0, "Nothing to review this week: no digest sent.\n") == (empty.exit_code, empty.stdout)
    assert [] == fake_slack.calls("chat.postMessage")


def test_one_reviewers_failed_dm_does_not_stop_the_others():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

    from bot.slack import digest as weekly

    found = weekly.Digest(due=[], clusters=[{"size": 3, "text": "what is a superbill", "candidate": None}],
                          down_votes=[], waiting=[])
    posted = []

    def post(channel, **message):
        if channel == "UGONE":
            response = SlackResponse(client=None, http_verb="POST", api_url="chat.postMessage", req_args={},
                                     data={"ok": False, "error": "user_not_found"}, headers={}, status_code=200)
            raise SlackApiError("user_not_found", response)
        posted.append(channel)

    sent, failed = weekly.send(found, ["UREV1", "UGONE", "UREV2"], post)
    assert (["UREV1", "UREV2"], {"UGONE": "user_not_found"}) == (sent, failed)
    assert ["UREV1", "UREV2"] == posted
