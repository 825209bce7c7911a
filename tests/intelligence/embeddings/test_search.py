import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from gitpulse_app.core.models import Embedding, Event
from gitpulse_app.intelligence.embeddings import (
    SearchError,
    drain,
    enqueue_events,
    search_facts,
    search_for_user,
)
from gitpulse_app.intelligence.embeddings.providers import LOCAL_MODEL, local_vector
from tests.intelligence.embeddings.conftest import (
    embedding_calls,
    embeddings,
    link,
    make_facts,
    make_repo,
    make_user,
    queue_rows,
    voyage_error,
)

AUTH = [
    "Fix the auth bug that logged users out",
    "Auth bug: token refresh fails after login",
    "Regression test for the auth bug in session cookies",
]
OTHER = [
    "Update the README badges",
    "Bump numpy to the latest release",
    "Add dark mode to the settings page",
    "Refactor CSV export columns",
    "Translate onboarding copy to German",
    "Speed up the chart rendering",
]


def _ids(hits):
    return [hit.event_id for hit in hits]


def test_without_keys_facts_get_local_vectors_and_auth_bug_facts_rank_first(session):
    repo = make_repo(session)
    facts = make_facts(session, OTHER[:3] + AUTH + OTHER[3:], repo=repo)
    enqueue_events(session, [fact.id for fact in facts])
    session.commit()
    drain()
    assert {(row.provider, row.model) for row in embeddings(session)} == {("local", LOCAL_MODEL)}

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    auth_ids = {fact.id for fact in facts if "auth bug" in fact.canonical_text.lower()}
    assert set(_ids(hits[:3])) == auth_ids
    assert all(hit.score > 0 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_local_search_has_perfect_recall_at_3_on_a_small_ranked_set(session):
    repo = make_repo(session)
    topics = {
        "login session cookie": ["Login session cookie expires too early",
                                 "Refresh the login session cookie on activity",
                                 "Session cookie login flag is missing"],
        "csv export columns": ["CSV export drops the columns header", "Add columns to the CSV export",
                               "Export CSV columns in local time"],
        "dark mode theme": ["Dark mode theme toggle", "Theme colors in dark mode",
                            "Dark mode theme for charts"],
        "webhook signature secret": ["Verify the webhook signature with the secret",
                                     "Rotate the webhook secret signature",
                                     "Webhook signature secret is optional"],
    }
    facts = {topic: make_facts(session, texts, repo=repo, actor=make_user(session))
             for topic, texts in topics.items()}

    for topic, rows in facts.items():
        hits = search_facts(session, topic, repo_ids={repo.id}, limit=3)
        assert set(_ids(hits)) == {row.id for row in rows}, topic


def test_search_embeds_missing_candidates_synchronously_without_a_backend(session, fake_voyage):
    repo = make_repo(session)
    facts = make_facts(session, AUTH + OTHER, repo=repo)

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    calls = embedding_calls(fake_voyage)
    assert [call["input_type"] for call in calls] == ["query", "document"]
    assert calls[0]["input"] == ["auth bug"]
    assert len(calls[1]["input"]) == len(facts)
    assert set(_ids(hits[:3])) == {fact.id for fact in facts[:3]}
    assert {row.model for row in embeddings(session)} == {"voyage-3-large"}


def test_only_the_newest_2000_missing_candidates_are_embedded_synchronously(session, monkeypatch):
    from gitpulse_app.intelligence.embeddings import search

    monkeypatch.setattr(search, "SYNC_EMBED_MAX", 5)
    repo = make_repo(session)
    facts = make_facts(session, [f"auth bug number {i}" for i in range(8)], repo=repo)

    hits = search_facts(session, "auth bug", repo_ids={repo.id}, limit=50)

    newest = sorted(facts, key=lambda fact: fact.ts, reverse=True)[:5]
    assert set(_ids(hits)) == {fact.id for fact in newest}
    assert len(embeddings(session)) == 5


def test_search_uses_the_model_covering_most_candidates_and_never_mixes_models(session, fake_voyage):
    repo = make_repo(session)
    facts = make_facts(session, AUTH + OTHER, repo=repo)
    enqueue_events(session, [fact.id for fact in facts], LOCAL_MODEL)
    session.commit()
    drain()
    # One Voyage vector that would score perfectly if models were mixed.
    voyage_only = make_facts(session, ["Unrelated text about gardening"], repo=repo)[0]
    session.add(Embedding(content_hash=voyage_only.content_hash, provider="voyage",
                          model="voyage-3-large", vector=local_vector("auth bug").tobytes()))
    session.commit()

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    # Local covers 9 of 10 candidates, Voyage 1: the query is embedded locally, Voyage is not asked.
    assert embedding_calls(fake_voyage) == []
    assert set(_ids(hits[:3])) == {fact.id for fact in facts[:3]}
    assert voyage_only.id not in _ids(hits)


def test_when_the_provider_cannot_embed_the_query_the_next_covering_model_is_used(session, fake_voyage):
    repo = make_repo(session)
    facts = make_facts(session, AUTH + OTHER, repo=repo)
    enqueue_events(session, [fact.id for fact in facts])
    session.commit()
    drain()
    enqueue_events(session, [fact.id for fact in facts], LOCAL_MODEL)
    session.commit()
    drain()
    fake_voyage.add("POST", "/v1/embeddings", voyage_error(500, "boom"))

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    assert set(_ids(hits[:3])) == {fact.id for fact in facts[:3]}


def test_a_user_never_gets_hits_from_repos_they_cannot_see(session):
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    mine, theirs = make_repo(session, "acme/mine"), make_repo(session, "acme/theirs")
    link(session, alice, mine)
    link(session, bob, theirs)
    visible = make_facts(session, ["Fix the auth bug in mine"], repo=mine, actor=alice)
    make_facts(session, ["Fix the auth bug", "auth bug auth bug"], repo=theirs, actor=bob)

    by_ids = search_facts(session, "auth bug", repo_ids={mine.id})
    by_user = search_for_user(session, alice.id, "auth bug")
    nobody = search_facts(session, "auth bug", repo_ids=set())

    assert _ids(by_ids) == _ids(by_user) == [visible[0].id]
    assert by_user[0].repo == "acme/mine" and by_user[0].actor == "alice"
    assert nobody == []


def test_limit_300_returns_at_most_256_hits_and_the_default_is_10(session):
    repo = make_repo(session)
    make_facts(session, [f"auth bug report {i}" for i in range(300)], repo=repo)

    assert len(search_facts(session, "auth bug", repo_ids={repo.id}, limit=300)) == 256
    assert len(search_facts(session, "auth bug", repo_ids={repo.id})) == 10


def test_equal_scores_put_the_newest_fact_first(session):
    repo = make_repo(session)
    base = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    older = make_facts(session, ["auth bug"], repo=repo, ts=base)[0]
    newer = make_facts(session, ["auth bug"], repo=repo, ts=base + dt.timedelta(days=1))[0]
    make_facts(session, ["auth"], repo=repo, ts=base + dt.timedelta(days=2))

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    assert _ids(hits)[:2] == [newer.id, older.id]
    assert hits[0].score == pytest.approx(hits[1].score)


def test_hits_need_a_positive_score(session):
    repo = make_repo(session)
    make_facts(session, ["Update the README badges"], repo=repo)

    assert search_facts(session, "auth bug", repo_ids={repo.id}) == []


def test_filters_narrow_the_candidates_by_actor_repo_type_and_time(session):
    alice, bob = make_user(session, "Alice"), make_user(session, "bob")
    one, two = make_repo(session, "acme/one"), make_repo(session, "acme/two")
    base = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    a1 = make_facts(session, ["auth bug fix"], repo=one, actor=alice, ts=base)[0]
    b1 = make_facts(session, ["auth bug fix"], repo=one, actor=bob, ts=base + dt.timedelta(days=1))[0]
    a2 = make_facts(session, ["auth bug fix"], repo=two, actor=alice, ts=base + dt.timedelta(days=2),
                    fact_type="pr_merged", meta={"number": 1, "title": "auth bug fix"})[0]
    visible = {one.id, two.id}

    def found(**filters):
        return set(_ids(search_facts(session, "auth bug", repo_ids=visible, **filters)))

    assert found() == {a1.id, b1.id, a2.id}
    assert found(actor_logins=["alice"]) == {a1.id, a2.id}
    assert found(repo="ACME/one") == {a1.id, b1.id}
    assert found(types=["pr_merged"]) == {a2.id}
    assert found(start=base + dt.timedelta(days=1)) == {b1.id, a2.id}
    assert found(end=base + dt.timedelta(days=1)) == {a1.id}
    assert found(actor_logins=["nobody"]) == set()


def test_an_empty_query_is_a_clear_error(session):
    with pytest.raises(SearchError, match="search text is empty"):
        search_facts(session, "  \n ", repo_ids={1})


def test_a_100_kb_query_is_cut_to_the_provider_limit(session, fake_voyage):
    repo = make_repo(session)
    make_facts(session, ["auth bug"], repo=repo)

    search_facts(session, "auth bug " * 12_000, repo_ids={repo.id})

    query_call = next(c for c in embedding_calls(fake_voyage) if c["input_type"] == "query")
    assert len(query_call["input"][0]) == 8000


def test_the_in_memory_matrix_picks_up_new_embeddings_incrementally(session):
    repo = make_repo(session)
    first = make_facts(session, ["auth bug one"], repo=repo)[0]
    assert _ids(search_facts(session, "auth bug", repo_ids={repo.id})) == [first.id]

    second = make_facts(session, ["auth bug two"], repo=repo)[0]
    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    assert set(_ids(hits)) == {first.id, second.id}
    assert queue_rows(session) == []


@pytest.mark.slow
def test_top_10_over_100k_vectors_equals_a_bare_matmul(session, engine):
    rng = np.random.default_rng(7)
    count = 100_000
    matrix = rng.standard_normal((count, 1024), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    repo, actor = make_repo(session), make_user(session)
    now = "2025-12-01T00:00:00.000000+00:00"
    hashes = [f"{i:064x}" for i in range(count)]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (type, repo_id, actor_id, ts, canonical_text, source_url, metadata, "
            "content_hash, observed_via, created_at, updated_at) "
            "VALUES ('commit', ?, ?, ?, ?, ?, '{}', ?, 'backfill', ?, ?)",
            [(repo.id, actor.id, now, f"fact {i}", f"https://github.com/x/y/commit/{i}", hashes[i],
              now, now) for i in range(count)],
        )
        conn.exec_driver_sql(
            "INSERT INTO embeddings (content_hash, provider, model, dimensions, vector, created_at, "
            "updated_at) VALUES (?, 'local', ?, 1024, ?, ?, ?)",
            [(hashes[i], LOCAL_MODEL, matrix[i].tobytes(), now, now) for i in range(count)],
        )
    ids = dict(session.execute(sa.select(Event.content_hash, Event.id)).all())

    hits = search_facts(session, "the auth bug in login", repo_ids={repo.id})

    scores = matrix @ local_vector("the auth bug in login")
    expected = [ids[hashes[i]] for i in np.argsort(-scores)[:10]]
    assert _ids(hits) == expected
    assert [hit.score for hit in hits] == pytest.approx(sorted(scores, reverse=True)[:10], abs=1e-6)


@pytest.mark.postgres
def test_search_works_the_same_on_postgres(pg_engine):
    from sqlmodel import Session

    with Session(pg_engine, expire_on_commit=False) as session:
        alice = make_user(session, "alice")
        mine, theirs = make_repo(session, "acme/mine"), make_repo(session, "acme/theirs")
        link(session, alice, mine)
        facts = make_facts(session, AUTH + OTHER, repo=mine, actor=alice)
        make_facts(session, ["auth bug auth bug"], repo=theirs)

        hits = search_for_user(session, alice.id, "auth bug", limit=300)

        assert set(_ids(hits[:3])) == {fact.id for fact in facts[:3]}
        assert {hit.repo for hit in hits} == {"acme/mine"}
        assert len(embeddings(session)) == len(AUTH + OTHER)


def test_equal_scores_keep_recency_order_across_hundreds_of_facts(session):
    repo = make_repo(session)
    base = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    days = list(range(300))
    np.random.default_rng(3).shuffle(days)  # inserted out of time order
    facts = {day: make_facts(session, ["auth bug"], repo=repo,
                             ts=base + dt.timedelta(hours=day))[0] for day in days}

    hits = search_facts(session, "auth bug", repo_ids={repo.id}, limit=256)

    assert _ids(hits) == [facts[day].id for day in sorted(days, reverse=True)[:256]]


def test_a_fact_with_a_hash_that_is_not_a_digest_does_not_disturb_the_others(session):
    repo = make_repo(session)
    facts = make_facts(session, AUTH + OTHER, repo=repo)
    expected = _ids(search_facts(session, "auth bug", repo_ids={repo.id}))
    odd = next(fact for fact in facts if fact.id not in expected[:3])
    session.execute(sa.update(Event).where(Event.id == odd.id).values(content_hash="not, a digest"))
    session.commit()

    hits = search_facts(session, "auth bug", repo_ids={repo.id})

    assert [i for i in _ids(hits) if i != odd.id] == [i for i in expected if i != odd.id]


def test_two_stored_hashes_with_the_same_folded_key_are_told_apart():
    from gitpulse_app.intelligence.embeddings.matrix import ModelMatrix, hash_keys

    # Words (1, 2, 0, 0) and (2, 1, 0, 0): one XOR, two hashes.
    first = "0" * 15 + "1" + "0" * 15 + "2" + "0" * 32
    second = "0" * 15 + "2" + "0" * 15 + "1" + "0" * 32
    matrix = ModelMatrix()
    matrix.append([first, second, "f" * 64], np.zeros((3, 1024), dtype=np.float32))

    rows = matrix.rows_of(hash_keys([second, first, "e" * 64, "short"]))

    assert rows.tolist() == [1, 0, -1, -1]
