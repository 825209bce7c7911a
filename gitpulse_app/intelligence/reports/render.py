"""Rendering: markdown from sections, sanitised HTML, titles, descriptions, the markdown download.

Markdown is `## {title}` then `- {bullet}` lines per section, sections joined
by one blank line. HTML is rendered from that markdown by markdown-it-py (the parser the validator
uses, raw HTML shown as text) and sanitised by nh3 with an allowlist: only h2, h3, p, ul, ol, li, a,
strong, em, code, pre, blockquote and br survive, without attributes, except `href` on links, kept
only when it is one of the report's citations and always paired with `rel="noopener noreferrer"
target="_blank"`. Images never survive; the content of script-like elements is dropped, never shown
as text. The report page shows exactly this HTML (docs/report-markup.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

import nh3
from markdown_it.token import Token

from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_report_date,
    format_time,
    format_work_day,
)
from gitpulse_app.intelligence.reports.markup import (
    allowed_map,
    markdown_parser,
    normalize_url,
    strip_controls,
)
from gitpulse_app.intelligence.reports.models import DAILY, Section
from gitpulse_app.intelligence.windows import Window, ZoneLike, is_day_window

# Markdown -----------------------------------------------------------------------------------------


def render_markdown(sections: Sequence[Section]) -> str:
    """`## {title}` + `- {bullet}` lines per section, joined by one blank line; "" for none."""
    blocks = []
    for section in sections:
        lines = [f"## {section.title}"] + [f"- {bullet}" for bullet in section.bullets]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# Labels -------------------------------------------------------------------------------------------


def date_label(kind: str, start: dt.datetime, end: dt.datetime, zone: ZoneLike) -> str:
    """The covered period: "December 4, 2025" for a one-day daily report, else a date range."""
    if kind == DAILY and is_day_window(Window(start, end), zone):
        return format_report_date(start, zone)
    return format_date_range(start, end, zone)


def report_title(kind: str, start: dt.datetime, end: dt.datetime, zone: ZoneLike, *,
                 standard: bool) -> str:
    """`Daily Standup - {work day}`, `Weekly Retro - Week of {date}`, or `{Kind} Report - {range}`.

    A standard daily is titled with the work day it ends on (Monday's window also holds the weekend
    before it)."""
    if standard:
        if kind == DAILY:
            return f"Daily Standup - {format_work_day(end, zone)}"
        return f"Weekly Retro - Week of {format_report_date(start, zone)}"
    return f"{kind.capitalize()} Report - {format_date_range(start, end, zone)}"


def report_description(kind: str, *, who: str, team: bool, query: str | None,
                       partial_at: dt.datetime | None, zone: ZoneLike) -> str:
    """`Auto-generated {kind} report for {login}` / `Report for {who}`, plus focus and "so far"."""
    text = f"Report for {who}" if team else f"Auto-generated {kind} report for {who}"
    if query:
        text += f' \u2014 focus: "{query}"'
    if partial_at is not None:
        text += f" (so far, generated {format_time(partial_at, zone)})"
    return text


def markdown_download(title: str, label: str, markdown: str, citations: Sequence[str]) -> str:
    """The `/api/reports/{id}.md` body: `# {title}`, the date label, the markdown, `Sources:`."""
    parts = [f"# {title}", label]
    if markdown:
        parts.append(markdown)
    parts.append("\n".join(["Sources:", *(f"- {url}" for url in citations)]))
    return "\n\n".join(parts) + "\n"


# Markdown → HTML ----------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {"h2", "h3", "p", "ul", "ol", "li", "a", "strong", "em", "code", "pre", "blockquote", "br"})
# Elements whose content is code or hidden data, never text to show.
_DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed", "noscript",
                           "textarea", "title", "svg", "math", "head", "select", "xmp",
                           "noembed", "noframes", "plaintext"})
LINK_REL = "noopener noreferrer"
_SAFE_SCHEMES = ("http://", "https://")
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
# An anchor the sanitiser left without its href: not a link any more, so only its content stays.
_HREFLESS_ANCHOR = re.compile(r"<a(?![^>]*\shref=)[^>]*>(.*?)</a>", re.S)


def is_safe_href(href: str) -> bool:
    """Only http and https links survive (after removing control characters and spaces)."""
    return _CONTROL_AND_SPACE.sub("", href).lower().startswith(_SAFE_SCHEMES)


def _without_unlisted_links(tokens: list[Token], allowed: Mapping[str, str]) -> None:
    """Drop images, and links (keeping their text) whose URL is not among `allowed`, in place."""
    for block in tokens:
        if not block.children:
            continue
        kept: list[Token] = []
        dropped_open: list[bool] = []
        for token in block.children:
            if token.type == "image":
                continue
            if token.type == "link_open":
                target = allowed.get(normalize_url(str(token.attrs.get("href") or "")))
                dropped_open.append(target is None)
                if target is None:
                    continue
                token.attrs = {"href": target}
            elif token.type == "link_close" and dropped_open and dropped_open.pop():
                continue
            kept.append(token)
        block.children = kept


def sanitize_html(markup: str, citations: Iterable[str]) -> str:
    """Keep only allowlisted tags and links to `citations`; drop every other attribute.

    Args:
        markup: Any HTML.
        citations: The only URLs a link may keep (compared as `normalize_url` does).

    Returns:
        Safe HTML (nh3): tags of `ALLOWED_TAGS` without attributes, except `href` on links, set
        to the cited URL as stored and paired with `rel="noopener noreferrer" target="_blank"`;
        a link to anything else keeps only its text; script-like content is dropped.
    """
    allowed = allowed_map(url for url in citations if is_safe_href(url))

    def href_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href":
            return allowed.get(normalize_url(value))
        return value  # the allowlist already admitted it (only rel and target remain)

    clean = nh3.clean(
        markup, tags=set(ALLOWED_TAGS), clean_content_tags=set(_DROP_CONTENT),
        attributes={"a": {"href"}, "*": set()}, attribute_filter=href_filter,
        strip_comments=True, link_rel=LINK_REL, url_schemes={"http", "https"},
        set_tag_attribute_values={"a": {"target": "_blank"}})
    return _HREFLESS_ANCHOR.sub(r"\1", clean)


def render_html(markdown: str, citations: Iterable[str]) -> str:
    """The `html` of a report, as stored and as the report page shows it.

    The markdown is parsed as the validator parses it; images and links to anything but the
    report's `citations` lose their markup (a link keeps its text), then `sanitize_html` applies
    the tag allowlist.
    """
    citations = list(citations)
    allowed = allowed_map(url for url in citations if is_safe_href(url))
    parser = markdown_parser()  # the validator's flavour: raw HTML is text
    env: dict = {}
    tokens = parser.parse(strip_controls(markdown), env)
    _without_unlisted_links(tokens, allowed)
    return sanitize_html(parser.renderer.render(tokens, parser.options, env), citations).strip()
