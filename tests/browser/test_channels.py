"""Settings → Channels in headless Chromium: add a Slack channel, send a test message to a fake
Slack on 127.0.0.1, and see its status change when Slack reports the channel archived."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import Workspace, db  # noqa: F401 — `db` is a fixture
from tests.support.fake_chat import SLACK_PATH, FakeSlack

pytestmark = pytest.mark.browser


def test_add_a_channel_send_a_test_message_and_see_its_status(page, live_app, db, fake_chat):  # noqa: F811
    slack = fake_chat("slack")
    Workspace(page, live_app)
    page.goto("/settings")
    card = page.locator("#channels")
    expect(card.get_by_role("heading", name="Channels")).to_be_visible()
    expect(card.get_by_text("No channels yet.")).to_be_visible()

    page.locator("#channel-name").fill("#standup")
    page.locator("#channel-url").fill(slack.url)
    page.locator("#add-channel").click()

    expect(page.get_by_text("Channel #standup added.")).to_be_visible()
    row = card.locator(".channel-row")
    expect(row).to_have_count(1)
    expect(row.locator(".channel-state")).to_have_text("Active")
    expect(row).to_contain_text("…/" + SLACK_PATH[-4:])
    assert SLACK_PATH.split("/")[-1] not in page.content()  # the URL never reaches the browser

    row.get_by_role("button", name="Send test message").click()
    expect(row.locator(".channel-test")).to_have_text("Last test: Slack answered HTTP 200 ok")
    (message,) = slack.messages
    assert message["blocks"][0]["text"]["text"] == "GitPulse test message"

    slack.script(FakeSlack.error("channel_is_archived", 410))
    row.get_by_role("button", name="Send test message").click()
    expect(row.locator(".channel-state")).to_have_text("Disabled")
    expect(row.locator(".channel-reason")).to_contain_text("channel_is_archived")


def test_a_webhook_channel_shows_its_generated_secret_once(page, live_app, db, fake_chat):  # noqa: F811
    receiver = fake_chat("webhook")
    Workspace(page, live_app)
    page.goto("/settings")
    page.locator("#channel-kind").click()
    page.get_by_role("option", name="Webhook").click()
    page.locator("#channel-url").fill(receiver.url)
    page.locator("#add-channel").click()

    secret = page.locator("#channel-new-secret")
    expect(secret).to_be_visible()
    assert len(secret.inner_text()) >= 32
    row = page.locator("#channels .channel-row")
    expect(row).to_contain_text("Webhook")
    row.get_by_role("button", name="Send test message").click()
    expect(row.locator(".channel-test")).to_have_text("Last test: The endpoint answered HTTP 200 ok")
    assert receiver.requests[0].headers["X-GitPulse-Event"] == "ping"

    page.reload()
    expect(page.locator("#channels .channel-row")).to_have_count(1)
    expect(page.locator("#channel-new-secret")).to_have_count(0)
