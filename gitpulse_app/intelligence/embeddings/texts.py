"""The text embedded for each fact, read from the fact's metadata keys.

Templates use the metadata keys the canonicalizers actually write (`number`, `pr_number`,
`issue_number`, `sha`, `tag_name`), fixing the original's mismatched keys. A fact whose type has no
template, or whose metadata lacks the number or sha a template needs, is embedded by its canonical
text instead. The result is trimmed and cut to 8000 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitpulse_app.intelligence.embeddings.providers import MAX_TEXT_CHARS
from gitpulse_app.normalization.text import cut, trim


def _value(meta: Mapping[str, Any], key: str) -> str:
    value = meta.get(key)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def _pr_opened(meta: Mapping[str, Any]) -> str:
    return (
        f"Pull Request #{_value(meta, 'number')}: {_value(meta, 'title')}\n{_value(meta, 'body')}"
    )


def _pr_merged(meta: Mapping[str, Any]) -> str:
    return f"Pull Request #{_value(meta, 'number')} merged: {_value(meta, 'title')}"


def _pr_closed(meta: Mapping[str, Any]) -> str:
    return f"Pull Request #{_value(meta, 'number')} closed: {_value(meta, 'title')}"


def _review_submitted(meta: Mapping[str, Any]) -> str:
    return (
        f"Review on PR #{_value(meta, 'pr_number')}: {_value(meta, 'state')}\n"
        f"{_value(meta, 'body')}"
    )


def _review_comment(meta: Mapping[str, Any]) -> str:
    return (
        f"Review comment on PR #{_value(meta, 'pr_number')} ({_value(meta, 'path')}): "
        f"{_value(meta, 'body')}"
    )


def _commit(meta: Mapping[str, Any]) -> str:
    return f"Commit {_value(meta, 'sha')[:7]}: {_value(meta, 'message')}"


def _issue_opened(meta: Mapping[str, Any]) -> str:
    return (
        f"Issue #{_value(meta, 'issue_number')}: {_value(meta, 'title')}\n{_value(meta, 'body')}"
    )


def _issue_closed(meta: Mapping[str, Any]) -> str:
    return f"Issue #{_value(meta, 'issue_number')} closed: {_value(meta, 'title')}"


def _issue_comment(meta: Mapping[str, Any]) -> str:
    target = "PR" if meta.get("is_pull_request") else "Issue"
    return f"Comment on {target} #{_value(meta, 'issue_number')}: {_value(meta, 'body')}"


def _release(meta: Mapping[str, Any]) -> str:
    return f"Release {_value(meta, 'tag_name')}: {_value(meta, 'name')}\n{_value(meta, 'body')}"


# type → (the metadata key the template cannot do without, template)
_TEMPLATES: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
    "pr_opened": ("number", _pr_opened),
    "pr_merged": ("number", _pr_merged),
    "pr_closed": ("number", _pr_closed),
    "review_submitted": ("pr_number", _review_submitted),
    "review_comment": ("pr_number", _review_comment),
    "commit": ("sha", _commit),
    "issue_opened": ("issue_number", _issue_opened),
    "issue_closed": ("issue_number", _issue_closed),
    "issue_comment": ("issue_number", _issue_comment),
    "release": ("tag_name", _release),
}


def embedding_text(fact_type: str, meta: Mapping[str, Any] | None, canonical_text: str) -> str:
    """The text to embed for one fact.

    Args:
        fact_type: The fact's `type`.
        meta: The fact's metadata (the `events.metadata` column).
        canonical_text: The fact's canonical text, used when no template applies.

    Returns:
        The rendered template (or canonical text), trimmed and cut to 8000 characters.
    """
    meta = meta or {}
    template = _TEMPLATES.get(fact_type)
    if template is None or not _value(meta, template[0]):
        text = canonical_text
    else:
        text = template[1](meta)
    return cut(trim(text), MAX_TEXT_CHARS)
