"""Channels end to end: scheduled reports reach fake Slack, Discord and webhook receivers exactly
once, through the real tick, report pipeline, queue and HTTP (docs/CHANNELS.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re

from gitpulse_app.experience.ops.views import load_ops
from gitpulse_app.intelligence.delivery import channels
from gitpulse_app.intelligence.delivery.channels.service import list_channels
from gitpulse_app.intelligence.scheduler import run_tick
from tests.intelligence.delivery.channels.conftest import BASE_URL, DAY, TICK
from tests.support.fake_chat import SLACK_PATH, FakeDiscord, FakeSlack
from tests.support.fake_http import FakeResponse

SECRET = "a-webhook-secret-of-some-length"
SLACK_SECRET_PART = SLACK_PATH.rsplit("/", 1)[1]
SLACK_LINK = re.compile(r"<([^|>]+)\|")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def later(**delta: float) -> dt.datetime:
    return TICK + dt.timedelta(**delta)


def test_a_personal_slack_channel_gets_one_block_kit_message_per_scheduled_report(team, fake_chat):
    slack = fake_chat("slack")
    team.user("alice")
    (url,) = team.merged("alice", "Add the search page")
    channel_id = team.channel("alice", "slack", slack.url, name="#standup")

    first = run_tick(TICK)
    again = run_tick(later(minutes=15))

    assert (first.channel_messages_sent, again.channel_messages_sent) == (1, 0)
    (message,) = slack.messages
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    assert "December 4, 2025" in blocks[0]["text"]["text"]
    body = "\n".join(block["text"]["text"] for block in blocks if block["type"] == "section")
    assert f"<{url}|" in body and "Add the search page" in body
    (delivery,) = team.deliveries(channel_id)
    assert delivery.status == "sent" and delivery.response_status == 200
    assert f"<{BASE_URL}/reports/{delivery.report_id}|" in blocks[-1]["elements"][0]["text"]
    assert message["text"].startswith("Daily") and f"<{url}|" in message["text"]


def test_an_empty_day_sends_nothing_and_queues_nothing(team, fake_chat):
    slack = fake_chat("slack")
    team.user("alice")
    team.channel("alice", "slack", slack.url)

    run_tick(TICK)

    assert slack.requests == [] and team.deliveries() == []


def test_a_team_channel_gets_one_digest_of_its_two_logins_and_nobody_else(team, fake_chat):
    receiver = fake_chat("webhook")
    team.user("alice")
    for login in ("bob", "carol", "dave"):
        team.user(login)
    bob = team.merged("bob", "Speed up the importer")
    carol = team.merged("carol", "Fix the login redirect")
    dave = team.merged("dave", "Rewrite the billing page")
    channel_id = team.channel("alice", "webhook", receiver.url, logins=["bob", "carol"],
                              reports=["daily"], secret=SECRET)

    run_tick(TICK)
    run_tick(later(minutes=15))

    (request,) = receiver.requests
    document = json.loads(request.body)
    report = document["report"]
    assert document["type"] == "report.published"
    assert set(report["citations"]) == set(bob + carol)
    assert dave[0] not in request.text and "billing" not in request.text
    assert report["scope"] == {"type": "team", "logins": ["bob", "carol"], "repo": None}
    assert (report["kind"], report["start"]) == ("daily", DAY.isoformat().replace("+00:00", "Z"))
    assert report["url"] == f"{BASE_URL}/reports/{report['id']}"
    assert [d.status for d in team.deliveries(channel_id)] == ["sent"]


def test_the_webhook_signature_verifies_with_the_channel_secret_over_the_raw_body(team, fake_chat):
    receiver = fake_chat("webhook")
    team.user("alice")
    team.merged("alice", "Ship it")
    team.channel("alice", "webhook", receiver.url, secret=SECRET)

    run_tick(TICK)

    (request,) = receiver.requests
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-GitPulse-Signature-256"] == f"sha256={expected}"
    assert request.headers["X-GitPulse-Event"] == "report.published"
    tampered = request.body.replace(b"Ship it", b"Ship that")
    assert hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() != expected


def test_discord_429_with_retry_after_then_204_delivers_once_after_the_wait(team, fake_chat):
    discord = fake_chat("discord")
    discord.script(FakeDiscord.rate_limited(2.5))
    team.user("alice")
    team.merged("alice", "Add rate limits")
    channel_id = team.channel("alice", "discord", discord.url)

    run_tick(TICK)
    (waiting,) = team.deliveries(channel_id)
    assert waiting.status == "pending" and waiting.attempts == 0
    assert waiting.next_attempt_at == later(seconds=2.5)
    assert channels.drain(later(seconds=1)) == 0 and len(discord.requests) == 1
    assert channels.drain(later(seconds=3)) == 1

    assert len(discord.requests) == 2
    (sent,) = team.deliveries(channel_id)
    assert (sent.status, sent.attempts, sent.response_status) == ("sent", 1, 204)
    assert channels.drain(later(minutes=5)) == 0 and len(discord.requests) == 2


def test_webhook_500_three_times_fails_visibly_and_retry_delivers_it(team, fake_chat):
    receiver = fake_chat("webhook")
    receiver.script(*[FakeResponse(500, body="boom")] * 3)
    alice = team.user("alice")
    team.merged("alice", "Add retries")
    channel_id = team.channel("alice", "webhook", receiver.url, secret=SECRET)

    run_tick(TICK)
    assert channels.drain(later(seconds=59)) == 0
    channels.drain(later(minutes=1))
    channels.drain(later(minutes=6))

    (failed,) = team.deliveries(channel_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "HTTP 500" in failed.last_error and "3 tries" in failed.last_error
    (view,) = list_channels(alice.id)
    assert view.retry_delivery_id == failed.id and "failed" in view.last_delivery
    assert channels.drain(later(hours=2)) == 0  # failed stays failed

    assert channels.retry_channel_delivery(failed.id, alice.id, now=later(hours=2))
    assert channels.drain(later(hours=2)) == 1
    ids = {request.headers["X-GitPulse-Delivery"] for request in receiver.requests}
    assert len(receiver.requests) == 4 and ids == {failed.delivery_uuid}
    assert team.deliveries(channel_id)[0].status == "sent"


def test_slack_channel_is_archived_disables_the_channel_with_that_reason(team, fake_chat,
                                                                      configure):
    configure(GITPULSE_ADMINS="alice")
    slack = fake_chat("slack")
    slack.script(FakeSlack.error("channel_is_archived", 410))
    alice = team.user("alice")
    team.merged("alice", "Archive me")
    channel_id = team.channel("alice", "slack", slack.url)

    run_tick(TICK)

    (delivery,) = team.deliveries(channel_id)
    assert delivery.status == "failed" and "channel_is_archived" in delivery.last_error
    (view,) = list_channels(alice.id)
    assert view.status == "disabled" and "channel_is_archived" in view.disabled_reason
    assert len(slack.requests) == 1
    ops = load_ops(alice.id)  # and on /ops, without the URL
    assert [(p.status, p.owner) for p in ops.channel_problems] == [("disabled", "alice"),
                                                                    ("failed", "alice")]
    assert all("channel_is_archived" in p.detail for p in ops.channel_problems)
    assert SLACK_SECRET_PART not in repr(ops.channel_problems)


def test_a_title_written_to_ping_or_link_pings_nobody_and_links_nowhere(team, fake_chat):
    slack, discord = fake_chat("slack"), fake_chat("discord")
    team.user("alice")
    title = ("@everyone @here <!channel> <!here> <@U024BE7LH> <@&1234> <#5678> "
             "[free money](https://evil.example/a) www.evil.example https://evil.example/b")
    (cited,) = team.merged("alice", title)
    team.channel("alice", "slack", slack.url)
    team.channel("alice", "discord", discord.url)

    run_tick(TICK)

    (slack_message,) = slack.messages
    (discord_message,) = discord.messages
    allowed = {cited} | {u for u in re.findall(rf"{re.escape(BASE_URL)}/reports/\d+",
                                               json.dumps(slack_message))}
    slack_text = json.dumps(slack_message, ensure_ascii=False)
    assert "<!" not in slack_text and "<@" not in slack_text and "<#" not in slack_text
    assert "@everyone" not in slack_text and "@here" not in slack_text
    assert set(SLACK_LINK.findall(slack_text)) <= allowed and cited in slack_text
    assert "https://evil" not in slack_text and "www.evil" not in slack_text

    assert discord_message["allowed_mentions"] == {"parse": []}
    discord_text = json.dumps(discord_message, ensure_ascii=False)
    assert "@everyone" not in discord_text and "@here" not in discord_text
    assert "<@" not in discord_text and "<#" not in discord_text
    assert set(MARKDOWN_LINK.findall(discord_text)) <= allowed | {
        discord_message["embeds"][0]["url"]}
    assert "https://evil" not in discord_text and "www.evil" not in discord_text


def test_a_repository_team_channel_gets_a_digest_of_that_repository_in_discord(team, fake_chat):
    discord = fake_chat("discord")
    team.user("alice")
    team.user("bob")
    bob = team.merged("bob", "Tune the cache")
    channel_id = team.channel("alice", "discord", discord.url, repo="ACME/app",
                              reports=["daily"])

    run_tick(TICK)
    run_tick(later(hours=1))

    (message,) = discord.messages
    (embed,) = message["embeds"]
    assert f"]({bob[0]})" in embed["description"] and "Repository acme/app" in \
        embed["footer"]["text"]
    (delivery,) = team.deliveries(channel_id)
    assert delivery.status == "sent" and embed["url"] == f"{BASE_URL}/reports/{delivery.report_id}"


def test_a_team_digest_follows_the_owners_work_week(team, fake_chat):
    receiver = fake_chat("webhook")
    team.user("alice", work_days="12345")
    team.user("bob")
    saturday = dt.datetime(2025, 12, 6, 11, tzinfo=dt.UTC)
    weekend = team.merged("bob", "Weekend hotfix", at=(saturday,))
    team.channel("alice", "webhook", receiver.url, logins=["bob"], reports=["daily"],
                 secret=SECRET)

    run_tick(dt.datetime(2025, 12, 9, 0, 15, tzinfo=dt.UTC))  # Tuesday: Monday's window ended

    (request,) = receiver.requests
    report = json.loads(request.body)["report"]
    assert (report["start"], report["end"]) == ("2025-12-06T00:00:00Z", "2025-12-09T00:00:00Z")
    assert report["citations"] == weekend
