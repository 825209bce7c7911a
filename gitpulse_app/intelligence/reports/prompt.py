"""The report prompt, `prompt_version = "py-v1"`.

The system message holds the role line for the report's kind (or the team role) and the rules:
cite every claim, invent nothing, cover every event, answer with one JSON object. The user message
names who and when, lists one line per event and the exact section titles to write. Text from
GitHub (titles, messages, bodies, paths, names, logins) and the focus query enter the prompt
escaped as markdown text, so none of it reads as a link or other markup.
"""

from __future__ import annotations

from gitpulse_app.intelligence.reports.models import (
    DAILY,
    NO_ACTIVITY,
    PROMPT_VERSION,
    SECTION_TITLES,
    CollectedFact,
    Collection,
)
from gitpulse_app.intelligence.reports.markup import escape_inline
from gitpulse_app.normalization.text import collapse, cut

__all__ = ["PROMPT_VERSION", "build_messages", "event_line", "system_prompt", "user_prompt"]

ROLE_DAILY = "You are a senior engineer writing a concise daily standup for your team lead."
ROLE_WEEKLY = "You are a tech lead writing a weekly retrospective for stakeholders."
ROLE_TEAM = "You are a tech lead summarising your team's work for stakeholders."

_SCHEMA = ('{"sections":[{"title":"<exact title>","bullets":["<1 to 5 markdown strings>"],'
           '"citations":["<urls cited in this section>"]}]}')
RULES = "\n".join([
    "Rules:",
    "- Use only the events listed in the user message. Never invent activity, numbers, people "
    "or links.",
    "- Every factual bullet carries an inline markdown link to the URL of the event it "
    "describes, for example: Fixed the auth bug ([PR #42](https://github.com/acme/app/pull/42)).",
    "- Copy URLs exactly as they appear in the event list; never shorten, change or guess a URL.",
    f'- If a section has nothing relevant, give it the single bullet "{NO_ACTIVITY}".',
    "- Be specific: name PR and issue numbers, commit subjects, and line and file counts where "
    "given.",
    "- Write confident, plain technical prose; no filler, no hedging.",
    "",
    "Coverage:",
    "- Every listed event must be cited somewhere in the report.",
    '- Group minor items into an "Also completed:" bullet (each with its link) rather than '
    "skipping them.",
    "",
    "Output:",
    "- Answer with only one JSON object, no prose and no code fences:",
    f"  {_SCHEMA}",
    "- Use the exact section titles given, in the order given.",
])


def system_prompt(kind: str, *, team: bool) -> str:
    """The system message: role line, then the rules."""
    role = ROLE_TEAM if team else (ROLE_DAILY if kind == DAILY else ROLE_WEEKLY)
    return f"{role}\n\n{RULES}"


def _metrics(fact: CollectedFact) -> str:
    if fact.additions is None:
        return ""
    return (f" (+{fact.additions}/-{fact.deletions or 0}, "
            f"{fact.files_changed or 0} files)")


def _raw(meta: dict, key: str) -> str:
    value = meta.get(key)
    return collapse(value) if isinstance(value, str) else ""


def _text(meta: dict, key: str) -> str:
    return escape_inline(_raw(meta, key))


def _number(meta: dict, *keys: str) -> str:
    for key in keys:
        value = meta.get(key)
        if value is not None and value != "":
            return escape_inline(str(value))
    return "?"


def _quoted(body: str, limit: int) -> str:
    return f'"{escape_inline(cut(body, limit))}"'


def event_line(fact: CollectedFact, *, team: bool) -> str:
    """One event as the prompt lists it.

    For example `- **PR #12** (merged): Add search (+10/-2, 3 files) [url]`.

    Args:
        fact: The fact.
        team: Add ` @{login}` after the label (team scope).
    """
    meta = fact.meta
    by = f" @{escape_inline(fact.actor)}" if team else ""
    url = f" [{fact.source_url}]"
    kind = fact.type
    if kind in ("pr_opened", "pr_merged", "pr_closed"):
        state = kind.removeprefix("pr_")
        return (f"- **PR #{_number(meta, 'number')}**{by} ({state}): {_text(meta, 'title')}"
                f"{_metrics(fact)}{url}")
    if kind == "commit":
        sha = escape_inline(str(meta.get("sha") or fact.source_url.rsplit("/", 1)[-1])[:7])
        return f"- **Commit**{by} ({sha}): {_text(meta, 'message')}{_metrics(fact)}{url}"
    if kind == "review_submitted":
        body = _raw(meta, "body")
        quoted = f' - {_quoted(body, 100)}' if body else ""
        return (f"- **Review PR #{_number(meta, 'pr_number')}**{by}: "
                f"{_text(meta, 'state').lower() or 'commented'}{quoted}{url}")
    if kind == "review_comment":
        return (f"- **Review comment on PR #{_number(meta, 'pr_number')}**{by} "
                f"({_text(meta, 'path')}): {_quoted(_raw(meta, 'body'), 80)}{url}")
    if kind in ("issue_opened", "issue_closed"):
        state = kind.removeprefix("issue_")
        return (f"- **Issue #{_number(meta, 'issue_number', 'number')}**{by} ({state}): "
                f"{_text(meta, 'title')}{url}")
    if kind == "issue_comment":
        target = "PR" if meta.get("is_pull_request") else "Issue"
        return (f"- **Comment on {target} #{_number(meta, 'issue_number', 'number')}**{by}: "
                f"{_quoted(_raw(meta, 'body'), 80)}{url}")
    if kind == "release":
        name = _text(meta, "name") or "New release"
        return f"- **Release {_text(meta, 'tag_name')}**{by}: {name}{url}"
    return f"- **{kind}**{by}: {escape_inline(fact.canonical_text)}{url}"


def user_prompt(
    kind: str,
    *,
    who: str,
    date_label: str,
    collection: Collection,
    query: str | None = None,
    team: bool = False,
) -> str:
    """The user message: the request line, optional focus, the events and the titles to write."""
    lines = [f"Generate a {kind} report for **{escape_inline(who)}** covering **{date_label}**."]
    if query:
        lines.append(f'Focus: "{escape_inline(query)}" — prioritise related events.')
    lines.append("")
    lines.append(f"EVENTS ({len(collection.facts)} total):")
    lines.extend(event_line(fact, team=team) for fact in collection.facts)
    if collection.omitted:
        lines.append(f"({collection.omitted} older events omitted)")
    lines.append("")
    lines.append("SECTIONS TO WRITE (exact titles):")
    lines.extend(f"- {title}" for title in SECTION_TITLES[kind])
    return "\n".join(lines)


def build_messages(kind: str, *, who: str, date_label: str, collection: Collection,
                   query: str | None, team: bool) -> list[dict[str, str]]:
    """The chat messages for one report."""
    return [
        {"role": "system", "content": system_prompt(kind, team=team)},
        {"role": "user", "content": user_prompt(kind, who=who, date_label=date_label,
                                                collection=collection, query=query, team=team)},
    ]
