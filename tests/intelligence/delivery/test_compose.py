"""Subjects, bodies and headers of the report email."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from gitpulse_app.intelligence.delivery.compose import (
    compose_message,
    message_id_for,
    render_html,
    render_text,
    subject_for,
)
from tests.intelligence.delivery.conftest import BASE_URL, DAY_START, WEEK_START, make_report


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_daily_subject_is_exact(session, owner, configure):
    configure(GITPULSE_BASE_URL=BASE_URL)
    report = make_report(session, owner, start=DAY_START)
    assert subject_for(report) == "GitPulse daily standup \u2014 December 5, 2025"


def test_weekly_subject_is_exact(session, owner, configure):
    configure(GITPULSE_BASE_URL=BASE_URL)
    report = make_report(session, owner, kind="weekly", start=WEEK_START)
    assert subject_for(report) == "GitPulse weekly retro \u2014 Dec 1 - Dec 7, 2025"


def test_subject_uses_the_report_zone_and_year_crossing_range(session, owner):
    tokyo_day = make_report(session, owner, start=dt.datetime(2025, 12, 4, 15, tzinfo=dt.UTC),
                            tz="Asia/Tokyo")
    assert subject_for(tokyo_day) == "GitPulse daily standup \u2014 December 5, 2025"
    week = make_report(session, owner, kind="weekly", tz="UTC",
                       start=dt.datetime(2025, 12, 29, tzinfo=dt.UTC))
    assert subject_for(week) == "GitPulse weekly retro \u2014 Dec 29, 2025 - Jan 4, 2026"


def test_plain_text_sections_links_and_footer(session, owner, configure):
    configure(GITPULSE_BASE_URL=BASE_URL)
    report = make_report(session, owner, start=DAY_START)
    text = render_text(report)
    pr, commit = "https://github.com/acme/app/pull/42", "https://github.com/acme/app/commit/abc1234"
    assert f"WORK COMPLETED\n- Merged search (PR #42 <{pr}>) (+10/-2)\n" in text
    assert f"- Fixed the auth bug in `login.py` (abc1234 <{commit}>)" in text
    assert "KEY DECISIONS & CONTEXT\n- No activity recorded\n" in text
    # A citation no bullet links to is still listed as a link.
    assert "- <https://github.com/acme/app/pull/50>" in text
    assert text.rstrip("\n").endswith(
        f"View in GitPulse: {BASE_URL}/reports/{report.id}\nEmail settings: {BASE_URL}/settings"
    )


def test_html_links_every_citation_with_inline_styles_and_ends_with_footer(
    session, owner, configure
):
    configure(GITPULSE_BASE_URL=BASE_URL)
    report = make_report(session, owner, start=DAY_START)
    html = render_html(report)
    parsed = _parse(html)
    hrefs = [value for tag, name, value in parsed.attrs if tag == "a" and name == "href"]
    for citation in report.citations:
        assert citation in hrefs
    assert f"{BASE_URL}/reports/{report.id}" in hrefs and f"{BASE_URL}/settings" in hrefs
    assert "style" not in parsed.tags and "<style" not in html
    assert all(name == "style" for tag, name, _ in parsed.attrs if tag in ("h2", "li", "ul"))
    assert "".join(parsed.text).strip().endswith(
        f"View in GitPulse: {BASE_URL}/reports/{report.id}Email settings: {BASE_URL}/settings"
    )
    assert "<strong>auth</strong>" in html


def test_html_has_no_script_and_only_http_links_for_hostile_bullets(session, owner):
    hostile = [{
        "title": "Work Completed <script>alert(1)</script>",
        "bullets": [
            "PR #1 – <script>alert('x')</script> opened ([PR #1](https://github.com/a/b/pull/1))",
            "<img src=x onerror=alert(1)> and [click](javascript:alert(1)) here",
            "[bad](javascript:alert%281%29) [data](data:text/html;base64,PHNjcmlwdD4=) "
            "[vb](vbscript:msgbox) [quote](https://x.test/\"onmouseover=alert(1))",
            "<a href=\"javascript:alert(1)\">raw</a> <iframe src=https://evil.test></iframe>",
        ],
        "citations": ["https://github.com/a/b/pull/1", "javascript:alert(1)"],
    }]
    report = make_report(session, owner, sections=hostile)
    html = render_html(report)
    parsed = _parse(html)
    assert "script" not in parsed.tags and "<script" not in html.lower()
    assert set(parsed.tags) <= {"html", "head", "meta", "title", "body", "div", "h1", "p", "h2",
                                "ul", "li", "a", "strong", "code", "hr", "br"}
    assert not [name for _, name, _ in parsed.attrs if name.startswith("on")]
    hrefs = [value or "" for tag, name, value in parsed.attrs if name in ("href", "src")]
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
    assert "javascript:" not in " ".join(hrefs)
    assert "https://github.com/a/b/pull/1" in hrefs
    text = render_text(report)
    assert "<javascript:" not in text and "<data:" not in text


def test_message_headers_parts_and_message_id(session, owner, configure):
    configure(GITPULSE_BASE_URL="https://reports.example.net:8443",
              GITPULSE_MAIL_FROM="GitPulse <reports@example.net>")
    report = make_report(session, owner, start=DAY_START)
    now = dt.datetime(2025, 12, 6, 6, tzinfo=dt.UTC)
    message = compose_message(report, "bob@example.org", now=now)
    assert message["Message-ID"] == f"<report-{report.id}@reports.example.net>"
    assert message_id_for(7) == "<report-7@reports.example.net>"
    assert message["From"] == "GitPulse <reports@example.net>"
    assert message["To"] == "bob@example.org"
    assert message["Subject"] == "GitPulse daily standup \u2014 December 5, 2025"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_email_links_only_the_reports_citations_and_shows_escaped_text_plainly(session, owner):
    cited = "https://github.com/a/b/pull/1"
    sections = [{
        "title": "Work Completed",
        "bullets": [f"Fixed \\*now\\* \\[draft\\] in [PR #1]({cited}) and "
                    "[PR #9](https://github.com/evil/x/pull/9) https://github.com/evil/y"],
        "citations": [cited],
    }]
    report = make_report(session, owner, sections=sections)

    parsed = _parse(render_html(report))
    hrefs = [value for tag, name, value in parsed.attrs if tag == "a" and name == "href"]
    assert [href for href in hrefs if "github.com" in href] == [cited]
    assert "Fixed *now* [draft] in PR #1 and PR #9" in "".join(parsed.text)
    text = render_text(report)
    assert f"- Fixed *now* [draft] in PR #1 <{cited}> and PR #9" in text
    assert "<https://github.com/evil" not in text
