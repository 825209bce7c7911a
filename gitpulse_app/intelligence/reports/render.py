"""Rendering: markdown from sections, sanitised HTML, titles, descriptions, the markdown download.

SPEC §8 "Rendering". Markdown is `## {title}` then `- {bullet}` lines per section, sections joined
by one blank line. HTML is rendered here from that markdown (a small renderer for the subset the
writers produce: headings, lists, paragraphs, quotes, code, links, emphasis; everything else is
escaped text) and then passed through an allowlist sanitiser built on `html.parser`: only h2, h3, p,
ul, ol, li, a, strong, em, code, pre, blockquote and br survive, without attributes, except `href`
on links, kept only for http and https and always paired with `rel="noopener noreferrer"
target="_blank"`. The content of script-like elements is dropped, never shown as text.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser

from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_report_date,
    format_time,
    format_work_day,
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

_SAFE_SCHEMES = ("http://", "https://")
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]+")

_INLINE = re.compile(
    r"(?P<escape>\\(?P<escaped>[\\`*_\[\]()#+\-.!>{}]))"
    r"|(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?P=ticks))"
    r"|(?P<link>\[(?P<link_text>[^\[\]]*)\]\(\s*<?(?P<href>(?:[^()\s<>]|\([^()\s]*\))+)>?"
    r"(?:\s+\"[^\"]*\")?\s*\))"
    r"|(?P<strong>\*\*(?P<strong_text>(?!\s).+?(?<!\s))\*\*)"
    r"|(?P<em>(?<![\w*])\*(?P<em_text>(?![\s*]).+?(?<![\s*]))\*(?![\w*]))"
    r"|(?P<em2>(?<![\w_])_(?P<em2_text>(?![\s_]).+?(?<![\s_]))_(?![\w_]))"
)


def is_safe_href(href: str) -> bool:
    """Only http and https links survive (after removing control characters and spaces)."""
    return _CONTROL_AND_SPACE.sub("", href).lower().startswith(_SAFE_SCHEMES)


def _inline(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position:match.start()]))
        position = match.end()
        if match.group("escape"):
            out.append(html.escape(match.group("escaped")))
        elif match.group("code"):
            out.append(f"<code>{html.escape(match.group('code_text').strip())}</code>")
        elif match.group("link"):
            label = _inline(match.group("link_text"))
            href = match.group("href")
            if is_safe_href(href):
                out.append(f'<a href="{html.escape(href, quote=True)}">{label}</a>')
            else:
                out.append(label)
        elif match.group("strong"):
            out.append(f"<strong>{_inline(match.group('strong_text'))}</strong>")
        elif match.group("em"):
            out.append(f"<em>{_inline(match.group('em_text'))}</em>")
        else:
            out.append(f"<em>{_inline(match.group('em2_text'))}</em>")
    out.append(html.escape(text[position:]))
    return "".join(out)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_FENCE = re.compile(r"^\s*```")


def markdown_to_html(markdown: str) -> str:
    """HTML for the markdown subset reports use (not yet sanitised; see `render_html`)."""
    out: list[str] = []
    paragraph: list[str] = []
    open_list: str | None = None
    lines = markdown.splitlines()

    def flush_paragraph() -> None:
        if paragraph:
            out.append(f"<p>{'<br>'.join(_inline(line) for line in paragraph)}</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal open_list
        if open_list:
            out.append(f"</{open_list}>")
            open_list = None

    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if _FENCE.match(line):
            flush_paragraph()
            close_list()
            code = []
            while index < len(lines) and not _FENCE.match(lines[index]):
                code.append(lines[index])
                index += 1
            index += 1  # the closing fence
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if not line.strip():
            flush_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        ordered = _ORDERED.match(line)
        quote = _QUOTE.match(line)
        if heading:
            flush_paragraph()
            close_list()
            tag = "h3" if len(heading.group(1)) >= 3 else "h2"
            out.append(f"<{tag}>{_inline(heading.group(2))}</{tag}>")
        elif bullet or ordered:
            flush_paragraph()
            wanted = "ul" if bullet else "ol"
            if open_list != wanted:
                close_list()
                out.append(f"<{wanted}>")
                open_list = wanted
            out.append(f"<li>{_inline((bullet or ordered).group(1))}</li>")
        elif quote:
            flush_paragraph()
            close_list()
            out.append(f"<blockquote><p>{_inline(quote.group(1))}</p></blockquote>")
        else:
            close_list()
            paragraph.append(line.strip())
    flush_paragraph()
    close_list()
    return "\n".join(out)


# Sanitiser ----------------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {"h2", "h3", "p", "ul", "ol", "li", "a", "strong", "em", "code", "pre", "blockquote", "br"})
# Elements whose content is code or hidden data, never text to show.
_DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed", "noscript",
                           "textarea", "title", "svg", "math", "head", "select", "xmp",
                           "noembed", "noframes", "plaintext"})
LINK_ATTRIBUTES = ' rel="noopener noreferrer" target="_blank"'


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, emitted)
        self.dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping:
            if tag in _DROP_CONTENT:
                self.dropping.append(tag)
            return
        if tag in _DROP_CONTENT:
            self.dropping.append(tag)
            return
        if tag == "br":
            self.out.append("<br>")
            return
        if tag not in ALLOWED_TAGS:
            return
        if tag == "a":
            href = next((value for name, value in attrs if name == "href" and value), None)
            if href is None or not is_safe_href(href):
                self.stack.append((tag, False))
                return
            clean = _CONTROL_AND_SPACE.sub("", href.strip())
            self.out.append(f'<a href="{html.escape(clean, quote=True)}"{LINK_ATTRIBUTES}>')
        else:
            self.out.append(f"<{tag}>")
        self.stack.append((tag, True))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag != "br" and tag not in _DROP_CONTENT:
            self.handle_endtag(tag)
        elif tag in _DROP_CONTENT and self.dropping and self.dropping[-1] == tag:
            self.dropping.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag not in ALLOWED_TAGS or tag == "br":
            return
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                while len(self.stack) > depth:
                    open_tag, emitted = self.stack.pop()
                    if emitted:
                        self.out.append(f"</{open_tag}>")
                return

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.stack:
            tag, emitted = self.stack.pop()
            if emitted:
                self.out.append(f"</{tag}>")
        return "".join(self.out)


def sanitize_html(markup: str) -> str:
    """Keep only allowlisted tags and http(s) links; drop every attribute and all script content.

    Args:
        markup: Any HTML.

    Returns:
        Safe HTML: tags of `ALLOWED_TAGS` without attributes, except `href` (http/https only) on
        links, which always carry `rel="noopener noreferrer" target="_blank"`; text re-escaped.
    """
    sanitizer = _Sanitizer()
    sanitizer.feed(markup)
    return sanitizer.result()


def render_html(markdown: str) -> str:
    """The stored `html` of a report: its markdown rendered, then sanitised."""
    return sanitize_html(markdown_to_html(markdown))
