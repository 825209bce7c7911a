"""The chat renderers on their own: no pings, no foreign links, and every platform limit kept."""

from __future__ import annotations

import json
import re

from gitpulse_app.intelligence.delivery.channels.render import (
    Digest,
    discord_payload,
    signature,
    slack_payload,
)

REPORT = "https://gitpulse.example.com/reports/9"
CITED = "https://github.com/acme/app/pull/42"
HOSTILE = ("Merged [PR #42](https://github.com/acme/app/pull/42) and "
           "[win a prize](https://evil.example/x) <!channel> <!everyone> <@U1> @everyone "
           "@here <@&77> <#88> <https://evil.example|click> https://evil.example/bare "
           "www.evil.example ||spoiler|| # heading > quote `code` *bold*")


def digest(sections, allowed=frozenset({CITED})) -> Digest:
    return Digest(9, "Daily Standup - December 4, 2025", "December 4, 2025", "", sections,
                  allowed, 0.75, REPORT)


def test_slack_escapes_mentions_and_keeps_only_cited_links():
    payload = slack_payload(digest((("Work Completed", (HOSTILE,)),)))
    text = json.dumps(payload, ensure_ascii=False)

    links = re.findall(r"<([^|>]+)\|", text)
    assert set(links) == {CITED, REPORT}
    for forbidden in ("<!", "<@", "<#", "@everyone", "@here", "https://evil", "www.evil"):
        assert forbidden not in text, forbidden
    assert "&lt;!channel&gt;" in text and "win a prize" in text
    assert "Coverage 75%" in payload["blocks"][-1]["elements"][0]["text"]


def test_discord_escapes_markdown_and_mentions_and_keeps_only_cited_links():
    payload = discord_payload(digest((("Work Completed", (HOSTILE,)),)))
    text = json.dumps(payload, ensure_ascii=False)

    assert payload["allowed_mentions"] == {"parse": []}
    assert set(re.findall(r"\]\(([^)\s]+)\)", text)) == {CITED}
    assert payload["embeds"][0]["url"] == REPORT
    for forbidden in ("<@", "<#", "<!", "@everyone", "@here", "https://evil", "www.evil",
                      "[win a prize]", "||spoiler||"):
        assert forbidden not in text, forbidden
    assert "Coverage 75%" in payload["embeds"][-1]["footer"]["text"]


def test_a_long_report_is_split_within_slack_limits_and_ends_with_the_report_link():
    bullets = tuple(f"Change {n}: " + "word " * 120 + f"[PR #{n}]({CITED})" for n in range(400))
    payload = slack_payload(digest((("Work Completed", bullets), ("Next", bullets[:5]))))

    blocks = payload["blocks"]
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections) and len(sections) > 1
    assert f"<{REPORT}|" in sections[-1] and "more in the full report" in sections[-1]
    assert len(payload["text"]) <= 3000


def test_one_huge_bullet_is_cut_without_breaking_a_link():
    payload = slack_payload(digest((("Work", ("x" * 2990 + f" [PR #42]({CITED})",)),)))

    for block in payload["blocks"]:
        if block["type"] == "section":
            text = block["text"]["text"]
            assert len(text) <= 3000 and text.count("<") == text.count(">")


def test_a_long_report_is_split_within_discord_limits_and_ends_with_the_report_link():
    bullets = tuple(f"Change {n}: " + "word " * 120 + f"[PR #{n}]({CITED})" for n in range(200))
    payload = discord_payload(digest((("Work Completed", bullets),)))

    embeds = payload["embeds"]
    total = sum(len(e.get("title", "")) + len(e["description"])
                + len(e.get("footer", {}).get("text", "")) for e in embeds)
    assert len(embeds) <= 10 and total <= 6000
    assert all(len(e["description"]) <= 4096 for e in embeds)
    assert f"[the full report]({REPORT})" in embeds[-1]["description"]


def test_the_signature_is_hmac_sha256_of_the_raw_body():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
