"""Citations on a real parse: every CommonMark/GFM link form, rebuilt from markdown-it tokens.

The property test writes hostile model answers that mix allowed citations with disallowed URLs in
every link form; the validated markdown is then rendered twice — by markdown-it with linkify and
raw HTML on (what any other CommonMark/GFM renderer could make of the stored markdown) and by
`render_html` (what the report page shows) — and neither may hold an href or src outside the
allowed set, nor any text of a disallowed URL.
"""

from __future__ import annotations

import html as html_lib
import json
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from gitpulse_app.intelligence.reports.markup import (
    allowed_map,
    clean_bullet,
    escape_text,
    normalize_url,
)
from gitpulse_app.intelligence.reports.models import NO_ACTIVITY, CollectedFact, Section
from gitpulse_app.intelligence.reports.render import render_html, render_markdown
from gitpulse_app.intelligence.reports.validate import (
    allowed_urls,
    filter_citations,
    parse_answer,
    report_citations,
    validate_answer,
)

PR1 = "https://github.com/acme/app/pull/1"
REVIEW = "https://github.com/acme/my_app/pull/2#pullrequestreview-9"
COMMIT = "https://github.com/acme/app/commit/" + "ab" * 20
ALLOWED = [PR1, REVIEW, COMMIT]
TITLES = ("Work Completed", "Key Decisions & Context", "Momentum & Next Steps")
# Words of link texts and prose: none holds "vil" or "alert", the markers of disallowed URLs.
WORDS = ["Fixed", "search", "auth", "PR #4", "login", "docs", "shipped", "the", "bug", "CI"]
LEAK_MARKERS = ("vil", "alert", "tracker", "base64")


def fact(event_id: int, url: str) -> CollectedFact:
    import datetime as dt

    return CollectedFact(event_id=event_id, type="pr_merged",
                         ts=dt.datetime(2025, 12, 4, tzinfo=dt.UTC), repo="acme/app",
                         actor="alice", source_url=url, canonical_text="t",
                         content_hash=f"{event_id:064x}", meta={})


FACTS = [fact(n, url) for n, url in enumerate(ALLOWED, 1)]
ALLOWED_MAP = allowed_urls(FACTS)


# Reading rendered HTML as a browser does -------------------------------------------------------
class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src", "srcset", "action", "formaction", "poster", "data"):
                self.urls.append((tag, name, value or ""))

    def handle_data(self, data):
        self.text.append(data)


def read(markup: str) -> _Page:
    page = _Page()
    page.feed(markup)
    page.close()
    return page


def other_renderer() -> MarkdownIt:
    """markdown-it as another site would set it up: CommonMark + GFM, linkify and raw HTML on."""
    return MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
        ["linkify", "table", "strikethrough"])


def assert_only_allowed(markup: str, allowed: list[str]) -> None:
    page = read(markup)
    targets = {normalize_url(url) for url in allowed}
    assert "img" not in page.tags, markup
    for tag, attribute, value in page.urls:
        assert attribute == "href" and tag == "a", (tag, attribute, value)
        assert normalize_url(value) in targets, (value, markup)
    text = "".join(page.text).lower()
    for marker in LEAK_MARKERS:
        assert marker not in text, (marker, markup)


def validated(bullets: list[str], citations: list[str] | None = None) -> list[Section]:
    sections = [Section(TITLES[0], bullets, citations or []),
                Section(TITLES[1], [NO_ACTIVITY])]
    return filter_citations(sections, ALLOWED_MAP)


# Named regressions, one per form of the issue ----------------------------------------------------
def test_nested_brackets_in_link_text_keep_only_the_text():
    [kept, _] = validated([f"Fixed [auth [draft] bug](https://evil.example/x) in [PR #1]({PR1})"])

    assert kept.bullets == [f"Fixed auth \\[draft\\] bug in [PR #1]({PR1})"]
    assert kept.citations == [PR1]


def test_a_single_quoted_or_parenthesised_title_does_not_keep_the_url():
    [kept, _] = validated([
        f"A [one](https://evil.example/a 'title') B [two](https://evil.example/b (t)) "
        f"C [three](<https://evil.example/c> \"t\") ([PR #1]({PR1} 'merged'))"])

    assert kept.bullets == [f"A one B two C three ([PR #1]({PR1}))"]


def test_an_image_never_survives_not_even_to_an_allowed_url():
    [kept, _] = validated([f"Shipped ![pixel](https://tracker.example/p.gif) "
                           f"![cited]({PR1}) [![badge](https://evil.example/b.svg)]({PR1})"])

    assert kept.bullets == [f"Shipped [{PR1}]({PR1})"]
    assert_only_allowed(render_html(render_markdown([kept]), ALLOWED), ALLOWED)


def test_reference_links_autolinks_and_bare_urls_to_invented_urls_are_removed():
    [kept, _] = validated([
        f"Fixed [auth][bad] and [login][ok] <https://evil.example/auto> "
        f"www.evil.com/x https://evil.example/bare //evil.example/rel\n\n"
        f"[bad]: https://evil.example/ref\n[ok]: {PR1}"])

    assert kept.bullets == [f"Fixed auth and [login]({PR1})"]


def test_raw_html_is_text_without_its_urls():
    [kept, _] = validated([f'<a href="https://evil.example/x">click</a> <img src=x onerror=go()>'
                           f" [PR #1]({PR1})"])

    assert kept.bullets == [f'\\<a href=""\\>click\\</a\\> \\<img src=x onerror=go()\\> '
                            f"[PR #1]({PR1})"]
    for rendered in (other_renderer().render(kept.bullets[0]), render_html(kept.bullets[0], [PR1])):
        assert_only_allowed(rendered, ALLOWED)
        assert '<a href="">click</a> <img src=x onerror=go()>' in "".join(read(rendered).text)


def test_entity_and_percent_encoded_and_scheme_relative_forms_match_an_allowed_url():
    [kept, _] = validated([
        "[a](https://git&#104;ub.com/acme/app/pull/1) [b](HTTPS://GitHub.COM/acme/app/pull/%31) "
        "[c](//github.com/acme/app/pull/1/) [d](https://github.com/acme/app/pull/2/../1) "
        "[e](https://github.com:443/acme/app/pull/1)"])

    assert kept.bullets == [" ".join(f"[{x}]({PR1})" for x in "abcde")]
    assert kept.citations == [PR1]


def test_encoded_forms_of_an_invented_url_are_still_invented():
    [kept, _] = validated([
        f"[a](https://evil&#46;example/x) [b](https://%65vil.example/y) [c](//evil.example) "
        f"[d](https://github.com@evil.example/acme/app/pull/1) [e]({PR1})"])

    assert kept.bullets == [f"a b c d [e]({PR1})"]


def test_an_actor_label_with_link_syntax_is_text():
    from gitpulse_app.intelligence.reports.local_writer import write_local

    hostile = CollectedFact(
        event_id=7, type="commit", ts=FACTS[0].ts, repo="acme/app",
        actor="[x](https://evil.example/a) ![p](https://tracker.example/p.gif) <b>x</b>",
        source_url=COMMIT, canonical_text="c", content_hash="7" * 64,
        meta={"sha": "ab" * 20, "message": "Fix [docs](https://evil.example/m) *now*"})

    written = write_local("daily", [hostile], team=True)
    sections = filter_citations(written.sections, allowed_urls([hostile]))
    markdown = render_markdown(sections)

    assert sections[0].citations == [COMMIT]
    for rendered in (other_renderer().render(markdown), render_html(markdown, [COMMIT])):
        assert_only_allowed(rendered, [COMMIT])
        assert "acme/app: @(x)() !(p)() <b>x</b> abababa Fix (docs)() *now*" in \
            "".join(read(rendered).text)


def test_nul_and_the_old_placeholder_shape_neither_raise_nor_survive():
    answer = json.dumps({"sections": [{"title": "Work Completed", "bullets": [
        f"Merged \u0000 7 \u0000 search [PR #1]({PR1}) \u0000 0 \u0000",
        f"\u0000x\u0000 [a]({PR1}) \u0000 99999999999999999999 \u0000\u0007\u001b[31m",
    ], "citations": [PR1]}]}) + "\u0000"

    sections = validate_answer(answer, TITLES, ALLOWED_MAP)

    assert sections[0].bullets == [f"Merged 7 search [PR #1]({PR1}) 0",
                                   f"x [a]({PR1}) 99999999999999999999 \\[31m"]
    assert all("\u0000" not in bullet for bullet in sections[0].bullets)


def test_bare_domains_and_addresses_stay_text_that_no_renderer_links():
    [kept, _] = validated([f"Updated main.py and README.md, mailed ops@acme.io ([PR #1]({PR1}))"])

    rendered = other_renderer().render(render_markdown([kept]))
    assert_only_allowed(rendered, ALLOWED)
    assert "Updated main.py and README.md, mailed ops@acme.io" in html_lib.unescape(rendered)


def test_escaped_text_renders_as_itself():
    text = r"a*b* _c_ [d](e) <f> `g` \h ~~i~~ &amp; R&D snake_case # 1. x"
    rendered = other_renderer().render(escape_text(text))
    assert "".join(read(rendered).text).strip() == text


# The property ------------------------------------------------------------------------------------
evil_host = st.builds(lambda n, tld: f"evil{n}.{tld}", st.integers(0, 99),
                      st.sampled_from(["example", "com", "io", "test"]))
path = st.sampled_from(["", "/", "/x", "/acme/app/pull/1", "/p.gif?id=1&u=2", "/a_b*c"])


def _entity(url: str) -> str:
    return "".join(f"&#x{ord(c):x};" if c in "e." else c for c in url)


def _percent(url: str) -> str:
    head, _, rest = url.partition("://")
    return f"{head}://" + "".join(f"%{ord(c):02X}" if c in "ev" else c for c in rest)


disallowed = st.one_of(
    st.builds(lambda s, h, p: f"{s}://{h}{p}", st.sampled_from(["http", "https", "HTTPS", "ftp"]),
              evil_host, path),
    st.builds(lambda h, p: f"//{h}{p}", evil_host, path),
    st.just("javascript:alert(1)"),
    st.just("data:text/html;base64,YWxlcnQoMSk="),
    st.builds(lambda h, p: _entity(f"https://{h}{p}"), evil_host, path),
    st.builds(lambda h, p: _percent(f"https://{h}{p}"), evil_host, path),
    st.builds(lambda h: f"https://github.com@{h}/acme/app/pull/1", evil_host),
)
allowed_spelling = st.sampled_from(ALLOWED).flatmap(lambda url: st.sampled_from([
    url, url + "/", url.replace("https://github.com", "https://GitHub.com"),
    url.replace("https:", ""), _entity(url).replace("&#x2e;", ".")]))
any_url = st.one_of(disallowed, allowed_spelling)
label = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


@st.composite
def link_form(draw) -> str:
    url = draw(any_url)
    text = draw(label)
    plain_url = "://" in url and not url.startswith("//")
    form = draw(st.sampled_from([
        "inline", "nested", "title2", "title1", "titlep", "angle", "reference", "collapsed",
        "autolink", "bare", "www", "image", "image_in_link", "html_a", "html_img", "url_label",
        "emphasis"]))
    ref = f"r{draw(st.integers(0, 9))}"
    if form == "inline":
        return f"[{text}]({url})"
    if form == "nested":
        return f"[{text} [{draw(label)}] x]({url})"
    if form == "title2":
        return f'[{text}]({url} "t {draw(label)}")'
    if form == "title1":
        return f"[{text}]({url} 't')"
    if form == "titlep":
        return f"[{text}]({url} (t))"
    if form == "angle":
        return f"[{text}](<{url}>)"
    if form in ("reference", "collapsed"):
        use = f"[{text}][{ref}]" if form == "reference" else f"[{ref}][]"
        return f"{use}\n\n[{ref}]: {url}\n"
    if form == "autolink":
        return f"<{url}>" if plain_url else f"[{text}]({url})"
    if form == "bare":
        return f" {url} "
    if form == "www":
        return f" www.{draw(evil_host)}{draw(path)} "
    if form == "image":
        return f"![{text}]({url})"
    if form == "image_in_link":
        return f"[![{text}]({url})]({draw(any_url)})"
    if form == "html_a":
        return f'<a href="{url}">{text}</a>'
    if form == "html_img":
        return f"<img src='{url}'>"
    if form == "url_label":
        return f"[{url}]({draw(any_url)})"
    return f"**{text} [{draw(label)}]({url})**"


bullet = st.lists(st.one_of(link_form(), label), min_size=1, max_size=6).map(" ".join)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bullet, min_size=1, max_size=5), st.lists(any_url, max_size=3))
def test_validated_reports_link_only_to_allowed_urls_in_every_renderer(bullets, listed):
    answer = json.dumps({"sections": [{"title": TITLES[0], "bullets": bullets,
                                       "citations": listed}]})

    sections = validate_answer(answer, TITLES, ALLOWED_MAP)
    markdown = render_markdown(sections)
    citations = report_citations(sections)

    assert set(citations) <= set(ALLOWED)
    assert_only_allowed(other_renderer().render(markdown), ALLOWED)
    assert_only_allowed(render_html(markdown, citations), citations)
    # The stored markdown validates to itself: saving it again changes no link.
    again = filter_citations(sections, ALLOWED_MAP)
    assert report_citations(again) == citations


def test_parse_answer_keeps_an_unparseable_reply_an_answer_error():
    import pytest

    from gitpulse_app.intelligence.reports.validate import AnswerError

    with pytest.raises(AnswerError):
        parse_answer("\u0000{not json", TITLES)


def test_allowed_map_ignores_empty_urls():
    assert allowed_map(["", "  ", PR1]) == {normalize_url(PR1): PR1}
