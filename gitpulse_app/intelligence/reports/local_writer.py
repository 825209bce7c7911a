"""The local writer: a deterministic, extractive report that cites every fact.

Facts go to sections by type. Within a section there is one bullet per repository (most facts
first, then by name), its items in time order joined by "; ", e.g.
`acme/web: merged [PR #12](url) – Add search; [abc1234](url) Fix typo`; repositories after the
fourth share a fifth bullet `Also: …`. Team reports prefix each item with `@login`.

Every piece of GitHub text (titles, messages, tags, paths, repository names, the actor — for a
commit a free-form git author name) is escaped markdown text, so a name such as
`[x](https://evil)` shows as text and never becomes a link; links point only at source URLs.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitpulse_app.intelligence.reports.markup import escape_inline, link_destination
from gitpulse_app.intelligence.reports.models import (
    LOCAL_PROVIDER,
    DAILY,
    LOCAL_MODEL,
    NO_ACTIVITY,
    SECTION_TITLES,
    CollectedFact,
    Section,
    Written,
)
from gitpulse_app.normalization.text import collapse, cut

MAX_REPO_BULLETS = 4
TITLE_LENGTH = 160
EN_DASH = "\u2013"

_COMPLETED = ("pr_merged", "release", "issue_closed", "commit")
_DAILY_BUCKETS = {
    **dict.fromkeys(_COMPLETED, 0),
    **dict.fromkeys(("review_submitted", "review_comment", "issue_comment", "pr_closed"), 1),
    **dict.fromkeys(("pr_opened", "issue_opened"), 2),
}
_WEEKLY_BUCKETS = {
    **dict.fromkeys(_COMPLETED, 0),
    **dict.fromkeys(("review_submitted", "review_comment", "issue_comment"), 1),
    "pr_closed": 2,
    **dict.fromkeys(("pr_opened", "issue_opened"), 3),
}


def _bucket(kind: str, fact: CollectedFact) -> int:
    if kind == DAILY:
        return _DAILY_BUCKETS.get(fact.type, 0)
    if fact.type == "review_submitted" and _state(fact) == "changes_requested":
        return 2
    return _WEEKLY_BUCKETS.get(fact.type, 0)


def _state(fact: CollectedFact) -> str:
    return str(fact.meta.get("state") or "").strip().lower()


def _plain(value: object, limit: int = TITLE_LENGTH) -> str:
    """GitHub text as markdown text: collapsed, cut, brackets as parentheses, the rest escaped."""
    text = cut(collapse(value if isinstance(value, str) else ""), limit)
    return escape_inline(text.replace("[", "(").replace("]", ")"))


def _number(fact: CollectedFact, *keys: str) -> str:
    for key in keys:
        value = fact.meta.get(key)
        if value is not None and value != "":
            return f" #{_plain(str(value), 40)}"
    return ""


def _titled(link: str, title: str) -> str:
    return f"{link} {EN_DASH} {title}" if title else link


def item_text(fact: CollectedFact) -> str:
    """One fact as a short item with its link, e.g. `merged [PR #12](url) – Add search`."""
    url = link_destination(fact.source_url)
    meta = fact.meta
    kind = fact.type
    if kind in ("pr_merged", "pr_opened", "pr_closed"):
        verb = kind.removeprefix("pr_")
        return _titled(f"{verb} [PR{_number(fact, 'number')}]({url})", _plain(meta.get("title")))
    if kind == "commit":
        sha = _plain(str(meta.get("sha") or fact.source_url.rsplit("/", 1)[-1])[:7])
        message = meta.get("message")
        subject = message.strip().splitlines()[0] if isinstance(message, str) and message.strip() \
            else ""
        return f"[{sha}]({url}) {_plain(subject)}".rstrip()
    if kind == "release":
        tag = _plain(meta.get("tag_name")) or "release"
        return _titled(f"released [{tag}]({url})", _plain(meta.get("name")))
    if kind in ("issue_opened", "issue_closed"):
        verb = kind.removeprefix("issue_")
        number = _number(fact, "issue_number", "number")
        return _titled(f"{verb} [Issue{number}]({url})", _plain(meta.get("title")))
    if kind == "review_submitted":
        link = f"[PR{_number(fact, 'pr_number')}]({url})"
        state = _state(fact)
        if state == "approved":
            return f"approved {link}"
        if state == "changes_requested":
            return f"requested changes on {link}"
        return f"reviewed {link}"
    if kind == "review_comment":
        path = _plain(meta.get("path"))
        suffix = f" ({path})" if path else ""
        return f"commented on [PR{_number(fact, 'pr_number')}]({url}){suffix}"
    if kind == "issue_comment":
        target = "PR" if meta.get("is_pull_request") else "Issue"
        return f"commented on [{target}{_number(fact, 'issue_number', 'number')}]({url})"
    return f"[{_plain(kind)}]({url}) {_plain(fact.canonical_text)}".rstrip()


def _section_bullets(facts: Sequence[CollectedFact], team: bool) -> list[str]:
    by_repo: dict[str, list[CollectedFact]] = {}
    for fact in facts:
        by_repo.setdefault(fact.repo, []).append(fact)
    ordered = sorted(by_repo.items(), key=lambda pair: (-len(pair[1]), pair[0]))

    def items(repo_facts: list[CollectedFact]) -> str:
        in_time_order = sorted(repo_facts, key=lambda fact: (fact.ts, fact.event_id))
        prefix = (lambda fact: f"@{_plain(fact.actor, 80)} ") if team else (lambda fact: "")
        return "; ".join(prefix(fact) + item_text(fact) for fact in in_time_order)

    bullets = [f"{_plain(repo)}: {items(repo_facts)}"
               for repo, repo_facts in ordered[:MAX_REPO_BULLETS]]
    rest = ordered[MAX_REPO_BULLETS:]
    if rest:
        bullets.append("Also: " + "; ".join(f"{_plain(repo)}: {items(fs)}" for repo, fs in rest))
    return bullets


def write_local(kind: str, facts: Sequence[CollectedFact], *, team: bool = False) -> Written:
    """The extractive report for `facts` (every fact cited; coverage 1.0).

    Args:
        kind: "daily" or "weekly".
        facts: The facts given to the writer.
        team: Prefix items with `@login`.

    Returns:
        One section per title of the kind; an empty bucket holds "No activity recorded".
    """
    titles = SECTION_TITLES[kind]
    buckets: list[list[CollectedFact]] = [[] for _ in titles]
    for fact in facts:
        buckets[_bucket(kind, fact)].append(fact)
    sections = []
    for title, bucket in zip(titles, buckets, strict=True):
        bullets = _section_bullets(bucket, team) if bucket else [NO_ACTIVITY]
        citations = list(dict.fromkeys(fact.source_url for fact in bucket))
        sections.append(Section(title, bullets, citations))
    return Written(sections, LOCAL_PROVIDER, LOCAL_MODEL)
