"""A sync pins the names a source lists to the repository ids GitHub answers (docs/VISIBILITY.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.sync.sources import ensure_env_source
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Installation, Repo, TrackedRepo
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import run_jobs, start_sync
from tests.acquisition.sync.worker.world import World, populate, serve

pytestmark = pytest.mark.usefixtures("db")


def test_a_sync_pins_a_name_only_choice_and_the_source_to_the_id_github_answered(
        github, sleeps, now):
    serve(github, populate(World("acme/web", 502), now))
    source = ensure_env_source("acme/web")
    operator = f.user()
    f.link(operator, source, role="viewer")
    f.track(operator, source, "ACME/web")  # a choice made before the repository was stored
    with session_scope() as session:
        assert access.visible_repo_ids(session, operator.id) == set()

    start_sync(["acme/web"], now - dt.timedelta(days=30))
    run_jobs(sleeps)

    [choice] = f.all_rows(TrackedRepo)
    assert choice.repo_gh_id == 502
    assert f.get(Installation, source.id).repository_ids == [502]
    [repo] = f.all_rows(Repo)
    with session_scope() as session:
        assert access.visible_repo_ids(session, operator.id) == {repo.id}


def test_a_sync_never_repoints_a_choice_github_already_confirmed(github, sleeps, now):
    serve(github, populate(World("acme/web", 502), now))
    source = ensure_env_source("acme/web")
    operator = f.user()
    f.link(operator, source, role="viewer")
    with session_scope() as session:
        # Confirmed as another repository that held the name before.
        access.set_choice(session, operator.id, source.id, "acme/web", True, 401)

    start_sync(["acme/web"], now - dt.timedelta(days=30))
    run_jobs(sleeps)

    [choice] = f.all_rows(TrackedRepo)
    assert choice.repo_gh_id == 401
    with session_scope() as session:
        assert access.visible_repo_ids(session, operator.id) == set()
