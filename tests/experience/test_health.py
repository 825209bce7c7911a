import datetime as dt
import json
import secrets

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import AuthSession
from gitpulse_app.core.provider_calls import forget_calls
from gitpulse_app.experience.auth.sessions import token_hash
from gitpulse_app.experience.http import health as health_module
from gitpulse_app.experience.http.app import create_api
from tests.support.rows import make_user

SIGNED_UP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # when the test users signed up

NO_CACHE = {"cache-control": "no-cache, no-store, must-revalidate", "pragma": "no-cache", "expires": "0"}


@pytest.fixture
def client(engine):
    health_module.clear_cache()
    forget_calls()
    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client
    health_module.clear_cache()
    forget_calls()


def count_queries(engine) -> list[str]:
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: statements.append(statement))
    return statements


def sign_in(session) -> str:
    user = make_user(session, "alice", gh_id=1, signed_up_at=SIGNED_UP)
    token = secrets.token_urlsafe(32)
    session.add(AuthSession(token_hash=token_hash(token), user_id=user.id,
                            expires_at=utcnow() + dt.timedelta(days=30), last_seen_at=utcnow()))
    session.commit()
    return token


def test_liveness_answers_ok_without_touching_the_database(client, engine):
    statements = count_queries(engine)
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["mode"] == "liveness"
    assert isinstance(body["timestamp"], int)
    assert statements == []


def test_every_health_response_carries_no_cache_headers(client):
    for response in (client.get("/api/health"), client.get("/api/health?deep=1"),
                     client.head("/api/health"), client.post("/api/health")):
        assert {k: response.headers[k] for k in NO_CACHE} == NO_CACHE


def test_head_has_the_status_and_headers_but_no_body(client):
    response = client.head("/api/health?deep=1")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_post_mirrors_get(client):
    get, post = client.get("/api/health?deep=1"), client.post("/api/health?deep=1")
    assert post.status_code == get.status_code == 200
    assert post.json()["services"] == get.json()["services"]


def test_deep_with_any_value_checks_the_database(client):
    body = client.get("/api/health?deep=").json()
    assert body["mode"] == "deep"
    assert body["services"]["database"] == {"status": "ok"}


def test_missing_keys_are_unconfigured_and_still_ok(client, session):
    token = sign_in(session)
    client.cookies.set("gitpulse_session", token)
    body = client.get("/api/health?deep=1").json()
    services = body["services"]
    assert body["status"] == "ok"
    assert services["webhooks"]["status"] == "unconfigured"
    assert services["sync"]["status"] == "unconfigured"
    assert services["email"]["status"] == "unconfigured"
    assert services["github"]["status"] == "unconfigured"
    assert services["llm"] == {"status": "ok", "message": "local writer",
                               "latency_ms": services["llm"]["latency_ms"]}
    assert services["embeddings"]["message"] == "local embeddings"
    assert services["scheduler"]["status"] == "ok"
    assert body["version"] and "latency_ms" in services["database"]


def test_signed_out_deep_health_shows_only_statuses(client):
    body = client.get("/api/health?deep=1").json()
    assert set(body) == {"status", "mode", "services"}
    assert all(set(service) == {"status"} for service in body["services"].values())


def test_expired_session_gets_the_public_view(client, session):
    token = sign_in(session)
    row = session.exec(sa.select(AuthSession)).scalars().one()
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.add(row)
    session.commit()
    client.cookies.set("gitpulse_session", token)
    body = client.get("/api/health?deep=1").json()
    assert "version" not in body


def test_deep_health_with_the_database_down_is_503_while_liveness_stays_200(client):
    set_engine(create_db_engine("postgresql+psycopg://postgres@127.0.0.1:1/down"))
    deep = client.get("/api/health?deep=1")
    assert deep.status_code == 503
    assert deep.json()["status"] == "error"
    assert deep.json()["services"]["database"]["status"] == "error"
    assert client.get("/api/health").status_code == 200


def test_deep_results_are_cached_for_30_seconds(client, engine):
    client.get("/api/health?deep=1")
    statements = count_queries(engine)
    client.get("/api/health?deep=1")
    assert [s for s in statements if "SELECT 1" in s] == []


def test_github_check_calls_the_configured_api_url(client, configure, fake_http):
    from tests.support.fake_http import FakeResponse

    fake_http.add("GET", "/rate_limit", FakeResponse(200, json={"resources": {}}))
    configure(GITHUB_TOKEN="ghp_test", GITHUB_API_URL=fake_http.url)
    health_module.clear_cache()
    body = client.get("/api/health?deep=1").json()
    assert body["services"]["github"]["status"] == "ok"
    assert fake_http.requests[0].headers["authorization"] == "Bearer ghp_test"


def test_github_check_failing_degrades_overall_status(client, configure, fake_http):
    from tests.support.fake_http import FakeResponse

    fake_http.add("GET", "/rate_limit", FakeResponse(502, body=b"<html>bad gateway</html>"))
    configure(GITHUB_TOKEN="ghp_test", GITHUB_API_URL=fake_http.url)
    health_module.clear_cache()
    response = client.get("/api/health?deep=1")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


def test_failed_llm_and_embedding_calls_degrade_their_deep_checks_until_a_call_succeeds(
    client, session, configure, fake_http
):
    from gitpulse_app.intelligence.embeddings.providers import (
        OPENAI_MODEL,
        ProviderError,
        provider_for,
        reset_providers,
    )
    from gitpulse_app.intelligence.reports.llm import ChainFailed, ReportModelChain
    from tests.support.fake_http import FakeResponse

    refused = FakeResponse(401, json={"error": {"message": "Incorrect API key provided",
                                                "type": "invalid_request_error"}})
    fake_http.add("POST", "/v1/embeddings", refused)
    fake_http.add("POST", "/v1/chat/completions", refused)
    settings = configure(OPENAI_API_KEY="sk-test-health", OPENAI_BASE_URL=f"{fake_http.url}/v1")
    reset_providers()
    with pytest.raises(ProviderError):
        provider_for(OPENAI_MODEL).embed(["Fix the login flow"], input_type="document")
    chain = ReportModelChain(settings.openai_api_key, settings.openai_base_url,
                             [settings.llm_model], sleep=lambda _s: None)
    with pytest.raises(ChainFailed):
        chain.run([{"role": "user", "content": "Write the standup."}], json.loads)

    client.cookies.set("gitpulse_session", sign_in(session))
    body = client.get("/api/health?deep=1").json()

    assert body["status"] == "degraded"
    llm, embeddings = body["services"]["llm"], body["services"]["embeddings"]
    assert llm["status"] == embeddings["status"] == "degraded"
    assert llm["message"] == (f"openai ({settings.llm_model}): the latest call failed "
                              "(Every report model failed.)")
    assert embeddings["message"].startswith("openai (text-embedding-3-small): the latest call "
                                            "failed (OpenAI error 401")
    assert "sk-test-health" not in json.dumps(body)

    fake_http.add("POST", "/v1/embeddings", FakeResponse(200, json={
        "object": "list", "model": OPENAI_MODEL, "usage": {"prompt_tokens": 1, "total_tokens": 1},
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 1024}]}))
    provider_for(OPENAI_MODEL).embed(["Fix the login flow"], input_type="document")
    health_module.clear_cache()
    services = client.get("/api/health?deep=1").json()["services"]
    assert (services["embeddings"]["status"], services["llm"]["status"]) == ("ok", "degraded")
