import datetime as dt

import pytest
from sqlmodel import Session

from gitpulse_app.core.models import TrackedRepo, User, UserInstallation
from gitpulse_app.intelligence import timeline as timeline_module
from gitpulse_app.intelligence.timeline import (
    CSV_COLUMNS,
    TimelineError,
    TimelineFilters,
    csv_safe,
    decode_cursor,
    export_rows,
    export_window,
    load_timeline_page,
    parse_bound,
    search_timeline,
    timeline_options,
    timeline_page,
)
from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.support.rows import make_app_source, make_event, make_repo, make_user

BASE = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def world(engine):
    """Alice sees acme/api and acme/web; acme/secret is someone else's."""
    with Session(engine) as session:
        alice, bob, eve = (make_user(session, name) for name in ("alice", "bob", "eve"))
        api, web, secret = (make_repo(session, name)
                            for name in ("acme/api", "acme/web", "acme/secret"))
        make_app_source(session, alice, api, web)
        make_app_source(session, eve, secret)
        yield session, {"alice": alice, "bob": bob, "eve": eve, "api": api, "web": web,
                        "secret": secret}


def test_pages_of_50_are_newest_first_and_keyset_cursors_never_repeat_or_skip(world):
    session, w = world
    facts = [make_event(session, w["api"], w["bob"], BASE + dt.timedelta(minutes=i // 3))
             for i in range(120)]  # three facts share each instant
    seen, cursor, pages = [], None, 0
    while True:
        page = timeline_page(session, repo_ids={w["api"].id, w["web"].id},
                             filters=TimelineFilters(), zone="UTC", cursor=cursor)
        pages += 1
        seen += [row.event_id for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [f.id for f in sorted(facts, key=lambda f: (f.ts, f.id), reverse=True)]
    assert seen == expected and pages == 3


def test_a_fact_arriving_meanwhile_does_not_shift_the_next_page(world):
    session, w = world
    for i in range(60):
        make_event(session, w["api"], w["bob"], BASE + dt.timedelta(minutes=i))
    first = timeline_page(session, repo_ids={w["api"].id}, filters=TimelineFilters(), zone="UTC")
    make_event(session, w["api"], w["bob"], BASE + dt.timedelta(days=1))
    second = timeline_page(session, repo_ids={w["api"].id}, filters=TimelineFilters(), zone="UTC",
                           cursor=first.next_cursor)
    assert len(first.rows) == 50 and len(second.rows) == 10
    assert second.rows[0].ts == first.rows[-1].ts - dt.timedelta(minutes=1)


def test_only_visible_facts_are_listed_and_untracked_repositories_drop_out(world):
    session, w = world
    make_event(session, w["api"], w["bob"], BASE)
    make_event(session, w["web"], w["bob"], BASE)
    make_event(session, w["secret"], w["eve"], BASE)
    page = load_timeline_page(w["alice"].id, TimelineFilters(), "UTC")
    assert {row.repo for row in page.rows} == {"acme/api", "acme/web"}
    source_id = session.exec(
        UserInstallation.__table__.select().where(UserInstallation.user_id == w["alice"].id)
    ).first().installation_id
    session.add(TrackedRepo(user_id=w["alice"].id, installation_id=source_id,
                            repo_full_name="acme/web", tracked=False))
    session.commit()
    assert {row.repo for row in load_timeline_page(w["alice"].id, TimelineFilters(), "UTC").rows} \
        == {"acme/api"}
    assert load_timeline_page(w["alice"].id, TimelineFilters(repo="acme/secret"), "UTC").rows == []


def test_filters_narrow_by_repo_person_types_and_inclusive_local_dates(world):
    session, w = world
    ids = {w["api"].id, w["web"].id}
    a = make_event(session, w["api"], w["bob"], at("2025-12-04T05:59:00Z"), "commit")  # Dec 3 CST
    b = make_event(session, w["api"], w["alice"], at("2025-12-04T06:00:00Z"), "pr_opened")
    c = make_event(session, w["web"], w["bob"], at("2025-12-06T05:59:00Z"), "issue_opened")
    d = make_event(session, w["web"], w["bob"], at("2025-12-06T06:00:00Z"), "commit")  # Dec 6 CST

    def listed(**filters) -> list[int]:
        page = timeline_page(session, repo_ids=ids, filters=TimelineFilters(**filters),
                             zone="America/Chicago")
        return [row.event_id for row in page.rows]

    assert listed() == [d.id, c.id, b.id, a.id]
    assert listed(repo="ACME/web") == [d.id, c.id]
    assert listed(actor_id=w["alice"].id) == [b.id]
    assert listed(types=("commit", "issue_opened")) == [d.id, c.id, a.id]
    assert listed(types=("nonsense",)) == []
    assert listed(start_date=dt.date(2025, 12, 4), end_date=dt.date(2025, 12, 5)) == [c.id, b.id]


def test_a_malformed_cursor_is_a_timeline_error():
    with pytest.raises(TimelineError):
        decode_cursor("garbage")
    with pytest.raises(TimelineError):
        decode_cursor("2025-12-01T00:00:00|x")


def test_filter_options_name_visible_repositories_and_the_people_acting_in_them(world):
    session, w = world
    make_event(session, w["api"], w["bob"], BASE)
    make_event(session, w["secret"], w["eve"], BASE)
    git_only = User(git_email="carol@example.com", display_name="Carol C")
    session.add(git_only)
    session.commit()
    make_event(session, w["web"], git_only, BASE)
    options = timeline_options(session, w["alice"].id)
    assert options.repos == ["acme/api", "acme/web"]
    assert [person.label for person in options.people] == ["bob", "Carol C"]


@pytest.mark.parametrize(("value", "expected"), [
    ("=SUM(A1:A2)", "'=SUM(A1:A2)"), ("+1", "'+1"), ("-1", "'-1"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), (None, ""), (12, "12"),
])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote_prefix(value, expected):
    assert csv_safe(value) == expected


def test_export_bounds_are_local_dates_with_inclusive_end_or_iso_instants():
    zone = "America/Chicago"
    assert parse_bound("2025-12-04", zone, name="start", is_end=False) == at("2025-12-04T06:00:00Z")
    assert parse_bound("2025-12-04", zone, name="end", is_end=True) == at("2025-12-05T06:00:00Z")
    assert parse_bound("2025-12-04T10:00:00Z", zone, name="end", is_end=True) == at(
        "2025-12-04T10:00:00Z")
    assert parse_bound("2025-12-04T10:00:00", zone, name="start", is_end=False) == at(
        "2025-12-04T10:00:00Z")
    with pytest.raises(TimelineError, match=r"^Invalid start: expected YYYY-MM-DD or an ISO-8601 "
                                            r"timestamp$"):
        parse_bound("yesterday", zone, name="start", is_end=False)
    start, end = export_window(None, None, "UTC", at("2025-12-10T15:00:00Z"))
    assert (start, end) == (at("2025-11-11T00:00:00Z"), at("2025-12-11T00:00:00Z"))
    start, end = export_window(None, "2025-12-04", "UTC", at("2025-12-10T15:00:00Z"))
    assert (start, end) == (at("2025-11-05T00:00:00Z"), at("2025-12-05T00:00:00Z"))


def test_export_rows_are_visible_facts_oldest_first_in_every_column(world, monkeypatch):
    session, w = world
    monkeypatch.setattr(timeline_module, "EXPORT_BATCH", 2)
    first = make_event(session, w["api"], w["bob"], at("2025-12-04T05:00:00Z"), "commit",
                     text="=HYPERLINK(\"x\")", additions=3, deletions=1, files_changed=2)
    for minute in range(4):
        make_event(session, w["web"], w["alice"], at("2025-12-04T07:00:00Z") + dt.timedelta(
            minutes=minute), "pr_opened")
    make_event(session, w["secret"], w["eve"], at("2025-12-04T07:00:00Z"))
    rows = list(export_rows(w["alice"].id, start=at("2025-12-01T00:00:00Z"),
                            end=at("2025-12-08T00:00:00Z"), zone="America/Chicago"))
    assert len(rows) == 5 and all(len(row) == len(CSV_COLUMNS) for row in rows)
    assert rows[0] == ["2025-12-04T05:00:00Z", "2025-12-03", "commit", "acme/api", "bob",
                       "'=HYPERLINK(\"x\")", first.source_url, "3", "1", "2", first.content_hash]
    assert [row[3] for row in rows[1:]] == ["acme/web"] * 4
    only_api = list(export_rows(w["alice"].id, start=at("2025-12-01T00:00:00Z"),
                                end=at("2025-12-08T00:00:00Z"), zone="UTC", repo="acme/api"))
    assert [row[6] for row in only_api] == [first.source_url]


def test_search_ranks_visible_facts_by_meaning(engine):
    with Session(engine) as session:
        alice = make_user(session, "alice")
        api, secret = make_repo(session, "acme/api"), make_repo(session, "acme/secret")
        make_app_source(session, alice, api)
        for text in ("Fix the auth bug in login", "Update README badges", "Bump numpy"):
            make_event(session, api, alice, BASE, text=text)
        make_event(session, secret, alice, BASE, text="Another auth bug fix")
        alice_id = alice.id
    hits = search_timeline(alice_id, "auth bug", TimelineFilters(), "UTC")
    assert hits[0].row.canonical_text == "Fix the auth bug in login"
    assert all(hit.row.repo == "acme/api" for hit in hits) and 0 < hits[0].score <= 1


def test_facts_ingested_through_the_fact_store_appear_on_the_timeline(engine):
    with Session(engine) as session:
        alice = make_user(session, "alice")
        repo_ref = RepoRef(gh_id=424242, full_name="acme/ingested", owner="acme", name="ingested")
        facts = [
            NormalizedFact(type="pr_opened", repo=repo_ref,
                           actor=ActorRef(gh_id=alice.gh_id, login="alice"),
                           ts=BASE + dt.timedelta(hours=n),
                           source_url=f"https://github.com/acme/ingested/pull/{n}",
                           metadata={"number": n, "title": f"Feature {n}"})
            for n in (1, 2)
        ]
        ingest_facts(facts, observed_via="webhook")
        make_app_source(session, alice, "acme/ingested")
        alice_id = alice.id
    rows = load_timeline_page(alice_id, TimelineFilters(), "UTC").rows
    assert [(row.repo, row.actor, row.type) for row in rows] == [
        ("acme/ingested", "alice", "pr_opened")] * 2
    assert [row.canonical_text for row in rows] == ["PR #2 – Feature 2 opened by alice",
                                                    "PR #1 – Feature 1 opened by alice"]
