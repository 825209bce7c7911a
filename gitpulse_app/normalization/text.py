"""Canonical text: the shared string rules and one template per fact type.

The text is rendered from a normalized fact (its type, actor, metrics and metadata), never from a
raw payload, so the fact store can re-render a fact after merging a later observation into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitpulse_app.normalization.models import Metrics, NormalizedFact

# `str.isspace()` plus U+FEFF; Python's `\s` on str patterns accepts exactly what isspace() accepts.
WHITESPACE = re.compile(r"[\s\ufeff]+")
# The same set as a plain string, for `str.strip` (much faster than a regex on the hot path),
# written out: scanning all of Unicode at import cost ~70 ms of every CLI start
# (tests/normalization/test_whitespace_chars.py checks the list against `str.isspace`).
WHITESPACE_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
                    + "".join(map(chr, range(0x2000, 0x200B)))
                    + "\u2028\u2029\u202f\u205f\u3000\ufeff")

EN_DASH = "\u2013"
ELLIPSIS = "\u2026"
MAX_TEXT_LENGTH = 512
REVIEW_BODY_LENGTH = 160
COMMENT_BODY_LENGTH = 200
MESSAGE_LENGTH = 200


def trim(value: str | None) -> str:
    """Strips leading and trailing whitespace (including U+FEFF).

    Args:
        value: The text, or None.

    Returns:
        The trimmed text; "" for None.
    """
    if not value:
        return ""
    return value.strip(WHITESPACE_CHARS)


def collapse(value: str | None) -> str:
    """Replaces every whitespace run with one space, then trims.

    Args:
        value: The text, or None.

    Returns:
        The collapsed text; "" for None.
    """
    if not value:
        return ""
    if "\ufeff" not in value:
        # `str.split()` splits on exactly the `isspace()` runs `WHITESPACE` matches, faster.
        return " ".join(value.split())
    return WHITESPACE.sub(" ", value).strip(" ")


def cut(value: str | None, length: int) -> str:
    """Keeps the first `length` code points (a single code point is never split).

    Args:
        value: The text, or None.
        length: How many code points to keep.

    Returns:
        The prefix; "" for None.
    """
    if not value:
        return ""
    return value[:length]


def is_blank(value: str | None) -> bool:
    """Tells whether a value is missing or only whitespace."""
    return not value or not value.strip(WHITESPACE_CHARS)


def join(parts: Iterable[str | None]) -> str:
    """Drops missing or blank parts and joins the rest with one space."""
    return " ".join([part for part in parts if part and part.strip(WHITESPACE_CHARS)])


def dash(part: str | None) -> str | None:
    """Prefixes a title or body part with an EN DASH and a space; a blank part stays absent."""
    if not part or not part.strip(WHITESPACE_CHARS):
        return None
    return f"{EN_DASH} {part}"


def truncate(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Shortens a text longer than `limit` code points to `limit - 1` plus an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def metrics_part(metrics: Metrics | None) -> str | None:
    """Renders `(+A, -D, F files)` with only the numeric parts present.

    Args:
        metrics: The fact's metrics, or None.

    Returns:
        The parenthesised part, or None when no value is numeric.
    """
    if metrics is None or (
        metrics.additions is None and metrics.deletions is None and metrics.files_changed is None
    ):
        return None  # most facts: nothing to render
    pieces = []
    if _is_count(metrics.additions):
        pieces.append(f"+{metrics.additions}")
    if _is_count(metrics.deletions):
        pieces.append(f"-{metrics.deletions}")
    if _is_count(metrics.files_changed):
        pieces.append(f"{metrics.files_changed} files")
    if not pieces:
        return None
    return "(" + ", ".join(pieces) + ")"


def render_canonical_text(fact: NormalizedFact) -> str:
    """Renders the canonical text of a normalized fact with its type's template.

    Args:
        fact: The fact; only its type, actor, metrics and metadata are read.

    Returns:
        The canonical text, at most 512 code points.

    Raises:
        ValueError: The fact type has no template.
    """
    renderer = _RENDERERS.get(str(fact.type))
    if renderer is None:
        raise ValueError(f"No canonical text template for fact type {fact.type!r}.")
    login = fact.actor.display_login or ""
    return truncate(renderer(fact.metadata, login, fact.metrics))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if isinstance(value, str):
        return value
    if _is_count(value):
        return str(value)
    return None


def _ref(prefix: str, number: str | None) -> str:
    # "PR #2"; a fact without a number still renders its prefix rather than "#None".
    return f"{prefix} #{number}" if number else prefix


def _pr(verb: str):
    def render(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
        return join(
            [
                _ref("PR", _text(metadata, "number")),
                dash(collapse(_text(metadata, "title"))),
                f"{verb} by {login}",
                metrics_part(metrics),
            ]
        )

    return render


def _issue(verb: str):
    def render(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
        return join(
            [
                _ref("Issue", _text(metadata, "issue_number")),
                dash(collapse(_text(metadata, "title"))),
                f"{verb} by {login}",
            ]
        )

    return render


def _review(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
    state = _text(metadata, "state")
    return join(
        [
            _ref("Review on PR", _text(metadata, "pr_number")),
            f"by {login}",
            f"[{state.lower()}]" if state and not is_blank(state) else None,
            dash(cut(collapse(_text(metadata, "body")), REVIEW_BODY_LENGTH)),
        ]
    )


def _review_comment(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
    return join(
        [
            _ref("Review comment on PR", _text(metadata, "pr_number")),
            f"by {login}",
            dash(cut(collapse(_text(metadata, "body")), COMMENT_BODY_LENGTH)),
        ]
    )


def _issue_comment(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
    target = "pull request" if metadata.get("is_pull_request") is True else "issue"
    return join(
        [
            _ref(f"Comment on {target}", _text(metadata, "issue_number")),
            f"by {login}",
            dash(cut(collapse(_text(metadata, "body")), COMMENT_BODY_LENGTH)),
        ]
    )


def _commit(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
    sha = _text(metadata, "sha") or ""
    return join(
        [
            f"Commit {sha[:7]}",
            f"by {login}",
            dash(cut(collapse(_text(metadata, "message")), MESSAGE_LENGTH)),
            metrics_part(metrics),
        ]
    )


def _release(metadata: Mapping[str, Any], login: str, metrics: Metrics | None) -> str:
    return join(
        [
            "Release",
            collapse(_text(metadata, "tag_name")),
            dash(collapse(_text(metadata, "name"))),
            f"published by {login}",
        ]
    )


_RENDERERS = {
    "pr_opened": _pr("opened"),
    "pr_merged": _pr("merged"),
    "pr_closed": _pr("closed"),
    "review_submitted": _review,
    "review_comment": _review_comment,
    "issue_opened": _issue("opened"),
    "issue_closed": _issue("closed"),
    "issue_comment": _issue_comment,
    "commit": _commit,
    "release": _release,
}
