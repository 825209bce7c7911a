"""Property tests: no payload shape makes a canonicalizer raise.

Payloads are either arbitrary JSON objects or recorded fixtures with random parts deleted or
replaced by arbitrary JSON, which keeps most of them close enough to pass the schema check.
"""

import copy
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitpulse_app.acquisition.webhook_schema import check_webhook_schema
from gitpulse_app.normalization.canonicalize_rest import (
    canonicalize_rest_commit,
    canonicalize_rest_issue,
    canonicalize_rest_issue_comment,
    canonicalize_rest_pull,
    canonicalize_rest_release,
    canonicalize_rest_review,
    canonicalize_rest_review_comment,
)
from gitpulse_app.normalization.canonicalize_webhook import FACT_EVENTS, canonicalize_webhook
from gitpulse_app.normalization.models import NormalizedFact
from tests.support import payloads
from tests.support.payloads import all_webhook_fixtures, load_webhook

KEYS = st.sampled_from(
    ["id", "number", "body", "title", "user", "login", "created_at", "html_url", "commits", "x"]
)
TIMESTAMPS = st.sampled_from(
    [
        "2019-05-15T15:20:33Z",
        "2019-05-15T15:20:33+09:00",
        "2019-05-15",
        "0001-01-01T00:00:00+05:00",
        "",
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | TIMESTAMPS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)
FIXTURES_BY_EVENT = {
    event: [name for fixture_event, name in all_webhook_fixtures() if fixture_event == event]
    for event in FACT_EVENTS | {"installation", "installation_repositories", "ping"}
}
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _mutate(data: st.DataObject, document: Any) -> Any:
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON)
    return document


def _assert_well_formed(facts: list[NormalizedFact]) -> None:
    for fact in facts:
        assert len(fact.canonical_text) <= 512
        assert re.fullmatch(r"[0-9a-f]{64}", fact.content_hash)
        assert fact.ts.tzinfo is not None
        assert fact.source_url


@PROPERTY_SETTINGS
@given(event=st.sampled_from(sorted(FIXTURES_BY_EVENT)), payload=JSON)
def test_arbitrary_json_fails_the_schema_check_or_canonicalizes(event, payload):
    error = check_webhook_schema(event, payload)
    assert error is None or isinstance(error, str)
    _assert_well_formed(canonicalize_webhook(event, payload))


@PROPERTY_SETTINGS
@given(event=st.sampled_from(sorted(FIXTURES_BY_EVENT)), data=st.data())
def test_mutated_fixtures_fail_the_schema_check_or_canonicalize(event, data):
    name = data.draw(st.sampled_from(FIXTURES_BY_EVENT[event]))
    payload = _mutate(data, load_webhook(event, name))
    error = check_webhook_schema(event, payload)
    assert error is None or re.match(r"^[\w.\[\]]+: (missing|expected [\w ]+)$", error)
    _assert_well_formed(canonicalize_webhook(event, payload))


REST_CASES: dict[str, tuple[Callable[[], Any], Callable[[Any], list[NormalizedFact]]]] = {
    "pull": (
        payloads.rest_pull_detail,
        lambda item: canonicalize_rest_pull(item, payloads.rest_repo()),
    ),
    "review": (
        payloads.rest_review,
        lambda item: canonicalize_rest_review(item, payloads.rest_pull(), payloads.rest_repo()),
    ),
    "issue": (
        payloads.rest_issue,
        lambda item: canonicalize_rest_issue(item, payloads.rest_repo()),
    ),
    "issue_comment": (
        payloads.rest_issue_comment,
        lambda item: canonicalize_rest_issue_comment(item, payloads.rest_repo()),
    ),
    "review_comment": (
        payloads.rest_review_comment,
        lambda item: canonicalize_rest_review_comment(item, payloads.rest_repo()),
    ),
    "commit": (
        payloads.rest_commit_detail,
        lambda item: canonicalize_rest_commit(item, payloads.rest_repo()),
    ),
    "release": (
        payloads.rest_release,
        lambda item: canonicalize_rest_release(item, payloads.rest_repo()),
    ),
    "repo": (payloads.rest_repo, lambda item: canonicalize_rest_pull(payloads.rest_pull(), item)),
}


@PROPERTY_SETTINGS
@given(kind=st.sampled_from(sorted(REST_CASES)), data=st.data())
def test_mutated_rest_items_canonicalize_without_raising(kind, data):
    factory, canonicalize = REST_CASES[kind]
    _assert_well_formed(canonicalize(_mutate(data, factory())))
