import csv
import datetime as dt
import hashlib
import io
import itertools
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import create_db_engine, session_scope, set_engine
from gitpulse_app.core.models import Event
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.intelligence.timeline import CSV_COLUMNS
from tests.support.rows import make_app_source, make_repo, make_user, stored_id

_serial = itertools.count(1)
BAD_DATES = "expected YYYY-MM-DD or an ISO-8601 timestamp"


@pytest.fixture
def client(engine) -> Iterator[TestClient]:
    with TestClient(create_api(with_workers=False), follow_redirects=False) as test_client:
        yield test_client


def _add(*rows):
    with session_scope() as session:
        for row in rows:
            session.add(row)
        session.flush()
        return [row.id for row in rows]


def person(login: str, zone: str | None = None) -> int:
    return stored_id(make_user, login, timezone=zone)


def repository(full_name: str) -> int:
    return stored_id(make_repo, full_name)


def link(user_id: int, *names: str) -> None:
    """An App source listing the stored repositories `names` (by their GitHub ids)."""
    stored_id(make_app_source, user_id, *names)


def fact(repo_id: int, actor_id: int, ts: dt.datetime, text: str = "Commit abc") -> str:
    url = f"https://github.com/x/y/commit/{next(_serial):040x}"
    _add(Event(type="commit", repo_id=repo_id, actor_id=actor_id, ts=ts, canonical_text=text,
               source_url=url, content_hash=hashlib.sha256(url.encode()).hexdigest(),
               observed_via="webhook"))
    return url


def sign_in(client: TestClient, user_id: int) -> None:
    with session_scope() as session:
        token = start_session(session, user_id, "pytest")
    client.cookies.set("gitpulse_session", token)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


@pytest.fixture
def alice(client) -> dict:
    alice_id = person("alice", "America/Chicago")
    eve_id = person("eve")
    api, secret = repository("acme/api"), repository("acme/secret")
    link(alice_id, "acme/api")
    link(eve_id, "acme/secret")
    sign_in(client, alice_id)
    return {"id": alice_id, "eve": eve_id, "api": api, "secret": secret}


def test_signed_out_export_is_401(client):
    response = client.get("/api/export/timeline.csv")
    assert response.status_code == 401
    assert response.json() == {"error": "Not signed in"}


def test_an_unknown_session_token_is_signed_out(client):
    client.cookies.set("gitpulse_session", "forged")
    assert client.get("/api/export/timeline.csv").status_code == 401


@pytest.mark.parametrize("path", ["/api/export/timeline.csv", "/api/reports/1.md"])
def test_signed_in_downloads_answer_503_while_the_database_is_down(client, alice, path):
    set_engine(create_db_engine("postgresql+psycopg://postgres@127.0.0.1:1/down"))
    response = client.get(path)
    assert response.status_code == 503
    assert response.json() == {"error": "Service temporarily unavailable"}
    client.cookies.clear()
    assert client.get(path).status_code == 401  # no cookie: signed out, database or not


@pytest.mark.parametrize(("params", "name"), [
    ({"start": "2025-13-01"}, "start"), ({"start": "yesterday"}, "start"),
    ({"end": "12/05/2025"}, "end"),
])
def test_bad_dates_are_400_naming_the_parameter(client, alice, params, name):
    response = client.get("/api/export/timeline.csv", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": f"Invalid {name}: {BAD_DATES}"}


def test_an_invisible_repository_is_404_exactly_like_a_missing_one(client, alice):
    for repo in ("acme/secret", "acme/missing"):
        response = client.get("/api/export/timeline.csv", params={"repo": repo})
        assert response.status_code == 404
        assert response.json() == {"error": "Repository not found"}


def test_export_is_utf8_csv_of_visible_facts_in_the_local_date_range(client, alice):
    inside = fact(alice["api"], alice["id"], dt.datetime(2025, 12, 5, 5, 30, tzinfo=dt.UTC),
                  "-rm -rf é")  # Dec 4, 23:30 in Chicago
    fact(alice["api"], alice["id"], dt.datetime(2025, 12, 5, 6, 0, tzinfo=dt.UTC))  # Dec 5 local
    fact(alice["secret"], alice["eve"], dt.datetime(2025, 12, 4, 12, 0, tzinfo=dt.UTC))

    response = client.get("/api/export/timeline.csv",
                          params={"start": "2025-12-04", "end": "2025-12-04"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = rows_of(response)
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][:7] == ["2025-12-05T05:30:00Z", "2025-12-04", "commit", "acme/api", "alice",
                           "'-rm -rf é", inside]
    assert len(rows) == 2


def test_iso_instants_bound_the_export_with_an_exclusive_end_and_repo_narrows_it(client, alice):
    web = repository("acme/web")
    link(alice["id"], "acme/web")
    first = fact(alice["api"], alice["id"], dt.datetime(2025, 12, 5, 10, tzinfo=dt.UTC))
    fact(alice["api"], alice["id"], dt.datetime(2025, 12, 5, 11, tzinfo=dt.UTC))
    fact(web, alice["id"], dt.datetime(2025, 12, 5, 10, 30, tzinfo=dt.UTC))
    response = client.get("/api/export/timeline.csv", params={
        "start": "2025-12-05T10:00:00Z", "end": "2025-12-05T11:00:00Z", "repo": "acme/api"})
    assert [row[6] for row in rows_of(response)[1:]] == [first]


def test_the_default_range_is_the_last_30_local_days(client, alice):
    now = utcnow()
    recent = fact(alice["api"], alice["id"], now - dt.timedelta(days=2))
    fact(alice["api"], alice["id"], now - dt.timedelta(days=40))
    assert [row[6] for row in rows_of(client.get("/api/export/timeline.csv"))[1:]] == [recent]
