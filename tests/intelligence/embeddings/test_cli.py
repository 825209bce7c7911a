import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import Repo
from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.intelligence.embeddings.conftest import link, make_repo, make_user

ROOT = Path(__file__).resolve().parents[3]
ALICE_GH_ID = 583231


def run_cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_"))}
    base |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test",
             "DATABASE_URL": database_url} | env
    return subprocess.run([sys.executable, "-m", "gitpulse_app", *args], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def workspace(tmp_path):
    """A migrated SQLite file with alice seeing acme/app (and not acme/secret)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)  # the fact_changed receiver queues embeddings in the process's database
    with Session(engine, expire_on_commit=False) as session:
        alice = make_user(session, "alice", timezone="America/Chicago")
        alice.gh_id = ALICE_GH_ID
        session.commit()
        make_user(session, "bob")
        link(session, alice, make_repo(session, "acme/app"))
    yield url, engine
    set_engine(None)
    engine.dispose()


def _facts(repo_id: int, full_name: str, titles: list[str]) -> list[NormalizedFact]:
    repo = RepoRef(gh_id=repo_id, full_name=full_name, owner=full_name.split("/")[0],
                   name=full_name.split("/")[1],
                   raw={"id": repo_id, "full_name": full_name, "name": full_name.split("/")[1],
                        "owner": {"login": full_name.split("/")[0]}})
    return [
        NormalizedFact(type="pr_merged", repo=repo, actor=ActorRef(gh_id=ALICE_GH_ID, login="alice"),
                       ts=dt.datetime(2025, 12, 5, 3, n, tzinfo=dt.UTC),
                       source_url=f"https://github.com/{full_name}/pull/{n}",
                       metadata={"number": n, "title": title})
        for n, title in enumerate(titles, start=1)
    ]


def test_search_right_after_ingesting_facts_finds_them_with_no_backend_running(workspace):
    url, engine = workspace
    with Session(engine) as session:
        app_gh_id = session.exec(select(Repo.gh_id)).first()
    ingest_facts(_facts(app_gh_id, "acme/app", ["Fix the auth bug in login", "Update README",
                                                "Auth bug: expire stale sessions", "Bump deps"]),
                 observed_via="webhook", engine=engine)
    ingest_facts(_facts(999, "acme/secret", ["Fix the auth bug everywhere"]),
                 observed_via="webhook", engine=engine)

    result = run_cli("search", "auth bug", "--login", "ALICE", "--json", database_url=url)

    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert [hit["repo"] for hit in hits] == ["acme/app"] * len(hits)
    assert {hit["url"] for hit in hits[:2]} == {"https://github.com/acme/app/pull/1",
                                                "https://github.com/acme/app/pull/3"}
    assert hits[0]["local_date"] == "2025-12-04"  # 03:0x UTC is the evening before in Chicago
    assert set(hits[0]) >= {"score", "local_date", "repo", "canonical_text", "url"}

    human = run_cli("search", "auth bug", "--login", "alice", "--limit", "1", database_url=url)
    assert human.returncode == 0, human.stderr
    [line] = human.stdout.strip().splitlines()
    score, date, repo, rest = line.split("  ", 3)
    assert float(score) > 0 and date == "2025-12-04" and repo == "acme/app"
    assert rest.endswith("https://github.com/acme/app/pull/1") or rest.endswith("/pull/3")


def test_search_for_an_unknown_login_exits_1(workspace):
    url, _ = workspace
    result = run_cli("search", "auth", "--login", "nobody", "--json", database_url=url)

    assert result.returncode == 1
    assert json.loads(result.stdout) == {"error": "No user with login nobody"}
    assert "No user with login nobody" in result.stderr


def test_search_with_an_empty_text_or_an_invisible_repo_exits_1(workspace):
    url, _ = workspace
    empty = run_cli("search", "   ", "--login", "alice", database_url=url)
    hidden = run_cli("search", "auth", "--login", "bob", "--repo", "acme/app", database_url=url)

    assert empty.returncode == 1 and "search text is empty" in empty.stderr
    assert hidden.returncode == 1 and "Repository acme/app not found" in hidden.stderr


def test_search_dates_are_local_days_with_an_inclusive_end(workspace):
    url, engine = workspace
    with Session(engine) as session:
        gh_id = session.exec(select(Repo.gh_id)).first()
    ingest_facts(_facts(gh_id, "acme/app", ["Auth bug one"]), observed_via="webhook", engine=engine)

    inside = run_cli("search", "auth bug", "--login", "alice", "--start", "2025-12-04", "--end",
                     "2025-12-04", "--json", database_url=url)
    after = run_cli("search", "auth bug", "--login", "alice", "--start", "2025-12-05", "--json",
                    database_url=url)

    assert len(json.loads(inside.stdout)["hits"]) == 1
    assert json.loads(after.stdout)["hits"] == []
