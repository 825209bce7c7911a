import pytest

from gitpulse_app.intelligence.embeddings.texts import embedding_text


@pytest.mark.parametrize("fact_type, meta, expected", [
    ("pr_opened", {"number": 42, "title": "Add search", "body": "Closes #7"},
     "Pull Request #42: Add search\nCloses #7"),
    ("pr_opened", {"number": 42, "title": "Add search", "body": None}, "Pull Request #42: Add search"),
    ("pr_merged", {"number": 42, "title": "Add search", "body": "long"}, "Pull Request #42 merged: Add search"),
    ("pr_closed", {"number": 3, "title": "Drop IE"}, "Pull Request #3 closed: Drop IE"),
    ("review_submitted", {"pr_number": 42, "state": "approved", "body": "LGTM"},
     "Review on PR #42: approved\nLGTM"),
    ("review_comment", {"pr_number": 42, "path": "app/auth.py", "body": "Nit"},
     "Review comment on PR #42 (app/auth.py): Nit"),
    ("commit", {"sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "message": "Initial commit"},
     "Commit 6113728: Initial commit"),
    ("issue_opened", {"issue_number": 5, "title": "Login fails", "body": "Steps"},
     "Issue #5: Login fails\nSteps"),
    ("issue_closed", {"issue_number": 5, "title": "Login fails"}, "Issue #5 closed: Login fails"),
    ("issue_comment", {"issue_number": 5, "is_pull_request": True, "body": "Ship it"},
     "Comment on PR #5: Ship it"),
    ("issue_comment", {"issue_number": 5, "is_pull_request": False, "body": "Ship it"},
     "Comment on Issue #5: Ship it"),
    ("release", {"tag_name": "v1.0", "name": "First", "body": "Notes"}, "Release v1.0: First\nNotes"),
])
def test_each_fact_type_has_its_template(fact_type, meta, expected):
    assert embedding_text(fact_type, meta, "canonical") == expected


def test_embedding_text_for_pr_merged_uses_number_not_json():
    text = embedding_text("pr_merged", {"number": 7, "title": "Fix auth", "merged": True},
                          "PR #7 – Fix auth merged by alice")
    assert text == "Pull Request #7 merged: Fix auth"
    assert "{" not in text


def test_unknown_types_and_missing_numbers_fall_back_to_the_canonical_text():
    assert embedding_text("deployment", {"number": 1}, "  Deployed v2  ") == "Deployed v2"
    assert embedding_text("pr_opened", {"title": "No number"}, "PR – No number") == "PR – No number"


def test_texts_are_trimmed_and_cut_to_8000_characters():
    text = embedding_text("issue_opened", {"issue_number": 1, "title": "T", "body": "x" * 9000 + "  "},
                          "c")
    assert len(text) == 8000 and text.startswith("Issue #1: T\nxxx")
