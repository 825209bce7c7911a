import pytest

from gitpulse_app.acquisition.webhook_schema import check_webhook_schema
from tests.support.payloads import all_webhook_fixtures, load_webhook


@pytest.mark.parametrize(("event", "name"), all_webhook_fixtures())
def test_every_recorded_webhook_passes(event, name):
    assert check_webhook_schema(event, load_webhook(event, name)) is None


def test_pull_request_without_number_names_the_path():
    payload = load_webhook("pull_request", "opened")
    del payload["pull_request"]["number"]
    assert check_webhook_schema("pull_request", payload) == "pull_request.number: missing"


def test_null_required_field_counts_as_missing():
    payload = load_webhook("release", "published")
    payload["release"]["tag_name"] = None
    assert check_webhook_schema("release", payload) == "release.tag_name: missing"


def test_issue_as_string_is_not_an_object():
    payload = load_webhook("issues", "opened")
    payload["issue"] = "Spelling error"
    assert check_webhook_schema("issues", payload) == "issue: expected object"


@pytest.mark.parametrize(
    ("event", "name", "object_key"),
    [
        ("pull_request", "opened", "pull_request"),
        ("pull_request_review", "submitted", "review"),
        ("pull_request_review", "submitted", "pull_request"),
        ("pull_request_review_comment", "created", "comment"),
        ("pull_request_review_comment", "created", "pull_request"),
        ("issues", "opened", "issue"),
        ("issue_comment", "created", "comment"),
        ("issue_comment", "created", "issue"),
        ("release", "published", "release"),
        ("push", "with-new-branch", "commits"),
    ],
)
def test_each_fact_event_requires_its_objects(event, name, object_key):
    payload = load_webhook(event, name)
    del payload[object_key]
    assert check_webhook_schema(event, payload) == f"{object_key}: missing"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        (("review", "id"), "review.id: missing"),
        (("repository", "id"), "repository.id: missing"),
        (("repository", "full_name"), "repository.full_name: missing"),
    ],
)
def test_required_keys_are_named(path, error):
    payload = load_webhook("pull_request_review", "submitted")
    del payload[path[0]][path[1]]
    assert check_webhook_schema("pull_request_review", payload) == error


def test_repository_is_required():
    payload = load_webhook("issues", "opened")
    del payload["repository"]
    assert check_webhook_schema("issues", payload) == "repository: missing"


def test_push_commit_id_must_be_a_string():
    payload = load_webhook("push", "with-new-branch")
    payload["commits"][0]["id"] = 42
    assert check_webhook_schema("push", payload) == "commits[0].id: expected string"


def test_push_commits_must_be_objects():
    payload = load_webhook("push", "with-new-branch")
    payload["commits"].append("abc")
    assert check_webhook_schema("push", payload) == "commits[1]: expected object"


@pytest.mark.parametrize(
    ("event", "name", "path", "value", "expected"),
    [
        ("pull_request", "opened", "pull_request.title", 5, "string"),
        ("pull_request", "opened", "pull_request.additions", "1", "integer"),
        ("pull_request", "opened", "pull_request.merged", "no", "boolean"),
        ("pull_request", "opened", "pull_request.number", True, "integer"),
        ("pull_request", "opened", "pull_request.number", 2.5, "integer"),
        ("pull_request", "opened", "pull_request.base.ref", 1, "string"),
        ("pull_request", "opened", "sender.login", [], "string"),
        ("issues", "opened", "issue.labels", "bug", "array"),
        ("issue_comment", "created", "comment.body", {}, "string"),
        ("release", "published", "release.author", "me", "object"),
        ("issues", "opened", "action", 1, "string"),
    ],
)
def test_values_read_by_canonicalization_must_have_their_json_type(
    event, name, path, value, expected
):
    payload = load_webhook(event, name)
    *parents, last = path.split(".")
    target = payload
    for step in parents:
        target = target[step]
    target[last] = value
    assert check_webhook_schema(event, payload) == f"{path}: expected {expected}"


def test_absent_optional_data_is_fine():
    payload = load_webhook("pull_request", "opened.with-null-body.json")
    del payload["installation"]
    payload["pull_request"]["merged_by"] = None
    assert check_webhook_schema("pull_request", payload) is None


def test_unknown_action_with_valid_shape_is_fine():
    payload = load_webhook("issues", "opened")
    payload["action"] = "transmogrified"
    assert check_webhook_schema("issues", payload) is None


@pytest.mark.parametrize("event", ["ping", "create", "fork", "workflow_run", "no-such-event"])
def test_ping_and_unknown_events_pass(event):
    assert check_webhook_schema(event, {"zen": "Design for failure."}) is None


@pytest.mark.parametrize("event", ["installation", "installation_repositories"])
def test_installation_events_require_installation_id(event):
    payload = load_webhook(event, "created" if event == "installation" else "added")
    del payload["installation"]["id"]
    assert check_webhook_schema(event, payload) == "installation.id: missing"
    del payload["installation"]
    assert check_webhook_schema(event, payload) == "installation: missing"


def test_installation_on_a_fact_event_must_be_an_object_when_present():
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = 12
    assert check_webhook_schema("pull_request", payload) == "installation: expected object"


def test_payload_that_is_not_an_object_fails():
    assert check_webhook_schema("push", ["not", "an", "object"]) == "payload: expected object"
