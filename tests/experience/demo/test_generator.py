"""The demo's generated webhook deliveries."""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any

import pytest

from gitpulse_app.acquisition.webhook_schema import check_webhook_schema
from gitpulse_app.experience.demo import catalog
from gitpulse_app.experience.demo.generator import Delivery, generate_deliveries
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from tests.experience.demo.conftest import NOW
from tests.support.payloads import load_webhook


@pytest.fixture(scope="module")
def deliveries() -> list[Delivery]:
    return generate_deliveries(NOW)


def expected_fact_types(delivery: Delivery) -> list[str]:
    """The facts each delivery should yield, worked out from the payload alone."""
    payload = delivery.payload
    match delivery.event, delivery.action:
        case "pull_request", "opened":
            return ["pr_opened"]
        case "pull_request", "closed":
            return ["pr_merged" if payload["pull_request"]["merged"] else "pr_closed"]
        case "pull_request_review", "submitted":
            return ["review_submitted"]
        case "pull_request_review_comment", "created":
            return ["review_comment"]
        case "issues", "opened":
            return ["issue_opened"]
        case "issues", "closed":
            return ["issue_closed"]
        case "issue_comment", "created":
            return ["issue_comment"]
        case "push", None:
            return ["commit"] * len(payload["commits"])
        case "release", "published":
            return ["release"]
    raise AssertionError(f"unexpected delivery {delivery.event}/{delivery.action}")


def facts_of(deliveries: list[Delivery], github_url: str = "https://github.com") -> list[Any]:
    return [fact for d in deliveries
            for fact in canonicalize_webhook(d.event, d.payload, github_url=github_url)]


def test_the_same_now_gives_the_same_deliveries_byte_for_byte(deliveries):
    again = generate_deliveries(NOW)

    assert [(d.event, d.delivery_id, d.body()) for d in again] == [
        (d.event, d.delivery_id, d.body()) for d in deliveries
    ]


def test_another_now_gives_other_delivery_ids(deliveries):
    later = generate_deliveries(NOW + dt.timedelta(days=1))

    assert not {d.delivery_id for d in later} & {d.delivery_id for d in deliveries}


def test_delivery_ids_are_unique_and_valid_github_delivery_ids(deliveries):
    ids = [d.delivery_id for d in deliveries]
    assert len(set(ids)) == len(ids)
    assert all(0 < len(i) <= 100 and set(i) <= set("0123456789abcdef-") for i in ids)


def test_every_delivery_passes_the_webhook_schema_check(deliveries):
    errors = {(d.event, check_webhook_schema(d.event, d.payload)) for d in deliveries}
    assert {error for _event, error in errors} == {None}


def test_every_delivery_canonicalizes_to_its_expected_fact_types(deliveries):
    for delivery in deliveries:
        facts = canonicalize_webhook(delivery.event, delivery.payload)
        assert [fact.type for fact in facts] == expected_fact_types(delivery), delivery.delivery_id


def test_every_delivery_names_the_repository_the_sender_and_the_demo_installation(deliveries):
    full_names = {repo.full_name for repo in catalog.REPOS}
    logins = {person.login for person in catalog.PEOPLE}
    for delivery in deliveries:
        payload = delivery.payload
        assert payload["repository"]["full_name"] in full_names
        assert payload["sender"]["login"] in logins
        assert payload["installation"] == {"id": catalog.INSTALLATION_ID,
                                           "node_id": payload["installation"]["node_id"]}


def _keys(obj: dict[str, Any]) -> set[str]:
    return set(obj)


FIXTURE_OF = {
    ("pull_request", "opened"): ("pull_request", "opened.with-organization"),
    ("pull_request", "closed"): ("pull_request", "closed.with-organization"),
    ("pull_request_review", "submitted"): ("pull_request_review", "submitted.with-organization"),
    ("pull_request_review_comment", "created"): ("pull_request_review_comment",
                                                 "created.with-organization"),
    ("issues", "opened"): ("issues", "opened.with-organization"),
    ("issues", "closed"): ("issues", "opened.with-organization"),
    ("issue_comment", "created"): ("issue_comment", "created.with-organization"),
    ("push", None): ("push", "with-no-username-committer"),
    ("release", "published"): ("release", "published"),
}


def test_deliveries_have_the_shapes_of_the_recorded_github_payloads(deliveries):
    seen = set()
    for delivery in deliveries:
        event_action = (delivery.event, delivery.action)
        fixture = load_webhook(*FIXTURE_OF[event_action])
        payload = delivery.payload
        # Every delivery of an organisation's App carries both; some recordings lack one.
        assert _keys(payload) == _keys(fixture) | {"organization", "installation"}, event_action
        is_push = delivery.event == "push"
        assert _keys(payload["repository"]) == _keys(fixture["repository"])
        assert _keys(payload["repository"]["owner"]) == _keys(fixture["repository"]["owner"])
        assert _keys(payload["sender"]) == _keys(fixture["sender"])
        if "pull_request" in payload:
            assert _keys(payload["pull_request"]) == _keys(fixture["pull_request"]), event_action
            assert _keys(payload["pull_request"]["head"]) == _keys(fixture["pull_request"]["head"])
            assert (_keys(payload["pull_request"]["head"]["repo"])
                    == _keys(fixture["pull_request"]["head"]["repo"]))
        for name in ("review", "comment", "release"):
            if name in payload:
                assert _keys(payload[name]) == _keys(fixture[name]), event_action
        if "issue" in payload:
            assert _keys(payload["issue"]) - {"pull_request"} == _keys(fixture["issue"])
        if is_push:
            for commit in payload["commits"]:
                assert _keys(commit) == _keys(fixture["commits"][0])
            assert isinstance(payload["repository"]["created_at"], int)
        seen.add(event_action)
    assert seen == set(FIXTURE_OF)


def test_activity_covers_60_days_with_busier_weekdays_than_weekends(deliveries):
    facts = facts_of(deliveries)
    first_day = NOW.date() - dt.timedelta(days=59)

    assert all(first_day <= fact.ts.date() and fact.ts <= NOW for fact in facts)
    assert min(fact.ts for fact in facts).date() <= first_day + dt.timedelta(days=3)
    assert max(fact.ts for fact in facts).date() >= NOW.date() - dt.timedelta(days=1)
    per_day = collections.Counter(fact.ts.date() for fact in facts)
    days = [first_day + dt.timedelta(days=n) for n in range(60)]
    weekday = [per_day[d] for d in days if d.weekday() < 5]
    weekend = [per_day[d] for d in days if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 5 * sum(weekend) / len(weekend)


def test_activity_is_realistic_in_volume_and_variety(deliveries):
    facts = facts_of(deliveries)
    types = collections.Counter(fact.type for fact in facts)

    assert 400 <= len(facts) <= 900
    assert set(types) == {"pr_opened", "pr_merged", "pr_closed", "review_submitted",
                          "review_comment", "commit", "issue_opened", "issue_closed",
                          "issue_comment", "release"}
    assert {fact.repo.full_name for fact in facts} == {"acme/web", "acme/api", "acme/mobile"}
    assert {fact.actor.login for fact in facts} == {p.login for p in catalog.PEOPLE}
    shas = [fact.metadata["sha"] for fact in facts if fact.type == "commit"]
    assert len(shas) == len(set(shas))
    states = {fact.metadata["state"] for fact in facts if fact.type == "review_submitted"}
    assert states == {"approved", "changes_requested", "commented"}
    assert all(fact.metrics.additions for fact in facts if fact.type == "pr_opened")


def test_pull_requests_are_opened_before_they_are_reviewed_and_merged(deliveries):
    opened: dict[str, dt.datetime] = {}
    for delivery in deliveries:
        if "pull_request" not in delivery.payload:
            continue
        url = delivery.payload["pull_request"]["html_url"]
        if delivery.action == "opened":
            opened[url] = delivery.at
        else:
            assert url in opened and opened[url] <= delivery.at, delivery.event
    merged = [d for d in deliveries if d.action == "closed" and "pull_request" in d.payload
              and d.payload["pull_request"]["merged"]]
    assert len(merged) >= 30
    reviewed = {d.payload["pull_request"]["html_url"] for d in deliveries
                if d.event == "pull_request_review"}
    assert all(d.payload["pull_request"]["html_url"] in reviewed for d in merged)


def test_the_demo_user_has_work_of_their_own_in_the_last_week(deliveries):
    facts = [f for f in facts_of(deliveries) if f.actor.login == catalog.DEMO_LOGIN]
    last_week = [f for f in facts if f.ts >= NOW - dt.timedelta(days=7)]

    assert len(last_week) >= 10
    assert any(f.type == "release" for f in facts)


def test_urls_live_under_the_configured_github_and_the_acme_organisation():
    deliveries = generate_deliveries(NOW, github_url="https://ghe.example",
                                     api_url="https://ghe.example/api/v3")
    facts = facts_of(deliveries, github_url="https://ghe.example")

    assert all(f.source_url.startswith("https://ghe.example/acme/") for f in facts)
    assert all(d.payload["repository"]["html_url"].startswith("https://ghe.example/acme/")
               for d in deliveries)


def test_facts_link_to_github_dot_com_by_default(deliveries):
    assert all(f.source_url.startswith("https://github.com/acme/") for f in facts_of(deliveries))


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError):
        generate_deliveries(NOW.replace(tzinfo=None))
