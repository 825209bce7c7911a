import re

from gitpulse_app.normalization.content_hash import content_hash, stable_json
from gitpulse_app.normalization.models import Metrics

PR_TEXT = "PR #42 \u2013 Add search opened by alice (+10, -2, 3 files)"
PR_URL = "https://github.com/acme/app/pull/42"
PR_HASH = "3128751a2438cadf1c79b5abef72f9e8273911ef3f39d8ea70ef9cfa01c358c4"
COMMENT_TEXT = "Comment on issue #1 by octocat \u2013 Ship it \U0001f680"
COMMENT_URL = "https://github.com/acme/app/issues/1#issuecomment-7"
COMMENT_HASH = "c2123198e4bf689860d375d180740f35326f7c2d09ac0dce84ce8e6eb032c2ef"


def test_reference_vector_with_metrics():
    assert content_hash(PR_TEXT, PR_URL, Metrics(10, 2, 3)) == PR_HASH


def test_reference_vector_ignores_surrounding_whitespace_and_key_order():
    metrics = {"filesChanged": 3, "deletions": 2, "additions": 10}
    assert content_hash(f"  {PR_TEXT}\n", f" {PR_URL} ", metrics) == PR_HASH
    snake_case = {"files_changed": 3, "additions": 10, "deletions": 2}
    assert content_hash(PR_TEXT, PR_URL, snake_case) == PR_HASH


def test_reference_vector_without_metrics():
    assert content_hash(COMMENT_TEXT, COMMENT_URL) == COMMENT_HASH
    assert content_hash(COMMENT_TEXT, COMMENT_URL, None) == COMMENT_HASH


def test_hash_is_64_lower_hex():
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash("x", "y"))


def test_empty_metrics_hash_like_no_metrics():
    expected = content_hash(COMMENT_TEXT, COMMENT_URL)
    assert content_hash(COMMENT_TEXT, COMMENT_URL, {}) == expected
    assert content_hash(COMMENT_TEXT, COMMENT_URL, Metrics()) == expected
    assert content_hash(COMMENT_TEXT, COMMENT_URL, {"additions": None}) == expected


def test_different_metric_values_give_different_hashes():
    assert content_hash(PR_TEXT, PR_URL, Metrics(10, 2, 3)) != content_hash(
        PR_TEXT, PR_URL, Metrics(10, 2, 4)
    )
    assert content_hash(PR_TEXT, PR_URL, Metrics(10, 2, 3)) != content_hash(PR_TEXT, PR_URL)


def test_absent_metric_keys_are_omitted_not_null():
    partial = content_hash(PR_TEXT, PR_URL, Metrics(additions=10))
    assert partial == content_hash(PR_TEXT, PR_URL, {"additions": 10})


def test_stable_json_writes_like_javascript():
    assert stable_json({"b": 2.0, "a": [3, "é🚀"], "c": None, "d": True}) == (
        '{"a":[3,"é🚀"],"b":2,"c":null,"d":true}'
    )
    assert stable_json(float("nan")) == "null"
