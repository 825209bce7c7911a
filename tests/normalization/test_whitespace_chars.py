"""The written-out whitespace set equals what `str.isspace` accepts, plus the BOM."""

from gitpulse_app.normalization.text import WHITESPACE_CHARS, is_blank, trim


def test_whitespace_chars_are_exactly_isspace_plus_bom():
    scanned = {chr(c) for c in range(0x110000) if chr(c).isspace()} | {"\ufeff"}
    assert set(WHITESPACE_CHARS) == scanned
    assert len(WHITESPACE_CHARS) == len(scanned)


def test_trim_strips_every_unicode_space_and_the_bom():
    assert trim("\u3000\ufeff fix \u2028\x85") == "fix"
    assert is_blank("\u205f\u1680\t")
