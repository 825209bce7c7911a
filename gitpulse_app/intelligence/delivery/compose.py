"""The email of a report: subject, plain text, inline-styled HTML and headers.

Both bodies are rendered here from the report's `sections` (or, for a report without sections,
from its `markdown`), never by copying stored HTML, so the email's safety does not depend on any
other renderer: every piece of text is escaped, only `http`/`https` links to one of the report's
citations become anchors (anything else keeps just the link text), markdown backslash escapes show
as the characters they escape, and the HTML has no `<script>`, `<style>` or event attributes —
mail clients want inline styles anyway.

Plain text: the title and date label, then per section its title in capitals and `- bullet` lines,
markdown links written as `text <url>`. Both bodies end with the links to the report page and to
the email settings.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import Settings, get_settings
from gitpulse_app.core.models import Report
from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_report_date,
    format_work_day,
)
from gitpulse_app.intelligence.reports.markup import allowed_map, normalize_url


# The date label of the report's window, in the report's zone ----------------------------------
def date_label(report: Report) -> str:
    """`December 5, 2025` for a daily report (a standard one: its work day), `Dec 1 - Dec 7, 2025`
    otherwise."""
    if report.schedule_type == "daily":
        return format_work_day(report.end_date, report.timezone)
    if report.kind == "daily":
        return format_report_date(report.start_date, report.timezone)
    return format_date_range(report.start_date, report.end_date, report.timezone)


def subject_for(report: Report) -> str:
    """`GitPulse daily standup — December 5, 2025`, `GitPulse weekly retro — Dec 1 - Dec 7, 2025`.

    The dash is an em dash; the label is `date_label`'s, in the report's time zone.
    """
    what = "daily standup" if report.kind == "daily" else "weekly retro"
    return f"GitPulse {what} \u2014 {date_label(report)}"


def message_id_for(report_id: int, settings: Settings | None = None) -> str:
    """`<report-{id}@{host of GITPULSE_BASE_URL}>`: a re-send keeps the id, so clients dedupe."""
    host = (settings or get_settings()).base_host or "localhost"
    if ":" in host:  # an IPv6 literal needs the domain-literal form
        host = f"[{host}]"
    return f"<report-{report_id}@{host}>"


# Inline markdown of a bullet ---------------------------------------------------------------------
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))+)>?\s*\)")
_BARE_URL = re.compile(r"https?://[^\s<>()\[\]\"']+", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_UNSAFE_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f\"'<>\\`]")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def safe_url(url: str) -> str | None:
    """`url` when it is an absolute http(s) URL with a host and no characters that break out."""
    url = url.strip()
    if not url or _UNSAFE_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@dataclass(frozen=True)
class _Piece:
    text: str
    url: str | None = None  # a safe URL: this piece is a link


def _cited(url: str, cited: dict[str, str]) -> str | None:
    """The report's citation `url` stands for (as stored), when it is a safe one."""
    target = cited.get(normalize_url(url))
    return safe_url(target) if target else None


def _shown(text: str) -> str:
    return _BACKSLASH_ESCAPE.sub(r"\1", text)


def _pieces(text: str, cited: dict[str, str]) -> Iterator[_Piece]:
    """Split a bullet into text and link pieces; links to anything but a citation keep their
    text only."""
    position = 0
    for found in _LINK.finditer(text):
        yield from _bare_pieces(text[position:found.start()], cited)
        label, url = _shown(found.group(1)), _cited(found.group(2), cited)
        yield _Piece(label or (url or ""), url)
        position = found.end()
    yield from _bare_pieces(text[position:], cited)


def _bare_pieces(text: str, cited: dict[str, str]) -> Iterator[_Piece]:
    position = 0
    for found in _BARE_URL.finditer(text):
        url = found.group(0).rstrip(".,;:!?")
        if found.start() > position:
            yield _Piece(_shown(text[position:found.start()]))
        yield _Piece(url, _cited(url, cited))
        position = found.start() + len(url)
    if position < len(text):
        yield _Piece(_shown(text[position:]))


def _plain_inline(text: str, cited: dict[str, str]) -> str:
    out = []
    for piece in _pieces(text, cited):
        label = piece.text.replace("**", "")
        if piece.url is None:
            out.append(label)
        elif label == piece.url:
            out.append(f"<{piece.url}>")
        else:
            out.append(f"{label} <{piece.url}>")
    return " ".join("".join(out).split())


# Inline styles (mail clients drop <style> blocks) ------------------------------------------------
_FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif"
STYLE = {
    "body": "margin:0;padding:0;background-color:#f6f8fa;",
    "card": (
        f"max-width:640px;margin:0 auto;padding:24px;background-color:#ffffff;font-family:{_FONT};"
        "font-size:15px;line-height:1.5;color:#1f2328;"
    ),
    "h1": "margin:0 0 4px 0;font-size:20px;font-weight:600;color:#1f2328;",
    "meta": "margin:0 0 16px 0;font-size:13px;color:#59636e;",
    "h2": "margin:20px 0 8px 0;font-size:16px;font-weight:600;color:#1f2328;",
    "ul": "margin:0 0 8px 0;padding-left:20px;",
    "li": "margin:0 0 6px 0;",
    "a": "color:#0969da;text-decoration:underline;",
    "code": (
        "font-family:SFMono-Regular,Consolas,'Liberation Mono',Menlo,monospace;font-size:13px;"
        "background-color:#eff2f5;padding:1px 4px;border-radius:4px;"
    ),
    "hr": "border:none;border-top:1px solid #d1d9e0;margin:24px 0 12px 0;",
    "footer": "margin:0;font-size:13px;color:#59636e;",
}


def _anchor(url: str, label_html: str) -> str:
    return (
        f'<a href="{html.escape(url, quote=True)}" style="{STYLE["a"]}" '
        f'target="_blank" rel="noopener noreferrer">{label_html}</a>'
    )


def _html_text(text: str) -> str:
    escaped = html.escape(text, quote=True)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _CODE.sub(lambda m: f'<code style="{STYLE["code"]}">{m.group(1)}</code>', escaped)


def _html_inline(text: str, cited: dict[str, str]) -> str:
    out = []
    for piece in _pieces(text, cited):
        label = _html_text(piece.text)
        out.append(label if piece.url is None else _anchor(piece.url, label))
    return "".join(out)


# Sections ----------------------------------------------------------------------------------------
@dataclass
class _Section:
    title: str
    bullets: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)


def _as_text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _sections(report: Report) -> list[_Section]:
    """The report's sections; from its markdown (`## title` / `- bullet`) when it has none."""
    sections: list[_Section] = []
    for raw in report.sections or []:
        if not isinstance(raw, dict):
            continue
        bullets = [_as_text(b) for b in raw.get("bullets") or [] if _as_text(b)]
        citations = [_as_text(c) for c in raw.get("citations") or [] if _as_text(c)]
        sections.append(_Section(_as_text(raw.get("title")), bullets, citations))
    if sections or not report.markdown:
        return sections
    for line in report.markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            sections.append(_Section(_as_text(stripped.lstrip("#"))))
        elif stripped.startswith(("- ", "* ")) and sections:
            sections[-1].bullets.append(_as_text(stripped[2:]))
    return sections


def _citations(report: Report, sections: Iterable[_Section]) -> dict[str, str]:
    """The only URLs the email links to: the report's citations (normalised → as stored)."""
    listed = [c for s in sections for c in s.citations] + [str(c) for c in report.citations or []]
    return allowed_map(listed)


def _linked_urls(sections: Iterable[_Section], cited: dict[str, str]) -> set[str]:
    return {
        piece.url for section in sections for bullet in section.bullets
        for piece in _pieces(bullet, cited) if piece.url
    }


def _unlinked_citations(report: Report, sections: list[_Section]) -> list[str]:
    """Citations no bullet links to (first-seen order): listed so each one is still a link."""
    linked = _linked_urls(sections, _citations(report, sections))
    out: list[str] = []
    listed = [c for s in sections for c in s.citations] + [str(c) for c in report.citations or []]
    for citation in listed:
        url = safe_url(citation)
        if url and url not in linked and url not in out:
            out.append(url)
    return out


def report_links(report_id: int, settings: Settings | None = None) -> tuple[str, str]:
    """(report page URL, settings page URL)."""
    base = (settings or get_settings()).base_url.rstrip("/")
    return f"{base}/reports/{report_id}", f"{base}/settings"


# Bodies ------------------------------------------------------------------------------------------
def render_text(report: Report, settings: Settings | None = None) -> str:
    """The plain-text body."""
    sections = _sections(report)
    cited = _citations(report, sections)
    lines = [_as_text(report.title), date_label(report)]
    for section in sections:
        lines += ["", section.title.upper()]
        lines += [f"- {_plain_inline(bullet, cited)}" for bullet in section.bullets]
    extra = _unlinked_citations(report, sections)
    if extra:
        lines += ["", "SOURCES"] + [f"- <{url}>" for url in extra]
    page, settings_page = report_links(report.id or 0, settings)
    lines += ["", f"View in GitPulse: {page}", f"Email settings: {settings_page}"]
    return "\n".join(lines) + "\n"


def render_html(report: Report, settings: Settings | None = None) -> str:
    """The HTML body: escaped text, http(s) anchors only, inline styles."""
    sections = _sections(report)
    cited = _citations(report, sections)
    esc = html.escape
    parts = [
        f'<h1 style="{STYLE["h1"]}">{esc(_as_text(report.title))}</h1>',
        f'<p style="{STYLE["meta"]}">{esc(date_label(report))}</p>',
    ]
    for section in sections:
        parts.append(f'<h2 style="{STYLE["h2"]}">{esc(section.title)}</h2>')
        items = "".join(
            f'<li style="{STYLE["li"]}">{_html_inline(bullet, cited)}</li>'
            for bullet in section.bullets
        )
        parts.append(f'<ul style="{STYLE["ul"]}">{items}</ul>')
    extra = _unlinked_citations(report, sections)
    if extra:
        parts.append(f'<h2 style="{STYLE["h2"]}">Sources</h2>')
        items = "".join(f'<li style="{STYLE["li"]}">{_anchor(u, esc(u))}</li>' for u in extra)
        parts.append(f'<ul style="{STYLE["ul"]}">{items}</ul>')
    page, settings_page = report_links(report.id or 0, settings)
    parts.append(f'<hr style="{STYLE["hr"]}">')
    parts.append(
        f'<p style="{STYLE["footer"]}">View in GitPulse: {_link_or_text(page)}<br>'
        f"Email settings: {_link_or_text(settings_page)}</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(subject_for(report))}</title></head>"
        f'<body style="{STYLE["body"]}"><div style="{STYLE["card"]}">'
        + "".join(parts)
        + "</div></body></html>\n"
    )


def _link_or_text(url: str) -> str:
    safe = safe_url(url)
    return _anchor(safe, html.escape(safe)) if safe else html.escape(url)


def compose_message(
    report: Report,
    to_address: str,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The multipart/alternative message of `report` for `to_address`."""
    settings = settings or get_settings()
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to_address
    message["Subject"] = subject_for(report)
    message["Date"] = email.utils.format_datetime(now or utcnow())
    message["Message-ID"] = message_id_for(report.id or 0, settings)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(report, settings))
    message.add_alternative(render_html(report, settings), subtype="html")
    return message


# Shared with the chat renderers (delivery/channels/render.py) -------------------------------------
def inline_pieces(text: str, citations: Iterable[str]) -> list[tuple[str, str | None]]:
    """A bullet as (text, URL or None) pieces: markdown links and bare URLs split out; a URL is
    kept only when it is one of `citations` (as stored), else its piece is text alone."""
    return [(piece.text, piece.url) for piece in _pieces(text, allowed_map(citations))]


def report_sections(report: Report) -> list[tuple[str, list[str], list[str]]]:
    """The report's sections as (title, bullets, citations), from its markdown when it has none."""
    return [(s.title, s.bullets, s.citations) for s in _sections(report)]
