"""The API service, tokens and Ask on the real PostgreSQL (the same calls the adapters make)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from gitpulse_app.experience.http import service
from gitpulse_app.experience.auth.api_tokens import create_token, resolve_api_token, revoke_token
from gitpulse_app.intelligence.ask import ask
from tests.api.conftest import make_person

pytestmark = pytest.mark.postgres


def test_tokens_facts_search_reports_and_ask_keep_to_visibility(pg_engine):
    with Session(pg_engine, expire_on_commit=False) as session:
        alice = make_person(session, "alice", "Alice quasar ledger migration")
        bob = make_person(session, "bob", "Bob nebula cache rollout")
    as_alice = resolve_api_token(alice.read_token)
    as_bob = resolve_api_token(bob.write_token)
    assert as_alice.user_id == alice.side.user_id and as_bob.can_write

    facts = service.list_facts(as_alice, limit=2)
    rest = service.list_facts(as_alice, limit=10, cursor=facts["next_cursor"])
    assert {f["url"] for f in facts["facts"] + rest["facts"]} == alice.private_urls
    assert alice.side.fact_url in service.search(as_alice, "quasar ledger")["sources"]
    assert not set(service.search(as_bob, alice.side.fact_title)["sources"]) & alice.private_urls
    with pytest.raises(service.ApiError) as refused:
        service.report_detail(as_bob, alice.side.report_id)
    assert refused.value.status == 404

    repo = alice.side.repo_full_name.split("/")[1]
    answer = ask(alice.side.user_id, f"What was merged in {repo} in March 2025?")
    assert answer.citations == [alice.march_url]
    assert not set(ask(bob.side.user_id, alice.side.fact_title).citations) & alice.private_urls

    made = create_token(alice.side.user_id, "pg", "read")
    revoke_token(made.id)
    assert resolve_api_token(made.token) is None
