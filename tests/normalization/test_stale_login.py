"""The one stale-login rule (normalization/identity.py), used by fact actors and by sign-in."""

import datetime as dt

import pytest

from gitpulse_app.core.models import User
from gitpulse_app.normalization.identity import (
    LoginRelease,
    login_is_stale,
    stale_login_release,
)

SIGNED_UP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _user(**fields) -> User:
    return User(**{"id": 3, "gh_login": "alice", **fields})


def test_another_row_holding_a_stored_accounts_login_is_stale():
    owner = _user(id=1, gh_id=7)
    assert login_is_stale(_user(id=2, gh_id=8), owner=owner, gh_id=7)
    assert login_is_stale(_user(id=2), owner=owner, gh_id=7)
    assert not login_is_stale(owner, owner=owner, gh_id=7)


def test_without_the_stored_account_only_another_github_account_is_stale():
    assert login_is_stale(_user(gh_id=8), owner=None, gh_id=7)
    # Known only by the login, or seen without a gh_id: the same person, upgraded in place.
    assert not login_is_stale(_user(), owner=None, gh_id=7)
    assert not login_is_stale(_user(gh_id=8), owner=None, gh_id=None)


def test_another_github_account_keeps_its_row_under_a_marked_login():
    assert stale_login_release(_user(gh_id=8), has_keeper=True) == LoginRelease("alice#8")
    assert stale_login_release(_user(gh_id=8), has_keeper=False) == LoginRelease("alice#8")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"git_email": "a@example.com"}, LoginRelease(None, move_facts=True)),
        ({}, LoginRelease("alice", move_facts=True, delete=True)),
        ({"signed_up_at": SIGNED_UP}, LoginRelease("alice#3", move_facts=True)),
        ({"is_demo": True}, LoginRelease("alice#3", move_facts=True)),
    ],
)
def test_a_login_only_row_is_the_keepers_account_seen_earlier(fields, expected):
    assert stale_login_release(_user(**fields), has_keeper=True) == expected


def test_a_login_only_row_without_a_keeper_is_marked_by_its_id():
    assert stale_login_release(_user(), has_keeper=False) == LoginRelease("alice#3")
