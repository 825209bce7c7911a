"""The messages a channel receives: Slack Block Kit, a Discord embed, a signed webhook JSON body.

Rules (docs/CHANNELS.md):
- Text from GitHub and from models is data. It can never ping or mention anyone: every `@` gets a
  zero-width space after it (so `@everyone`, `@here`, `@channel` are inert), Slack's `&`, `<`, `>`
  are escaped (so `<!channel>`, `<@U123>` and `<url|label>` cannot be written), Discord's markdown
  characters are backslash-escaped and `<` is followed by a zero-width space (so `<@123>`, `<@&1>`
  and `<#1>` cannot be written), and Discord messages carry `allowed_mentions: {"parse": []}`.
- It can never link anywhere: a link survives only when its target is one of the report's own
  citations (or the report page); any other URL keeps its text with `://` broken by a zero-width
  space, so clients do not auto-link it either.
- Long reports are split and trimmed within each platform's limits (Slack: 50 blocks, 3000
  characters per section text; Discord: 10 embeds, 4096 characters per description, 6000 in all),
  ending with a link to the full report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from gitpulse_app.core.clock import iso_z
from gitpulse_app.core.config import Settings, get_settings
from gitpulse_app.core.models import Report
from gitpulse_app.intelligence.delivery.compose import (
    date_label,
    inline_pieces,
    report_links,
    report_sections,
    safe_url,
)

ZWSP = "\u200b"
SLACK_BLOCKS = 50
SLACK_SECTION_TEXT = 3000
SLACK_HEADER_TEXT = 150
SLACK_FALLBACK_TEXT = 3000
DISCORD_EMBEDS = 10
DISCORD_DESCRIPTION = 4096
DISCORD_TITLE = 256
DISCORD_TOTAL = 6000
WEBHOOK_EVENT = "report.published"
TEST_EVENT = "ping"


@dataclass(frozen=True)
class Digest:
    """What every renderer needs of a report, already reduced to safe pieces.

    Attributes:
        report_id: The report (0 for a test message).
        title: The report's title.
        label: Its date label ("December 5, 2025").
        who: Whose work: "" for a personal report, else "Team: a, b" or "Repository o/n".
        sections: (title, bullets) in order; bullets are inline markdown.
        allowed: The only URLs a message may link to: the report's citations.
        coverage: The coverage score (0–1), None when not measured.
        url: The report page.
    """

    report_id: int
    title: str
    label: str
    who: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    allowed: frozenset[str]
    coverage: float | None
    url: str


def digest_of(report: Report, settings: Settings | None = None) -> Digest:
    """The digest of a saved report."""
    settings = settings or get_settings()
    sections = report_sections(report)
    cited = {c for _, _, citations in sections for c in citations} | set(report.citations or [])
    if report.scope_repo:
        who = f"Repository {report.scope_repo}"
    elif len(report.scope_logins or []) > 1 or report.schedule_type is None:
        who = "Team: " + ", ".join(report.scope_logins or [])
    else:
        who = ""
    page, _ = report_links(report.id or 0, settings)
    return Digest(report.id or 0, report.title, date_label(report), who,
                  tuple((title, tuple(bullets)) for title, bullets, _ in sections),
                  frozenset(u for u in (safe_url(c) for c in cited) if u),
                  report.coverage_score, page)


def sample_digest(channel_name: str, settings: Settings | None = None) -> Digest:
    """The "Send test message" sample."""
    base = (settings or get_settings()).base_url.rstrip("/")
    return Digest(0, "GitPulse test message", "Channel check", "",
                  (("Connected", (f"This is a test message for the channel {channel_name}. "
                                  "Reports will arrive here.",)),),
                  frozenset(), None, f"{base}/settings")


# Neutralising text ------------------------------------------------------------------------------
def defuse(text: str) -> str:
    """No mentions and no auto-links: a zero-width space after `@`, inside `://` and `www.`."""
    return (text.replace("@", "@" + ZWSP).replace("://", ":" + ZWSP + "//")
            .replace("www.", "www" + ZWSP + "."))


def slack_text(text: str) -> str:
    """GitHub text for Slack mrkdwn: defused, then `&`, `<`, `>` escaped as Slack requires."""
    return defuse(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_DISCORD_MARKDOWN = str.maketrans({ch: "\\" + ch for ch in "\\*_~`|>#[]()"})


def discord_text(text: str) -> str:
    """GitHub text for Discord markdown: defused, markdown escaped, `<` made inert."""
    return defuse(text).translate(_DISCORD_MARKDOWN).replace("<", "<" + ZWSP)


def _inline(text: str, allowed: frozenset[str], escape: Callable[[str], str],
            link: Callable[[str, str], str]) -> str:
    out = []
    for label, url in inline_pieces(text, allowed):
        label = label.replace("**", "")
        out.append(link(url, escape(label)) if url and url in allowed else escape(label))
    return " ".join("".join(out).split())


def _slack_link(url: str, label: str) -> str:
    return f"<{url.replace('|', '%7C')}|{label}>"


def _discord_link(url: str, label: str) -> str:
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def _coverage(digest: Digest) -> str:
    if digest.coverage is None:
        return "Coverage not measured"
    return f"Coverage {round(digest.coverage * 100)}%"


# Splitting within limits --------------------------------------------------------------------------
def _fit(line: str, limit: int) -> str:
    """`line` cut to `limit` characters, never inside a `<…>` link or an `&…;` entity."""
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    for opener, closer in (("<", ">"), ("&", ";"), ("[", ")")):
        at = cut.rfind(opener)
        if at > cut.rfind(closer):
            cut = cut[:at]
    return cut + "…"


def _pack_lines(groups: list[list[str]], limit: int, split_groups: bool) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    for group in groups:
        for index, line in enumerate(group):
            line = _fit(line, limit)
            if current and ((index == 0 and split_groups)
                            or len("\n".join([*current, line])) > limit):
                chunks.append("\n".join(current))
                current = []
            current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


def pack(groups: list[list[str]], *, limit: int, max_chunks: int, total: int, more: str,
         split_groups: bool) -> list[str]:
    """Lines packed into at most `max_chunks` texts of at most `limit` characters (`total` in all).

    When everything does not fit, lines are dropped from the end and `more` (a link to the full
    report) closes the message.
    """
    chunks = _pack_lines(groups, limit, split_groups)
    if len(chunks) <= max_chunks and sum(map(len, chunks)) <= total:
        return chunks
    flat = [(number, line) for number, group in enumerate(groups) for line in group]
    while flat:
        flat.pop()
        kept: list[list[str]] = []
        last = None
        for number, line in flat:
            if number != last:
                kept.append([])
                last = number
            kept[-1].append(line)
        kept.append([more]) if split_groups else (kept[-1].append(more) if kept
                                                  else kept.append([more]))
        chunks = _pack_lines(kept, limit, split_groups)
        if len(chunks) <= max_chunks and sum(map(len, chunks)) <= total:
            return chunks
    return [_fit(more, limit)]


# Slack ------------------------------------------------------------------------------------------
def slack_payload(digest: Digest) -> dict:
    """Block Kit: a header, the date (and team), one section per report section, a context line
    with coverage and the report link; `text` is the notification fallback."""
    def inline(text: str) -> str:
        return _inline(text, digest.allowed, slack_text, _slack_link)

    link = _slack_link(digest.url, "Open the full report in GitPulse")
    groups = [[f"*{slack_text(title)}*", *(f"• {inline(b)}" for b in bullets)]
              for title, bullets in digest.sections]
    sections = pack(groups, limit=SLACK_SECTION_TEXT, max_chunks=SLACK_BLOCKS - 3,
                    total=40_000, more=f"…more in the full report: {link}", split_groups=True)
    label = "" if digest.label in digest.title else digest.label
    about = " · ".join(slack_text(part) for part in (label, digest.who) if part)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": False,
                                    "text": _fit(defuse(digest.title), SLACK_HEADER_TEXT)}},
    ]
    if about:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": about}]})
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections]
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{_coverage(digest)} · {link}"}]})
    fallback = "\n".join([slack_text(digest.title) + (f" ({about})" if about else ""),
                          *(line for group in groups for line in group), link])
    return {"text": _fit(fallback, SLACK_FALLBACK_TEXT), "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


# Discord ----------------------------------------------------------------------------------------
def discord_payload(digest: Digest) -> dict:
    """An embed per report (split over more embeds when long): the title links to the report
    page, bullets are markdown links, coverage and date sit in the footer. Nobody is pinged."""
    def inline(text: str) -> str:
        return _inline(text, digest.allowed, discord_text, _discord_link)

    title = _fit(defuse(digest.title), DISCORD_TITLE)
    label = "" if digest.label in digest.title else digest.label
    footer = " · ".join(part for part in (_coverage(digest), defuse(label),
                                          defuse(digest.who)) if part)
    groups = [[f"**{discord_text(name)}**", *(f"• {inline(b)}" for b in bullets), ""]
              for name, bullets in digest.sections]
    budget = DISCORD_TOTAL - len(title) - len(footer) - 100
    parts = pack(groups, limit=DISCORD_DESCRIPTION, max_chunks=DISCORD_EMBEDS, total=budget,
                 more=f"…more in {_discord_link(digest.url, 'the full report')}",
                 split_groups=False)
    embeds: list[dict] = [{"description": part.strip() or "\u2014"} for part in parts]
    embeds[0] |= {"title": title, "url": digest.url}
    embeds[-1]["footer"] = {"text": footer}
    return {"username": "GitPulse", "allowed_mentions": {"parse": []}, "embeds": embeds}


# Webhook ----------------------------------------------------------------------------------------
def webhook_body(report: Report, settings: Settings | None = None) -> bytes:
    """`{"type":"report.published","report":{…}}` as the exact bytes that are signed and sent."""
    page, _ = report_links(report.id or 0, settings or get_settings())
    document = {"type": WEBHOOK_EVENT, "report": {
        "id": report.id, "title": report.title, "kind": report.kind,
        "scope": {"type": "team" if report.schedule_type is None else "personal",
                  "logins": list(report.scope_logins or []), "repo": report.scope_repo},
        "start": iso_z(report.start_date), "end": iso_z(report.end_date),
        "markdown": report.markdown, "citations": list(report.citations or []),
        "coverage_score": report.coverage_score, "url": page}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_test_body(channel_id: int, channel_name: str) -> bytes:
    document = {"type": TEST_EVENT, "channel": {"id": channel_id, "name": channel_name},
                "message": "This is a test message from GitPulse."}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body under the channel secret>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_headers(event: str, delivery_uuid: str, secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "GitPulse-Channels/1",
            "X-GitPulse-Event": event, "X-GitPulse-Delivery": delivery_uuid,
            "X-GitPulse-Signature-256": signature(secret, body)}


def chat_body(kind: str, digest: Digest) -> bytes:
    """The JSON bytes of a Slack or Discord message."""
    payload = slack_payload(digest) if kind == "slack" else discord_payload(digest)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


CHAT_HEADERS = {"Content-Type": "application/json", "User-Agent": "GitPulse-Channels/1"}
