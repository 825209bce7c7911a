"""Validating: parse a model's answer, map its sections, keep only real citations, measure coverage.

Parsing strips code fences, else takes the last balanced `{…}` holding `"sections"`.
Titles match case-insensitively after trimming `#`, numbering and spaces; sections come out in the
expected order, missing ones as "No activity recorded", extra ones dropped; at most 5 bullets.
Control characters (NUL included) are stripped before anything else.

Citations are the source URLs of the facts given to the writer, compared as a browser would follow
them (`markup.normalize_url`). Every bullet of every writer is rebuilt from its markdown tokens by
`markup.clean_bullet`: a link to anything else keeps only its text, images, raw HTML and URL text to
anything else go; a bullet left without an allowed citation is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gitpulse_app.intelligence.reports.markup import (
    allowed_map,
    clean_bullet,
    normalize_url,
    strip_controls,
)
from gitpulse_app.intelligence.reports.models import (
    NO_ACTIVITY,
    CollectedFact,
    Coverage,
    Section,
)

MAX_BULLETS = 5


class AnswerError(ValueError):
    """A model's answer cannot be used (not JSON, no sections, no expected title)."""


# Parsing -----------------------------------------------------------------------------------------
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.S)


def _balanced_spans(text: str) -> list[tuple[int, int]]:
    """Every balanced `{…}` span, aware of JSON strings inside braces."""
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and stack:
            in_string = True
        elif char == "{":
            stack.append(index)
        elif char == "}" and stack:
            spans.append((stack.pop(), index + 1))
    return spans


def _as_answer(candidate: str) -> dict[str, Any] | None:
    try:
        value = json.loads(candidate)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("sections"), list):
        return value
    return None


def extract_json(text: str) -> dict[str, Any]:
    """The answer object `{"sections": [...]}` inside a model's reply.

    Raises:
        AnswerError: No parseable object with a `sections` list.
    """
    stripped = strip_controls(text).strip()
    candidates = [match.group(1) for match in _FENCE.finditer(stripped)]
    candidates.append(stripped)
    for candidate in candidates:
        answer = _as_answer(candidate.strip())
        if answer is not None:
            return answer
    # The last balanced object holding "sections"; at equal end, the outermost one.
    spans = sorted(_balanced_spans(stripped), key=lambda span: (-span[1], span[0]))
    for start, end in spans:
        piece = stripped[start:end]
        if '"sections"' in piece:
            answer = _as_answer(piece)
            if answer is not None:
                return answer
    raise AnswerError("The answer holds no JSON object with a sections list.")


_TITLE_PREFIX = re.compile(r"^(?:[#\s*_]+|(?:\d+|[ivxIVX]+)[.)]\s*)+")
_SPACES = re.compile(r"\s+")
_LIST_MARKER = re.compile(r"^(?:[-*•]|\d+[.)])\s+")


def title_key(title: str) -> str:
    """A title compared case-insensitively, without `#`, numbering, emphasis or extra spaces."""
    cleaned = _TITLE_PREFIX.sub("", title.strip())
    cleaned = cleaned.strip(" \t*_:")
    return _SPACES.sub(" ", cleaned).lower()


def _bullets(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    bullets = []
    for item in raw:
        if isinstance(item, str):
            text = _LIST_MARKER.sub("", strip_controls(item).strip()).strip()
            if text:
                bullets.append(text)
    return bullets[:MAX_BULLETS]


def _urls(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    return [strip_controls(item).strip() for item in raw
            if isinstance(item, str) and strip_controls(item).strip()]


def parse_answer(text: str, titles: Sequence[str]) -> list[Section]:
    """The expected sections, in order, from a model's reply (citations not yet checked).

    Args:
        text: The reply's content.
        titles: The expected section titles, in order.

    Returns:
        One section per expected title; a missing one holds "No activity recorded".

    Raises:
        AnswerError: Unparseable, or no expected title matched.
    """
    answer = extract_json(text)
    by_key: dict[str, Section] = {}
    expected = {title_key(title): title for title in titles}
    for item in answer["sections"]:
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            continue
        key = title_key(item["title"])
        if key in expected and key not in by_key:
            by_key[key] = Section(expected[key], _bullets(item.get("bullets")),
                                  _urls(item.get("citations")))
    if not by_key:
        raise AnswerError("No section of the answer has an expected title.")
    return [by_key.get(title_key(title)) or Section(title, [NO_ACTIVITY]) for title in titles]


# Citations ---------------------------------------------------------------------------------------
_NO_ACTIVITY = re.compile(r"^no activity recorded\.?$", re.I)


def allowed_urls(facts: Iterable[CollectedFact]) -> dict[str, str]:
    """Normalized URL → the fact's source URL as stored, for every fact given to the writer."""
    return allowed_map(fact.source_url for fact in facts)


def is_no_activity(bullet: str) -> bool:
    return bool(_NO_ACTIVITY.match(strip_controls(bullet).strip()))


def filter_bullet(bullet: str, allowed: dict[str, str]) -> tuple[str, list[str]]:
    """A bullet rebuilt from its markdown tokens, linking only to allowed URLs (`clean_bullet`).

    Returns:
        The cleaned bullet and the allowed URLs it cites, in order of appearance.
    """
    return clean_bullet(bullet, allowed)


def _distinct(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))


def filter_citations(sections: Sequence[Section], allowed: dict[str, str]) -> list[Section]:
    """Sections keeping only allowed citations and the bullets that still cite something.

    A bullet left without an allowed citation is dropped unless it says "No activity recorded";
    a section left empty gets that bullet. Section citations are the allowed URLs of its bullets,
    then the allowed ones it listed, first seen first.
    """
    result = []
    for section in sections:
        bullets: list[str] = []
        cited: list[str] = []
        for bullet in section.bullets:
            if is_no_activity(bullet):
                bullets.append(NO_ACTIVITY)
                continue
            cleaned, urls = filter_bullet(bullet, allowed)
            if urls and cleaned:
                bullets.append(cleaned)
                cited.extend(urls)
        listed = [allowed[key] for key in map(normalize_url, section.citations) if key in allowed]
        citations = _distinct(cited + listed)
        substantive = [bullet for bullet in bullets if bullet != NO_ACTIVITY]
        if substantive:
            bullets = substantive
        result.append(Section(section.title, bullets[:MAX_BULLETS] or [NO_ACTIVITY], citations))
    return result


def validate_answer(text: str, titles: Sequence[str], allowed: dict[str, str]) -> list[Section]:
    """A model's reply as the sections to save: parsed, then every bullet rebuilt (`filter_citations`).

    Raises:
        AnswerError: Unparseable, or no expected title matched.
    """
    return filter_citations(parse_answer(text, titles), allowed)


def report_citations(sections: Sequence[Section]) -> list[str]:
    """The report's citations: distinct over its sections, first seen first."""
    return _distinct(url for section in sections for url in section.citations)


# Coverage ----------------------------------------------------------------------------------------
def measure_coverage(facts: Sequence[CollectedFact], citations: Iterable[str]) -> Coverage:
    """Cited facts over facts given, overall and per repository.

    Returns:
        `score` = |facts whose source URL is cited| / |facts given| (None when none were given),
        `breakdown` = `[{scope_key, used, total}]` sorted by repository, and the cited fact ids.
    """
    cited_urls = {normalize_url(url) for url in citations}
    per_repo: dict[str, list[int]] = {}
    cited_ids: set[int] = set()
    for fact in facts:
        counts = per_repo.setdefault(fact.repo, [0, 0])
        counts[1] += 1
        if fact.source_url and normalize_url(fact.source_url) in cited_urls:
            counts[0] += 1
            cited_ids.add(fact.event_id)
    breakdown = [{"scope_key": repo, "used": used, "total": total}
                 for repo, (used, total) in sorted(per_repo.items())]
    score = len(cited_ids) / len(facts) if facts else None
    return Coverage(score, breakdown, cited_ids)
