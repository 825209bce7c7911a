"""No server-side request forgery: https only, public addresses only, on save and on send."""

from __future__ import annotations

import pytest

from gitpulse_app.intelligence.delivery import channels
from gitpulse_app.intelligence.delivery.channels.guard import (
    ChannelURLError,
    GuardedBackend,
    check_url,
)
from gitpulse_app.intelligence.delivery.channels.service import (
    ChannelError,
    ChannelInput,
    add_channel,
    list_channels,
)
from gitpulse_app.intelligence.delivery.channels.transport import post
from gitpulse_app.intelligence.scheduler import run_tick
from tests.intelligence.delivery.channels.conftest import TICK
from tests.support.fake_http import FakeResponse


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://[::1]/hook",
    "https://169.254.169.254/latest", "https://192.168.1.5/x", "https://localhost/hook",
    "https://[::ffff:10.0.0.1]/x", "https://224.0.0.1/x", "https://0.0.0.0/x",
])
def test_a_url_resolving_to_a_private_or_local_address_is_refused(url):
    with pytest.raises(ChannelURLError, match="GITPULSE_CHANNELS_ALLOW_PRIVATE=1"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(("url", "message"), [
    ("http://93.184.216.34/hook", "https://"), ("ftp://93.184.216.34/x", "https://"),
    ("https://user:pw@93.184.216.34/x", "user name or password"), ("https:///x", "no host"),
    ("", "Enter the channel's URL"), ("https://93.184.216.34/a b", "spaces"),
])
def test_a_malformed_or_plain_http_url_is_refused(url, message):
    with pytest.raises(ChannelURLError, match=message):
        check_url(url, allow_private=False)


def test_a_public_https_url_is_accepted_and_the_setting_lifts_both_rules():
    assert check_url(" https://93.184.216.34/hook ", allow_private=False) == \
        "https://93.184.216.34/hook"
    assert check_url("http://10.0.0.1/hook", allow_private=True) == "http://10.0.0.1/hook"
    assert check_url("https://127.0.0.1/hook", allow_private=True) == "https://127.0.0.1/hook"


def test_saving_a_private_channel_is_refused_unless_allowed(team, configure):
    alice = team.user("alice")
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE=None)
    for url in ("https://127.0.0.1/services/T/B/x", "https://10.0.0.1/services/T/B/x"):
        with pytest.raises(ChannelError, match="private or local address"):
            add_channel(alice.id, ChannelInput(kind="slack", url=url))
    assert list_channels(alice.id) == []  # nothing stored

    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    added = add_channel(alice.id, ChannelInput(kind="slack", url="https://10.0.0.1/services/x"))
    assert added.view.url_hint == "…/es/x"
    (view,) = list_channels(alice.id)
    assert "10.0.0.1" not in repr(view)  # the URL itself never leaves the service


def test_sending_checks_the_address_again(team, fake_chat, configure):
    slack = fake_chat("slack")
    team.user("alice")
    team.merged("alice", "Saved while allowed")
    channel_id = team.channel("alice", "slack", slack.url)
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE=None)  # the rule is back (or the name re-resolved)

    run_tick(TICK)

    (delivery,) = team.deliveries(channel_id)
    assert delivery.status == "failed" and "must start with https://" in delivery.last_error
    assert slack.requests == [] and channels.drain(TICK) == 0


def test_the_connection_itself_refuses_a_private_address(fake_chat):
    # What a name re-resolving to an internal address after it was saved meets: the sender
    # resolves and checks the address at connect time, so nothing is sent.
    slack = fake_chat("slack")
    url = slack.url.replace("http://", "https://")
    answer = post(url, b"{}", {}, allow_private=False, now=TICK)

    assert answer.refused and answer.status is None
    assert "127.0.0.1" in answer.error and slack.requests == []
    with pytest.raises(ChannelURLError):
        GuardedBackend(allow_private=False).connect_tcp("localhost", slack.server.port)


def test_redirects_are_not_followed(team, fake_chat):
    receiver, elsewhere = fake_chat("webhook"), fake_chat("webhook")
    receiver.script(FakeResponse(302, headers={"Location": elsewhere.url}))
    team.user("alice")
    team.merged("alice", "Redirect me")
    channel_id = team.channel("alice", "webhook", receiver.url)

    run_tick(TICK)

    (delivery,) = team.deliveries(channel_id)
    assert delivery.status == "failed" and "redirects are not followed" in delivery.last_error
    assert elsewhere.requests == []
