"""Visibility of sources and repositories (docs/VISIBILITY.md) as sync and the UI use it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from gitpulse_app.acquisition.access import (
    can_see_installation,
    syncable_repos,
    tracked_repos_of_user,
    visible_installations,
    visible_repo_names,
)
from gitpulse_app.core.models import Installation
from tests.acquisition.sync import factories as f

pytestmark = pytest.mark.usefixtures("engine")


def test_a_user_sees_only_linked_installations_that_are_not_deleted(session: Session) -> None:
    person = f.user()
    mine = f.installation()
    gone = f.installation(status="deleted")
    paused = f.installation(status="suspended")
    f.installation()  # not linked
    for source in (mine, gone, paused):
        f.link(person, source)
    assert [i.id for i in visible_installations(session, person.id)] == [mine.id, paused.id]
    assert can_see_installation(session, person.id, paused.id)
    assert not can_see_installation(session, person.id, gone.id)
    assert not can_see_installation(session, person.id, 424242)


def test_app_installations_are_opt_out(session: Session) -> None:
    source, owner = f.healthy_installation(repositories=["acme/a", "acme/B", "acme/c"])
    f.track(owner, source, "acme/b", tracked=False)
    f.track(owner, source, "acme/zzz", tracked=True)  # not in the installation: ignored
    inst = session.get(Installation, source.id)
    assert tracked_repos_of_user(session, owner.id, inst) == ["acme/a", "acme/c"]
    assert tracked_repos_of_user(session, f.user().id, inst) == []


def test_pat_sources_are_opt_in(session: Session) -> None:
    source, owner = f.healthy_installation(kind="pat", gh_installation_id=None, repositories=[])
    f.track(owner, source, "solo/one", tracked=True)
    f.track(owner, source, "solo/two", tracked=False)
    inst = session.get(Installation, source.id)
    assert tracked_repos_of_user(session, owner.id, inst) == ["solo/one"]


def test_syncable_repos_are_tracked_by_at_least_one_linked_user(session: Session) -> None:
    source, owner = f.healthy_installation(repositories=["acme/a", "acme/b", "acme/c"])
    viewer = f.user()
    f.link(viewer, source, role="viewer")
    outsider = f.user()
    f.track(owner, source, "acme/a", tracked=False)
    f.track(viewer, source, "acme/a", tracked=False)
    f.track(owner, source, "acme/b", tracked=False)
    f.track(outsider, source, "acme/c", tracked=False)  # not linked: no say
    inst = session.get(Installation, source.id)
    assert syncable_repos(session, inst) == ["acme/b", "acme/c"]


def test_env_pat_repos_are_visible_only_to_users_tracking_them(session: Session) -> None:
    server = f.installation(kind="env_pat", gh_installation_id=None, repositories=[])
    tracker, other = f.user(), f.user()
    f.link(tracker, server, role="viewer")
    f.link(other, server, role="viewer")
    f.track(tracker, server, "oss/lib", tracked=True)
    assert visible_repo_names(session, tracker.id) == {"oss/lib"}
    assert visible_repo_names(session, other.id) == set()
    assert syncable_repos(session, session.get(Installation, server.id)) == ["oss/lib"]
