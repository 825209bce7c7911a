import datetime as dt

from gitpulse_app.intelligence.reports.models import Section
from tests.intelligence.reports.conftest import assert_inert, html_elements
from gitpulse_app.intelligence.reports.render import (
    date_label,
    markdown_download,
    render_html,
    render_markdown,
    report_description,
    report_title,
    sanitize_html,
)

UTC = dt.UTC
CHICAGO = "America/Chicago"
DEC4 = (dt.datetime(2025, 12, 4, 6, tzinfo=UTC), dt.datetime(2025, 12, 5, 6, tzinfo=UTC))
WEEK = (dt.datetime(2025, 12, 1, 6, tzinfo=UTC), dt.datetime(2025, 12, 8, 6, tzinfo=UTC))


def test_markdown_has_the_exact_format():
    sections = [Section("Work Completed", ["Shipped feature A", "Fixed bug B"]),
                Section("Momentum & Next Steps", ["Start refactor C"])]

    assert render_markdown(sections) == (
        "## Work Completed\n- Shipped feature A\n- Fixed bug B\n\n"
        "## Momentum & Next Steps\n- Start refactor C")


def test_markdown_of_no_sections_is_empty():
    assert render_markdown([]) == ""


def test_html_is_rendered_from_the_markdown_with_safe_links():
    html = render_html(
        "## Work Completed\n- Merged **search** ([PR #12](https://github.com/a/b/pull/12))",
        ["https://github.com/a/b/pull/12"])

    assert html == (
        "<h2>Work Completed</h2>\n<ul>\n<li>Merged <strong>search</strong> "
        '(<a href="https://github.com/a/b/pull/12" target="_blank" rel="noopener noreferrer">'
        "PR #12</a>)</li>\n</ul>")


def test_script_img_onerror_and_javascript_links_are_inert_in_html():
    markdown = (
        "## Work Completed\n"
        "- merged [PR #1](https://github.com/a/b/pull/1) – <script>alert('x')</script>\n"
        '- <img src=x onerror="alert(1)"> broke the build\n'
        "- [click me](javascript:alert(document.cookie)) and [data](data:text/html,hi)\n"
        "- [sneaky](JaVaScRiPt:alert(1)) and [spaced]( javascript:alert(1))")

    html = render_html(markdown, ["https://github.com/a/b/pull/1", "javascript:alert(1)"])

    assert_inert(html)
    assert [tag for tag, _ in html_elements(html)].count("a") == 1
    assert "&lt;script&gt;" in html  # shown as text, never run
    assert "<li>click me and data</li>" in html


def test_sanitizer_keeps_only_the_allowlist():
    dirty = (
        '<h1 onclick="x()">Title</h1><p style="color:red">Text <b>bold</b> <strong>ok</strong></p>'
        '<script>steal()</script><style>p{}</style><iframe src="https://e.vil"></iframe>'
        '<a href="https://ok.example/x?a=1&amp;b=2" onclick="x()">ok</a>'
        '<a href="javascript:alert(1)">bad</a><a href="java&#x09;script:alert(1)">tab</a>'
        '<a href=" https://spaced.example">spaced</a><svg><script>x()</script></svg>'
        '<ul><li>one<li>two</ul><br/><em>e</em><code>c</code><pre>p</pre>'
        '<blockquote>q</blockquote><h3>h3</h3><ol><li>o</li></ol><!-- hidden -->')

    clean = sanitize_html(dirty, ["https://ok.example/x?a=1&b=2", "https://spaced.example",
                                  "javascript:alert(1)"])

    assert clean == (
        'Title<p>Text bold <strong>ok</strong></p>'
        '<a href="https://ok.example/x?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">ok</a>badtab<a href="https://spaced.example" '
        'target="_blank" rel="noopener noreferrer">spaced</a>'
        '<ul><li>one</li><li>two</li></ul><br><em>e</em><code>c</code><pre>p</pre>'
        '<blockquote>q</blockquote><h3>h3</h3><ol><li>o</li></ol>')


def test_sanitizer_closes_what_it_opened_and_escapes_text():
    assert sanitize_html("<p><em>open & <unknown>tag", []) == "<p><em>open &amp; tag</em></p>"
    assert sanitize_html("</p>stray</li>", []) == "<p></p>stray"  # as a browser parses it


def test_titles_for_standard_and_custom_windows():
    assert report_title("daily", *DEC4, CHICAGO, standard=True) == \
        "Daily Standup - December 4, 2025"
    assert report_title("weekly", *WEEK, CHICAGO, standard=True) == \
        "Weekly Retro - Week of December 1, 2025"
    assert report_title("daily", *WEEK, CHICAGO, standard=False) == \
        "Daily Report - Dec 1 - Dec 7, 2025"
    assert report_title("weekly", *WEEK, CHICAGO, standard=False) == \
        "Weekly Report - Dec 1 - Dec 7, 2025"


def test_date_labels_name_the_covered_day_or_range():
    assert date_label("daily", *DEC4, CHICAGO) == "December 4, 2025"
    assert date_label("weekly", *WEEK, CHICAGO) == "Dec 1 - Dec 7, 2025"
    assert date_label("daily", *WEEK, CHICAGO) == "Dec 1 - Dec 7, 2025"


def test_descriptions():
    assert report_description("daily", who="alice", team=False, query=None, partial_at=None,
                              zone=CHICAGO) == "Auto-generated daily report for alice"
    assert report_description("weekly", who="alice, bob", team=True, query="auth",
                              partial_at=None, zone=CHICAGO) == \
        'Report for alice, bob \u2014 focus: "auth"'
    assert report_description("daily", who="alice", team=False, query=None,
                              partial_at=dt.datetime(2025, 12, 5, 15, tzinfo=UTC),
                              zone=CHICAGO) == \
        "Auto-generated daily report for alice (so far, generated 9:00 AM)"


def test_markdown_download_body():
    body = markdown_download("Daily Standup - December 4, 2025", "December 4, 2025",
                             "## Work Completed\n- Did [x](https://github.com/a/b/pull/1)",
                             ["https://github.com/a/b/pull/1"])

    assert body == (
        "# Daily Standup - December 4, 2025\n\nDecember 4, 2025\n\n"
        "## Work Completed\n- Did [x](https://github.com/a/b/pull/1)\n\n"
        "Sources:\n- https://github.com/a/b/pull/1\n")
