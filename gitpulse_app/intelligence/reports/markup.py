"""Report markdown on a real parse: citations rebuilt from the token stream (docs/report-markup.md).

Every bullet that becomes report markdown — a model's answer, the local writer's output, team and
repository reports alike — goes through `clean_bullet`. The bullet is parsed by markdown-it-py
(CommonMark with GFM tables, strikethrough and autolink literals via linkify-it-py) and written
again from the tokens, so what survives is only escaped text, code spans, emphasis, and links to
allowed URLs (written as the stored URL, never as the model spelled it):

- a link whose URL is not allowed keeps only its text; images never survive, not even their alt
  text; autolinks, reference-style links and bare URLs to anything not allowed are removed;
- raw HTML is text; URL text is removed wherever it appears (also inside kept link text);
- other text linkify would turn into a link (a bare domain such as `main.py`, an e-mail address)
  stays as text, with its dots escaped so no renderer links it.

URLs are compared after the normalisation a browser applies (`normalize_url`). A rebuilt bullet is
parsed once more and kept only when every link in it goes to an allowed URL.
"""

from __future__ import annotations

import functools
import html
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.token import Token

# Control characters -------------------------------------------------------------------------------
_KEPT_CONTROLS = frozenset("\n\t")
# Bidirectional overrides can make a URL read differently from where it goes.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def strip_controls(text: str) -> str:
    """`text` without NUL, other control characters and bidirectional overrides.

    Tabs stay; every line break becomes `\\n` (line structure matters to the markdown parser).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        char for char in text
        if char in _KEPT_CONTROLS or unicodedata.category(char) not in ("Cc", "Cs")
        and char not in _BIDI_CONTROLS)


# URL normalisation -------------------------------------------------------------------------------
_EDGE_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def _requote(part: str, safe: str) -> str:
    return quote(unquote(part), safe=safe)


def _without_dot_segments(path: str) -> str:
    if not path:
        return "/"
    resolved = posixpath.normpath(path)
    resolved = re.sub(r"^/+", "/", resolved)
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved if resolved != "." else "/"


def normalize_url(url: str) -> str:
    """A URL as a browser would follow it, for comparing citations (not for display).

    HTML entities are decoded; spaces and C0 controls at the edges and tabs or line breaks
    anywhere are dropped; backslashes are slashes; `//host/...` is taken as https; scheme and host
    are lower-cased, a default port is dropped, percent-escapes are decoded and re-encoded one
    way, dot segments are resolved; finally one trailing `/` is dropped. A URL that is not http(s)
    is returned trimmed (it never equals an allowed citation).
    """
    url = _TAB_OR_NEWLINE.sub("", html.unescape(url).strip(_EDGE_SPACE))
    url = url.replace("\\", "/")
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = unquote(parts.hostname).lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{parts.username or ''}:{parts.password or ''}@{netloc}"
    path = _without_dot_segments(_requote(parts.path, _SAFE_PATH))
    normalized = urlunsplit((scheme, netloc, path, _requote(parts.query, _SAFE_QUERY),
                             _requote(parts.fragment, _SAFE_QUERY)))
    return normalized[:-1] if normalized.endswith("/") else normalized


def allowed_map(urls: Iterable[str]) -> dict[str, str]:
    """Normalised URL → the URL as stored, for each non-empty URL (first one wins)."""
    allowed: dict[str, str] = {}
    for url in urls:
        if url and url.strip():
            allowed.setdefault(normalize_url(url), url.strip())
    return allowed


# Parsers ------------------------------------------------------------------------------------------
@functools.cache
def markdown_parser(*, raw_html: bool = False) -> MarkdownIt:
    """CommonMark + GFM tables, strikethrough and autolink literals; raw HTML is text unless
    `raw_html` (the final check turns it on, so any HTML that would render is noticed).

    Every link destination is accepted here (`validateLink`), so that a `javascript:` link is a
    link token the citation check removes, not text that keeps its URL.
    """
    parser = MarkdownIt("commonmark", {"html": raw_html, "linkify": True})
    parser.enable(["table", "strikethrough", "linkify"])
    parser.validateLink = lambda url: True
    return parser


@functools.cache
def _linkify() -> LinkifyIt:
    return LinkifyIt()


# Escaping -----------------------------------------------------------------------------------------
_ALWAYS_ESCAPED = frozenset("\\`*[]<>~")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLOCK_START = re.compile(r"^(?:([#>+-])|(\d{1,9})([.)]))")


def escape_text(text: str) -> str:
    """`text` as inline markdown that renders exactly as `text`: no character of it starts markup.

    Backslash, backtick, `*`, brackets, angle brackets and `~` are escaped everywhere, `_` unless
    it sits between two letters or digits, and `&` when it would start an entity.
    """
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _ALWAYS_ESCAPED:
            out.append("\\" + char)
        elif char == "_" and not (0 < index < len(text) - 1 and text[index - 1].isalnum()
                                  and text[index + 1].isalnum()):
            out.append("\\_")
        elif char == "&" and _ENTITY.match(text, index):
            out.append("\\&")
        else:
            out.append(char)
    return "".join(out)


def escape_line_start(markdown: str) -> str:
    """`markdown` with a first character that would open a block (heading, quote, list) escaped."""
    start = _BLOCK_START.match(markdown)
    if start is None:
        return markdown
    if start.group(1):
        return "\\" + markdown
    return f"{start.group(2)}\\{start.group(3)}{markdown[start.end():]}"


def escape_inline(text: str) -> str:
    """GitHub text (a title, a path, a name) as one line of markdown text: collapsed, escaped."""
    return escape_text(" ".join(strip_controls(text).split()))


# URL text inside text -----------------------------------------------------------------------------
# What a renderer might still link after linkify: scheme URLs, scheme-relative ones, `www.` forms,
# and the script-capable schemes.
_URL_TEXT = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.\-]*:)?//[^\s<>\"'`]+"
    r"|\bwww\d{0,3}\.[^\s<>\"'`]+"
    r"|\b(?:javascript|vbscript|data|file|mailto|tel|blob|about):[^\s<>\"'`]+")
_FUZZY_BREAKERS = ".@"


@dataclass
class _Run:
    """A piece of rebuilt markdown: escaped text, a kept URL, or raw markup."""

    markdown: str
    text: str = ""  # what it shows, for emptiness checks


@dataclass
class _Buffer:
    kind: str  # "root", a delimiter such as "**", or "link"
    target: str | None = None
    runs: list[_Run] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


class _Rebuilder:
    """Writes one bullet again from markdown-it tokens (see the module docstring)."""

    def __init__(self, allowed: Mapping[str, str], *, autolink_bare: bool) -> None:
        self.allowed = allowed
        self.autolink_bare = autolink_bare
        self.cited: list[str] = []
        self.stack: list[_Buffer] = [_Buffer("root")]
        self.skip_link_text = 0  # inside an autolink or linkify link (its text is its URL)

    # Text --------------------------------------------------------------------------------------
    def text(self, content: str) -> None:
        if not self.skip_link_text:
            self.stack[-1].pending.append(content)

    def _flush(self, buffer: _Buffer) -> None:
        if buffer.pending:
            raw = "".join(buffer.pending)
            buffer.pending.clear()
            buffer.runs.extend(self._scrubbed(raw))

    @property
    def in_link(self) -> bool:
        return any(buffer.kind == "link" for buffer in self.stack)

    def url_run(self, target: str) -> _Run:
        self.cited.append(target)
        if self.autolink_bare or re.search(r"[\s<>*_~`\\\[\]()]", target):
            return _Run(f"<{_angled(target)}>", target)
        return _Run(target, target)

    def _scrubbed(self, raw: str) -> list[_Run]:
        """Text with URL text removed (allowed URLs kept as the stored URL), escaped."""
        previous = None
        while previous != raw:  # a removal can join pieces into new URL text
            previous = raw
            raw = _URL_TEXT.sub(lambda m: self._keep_if_allowed(m.group(0)), raw)
        runs: list[_Run] = []
        position = 0
        for found in _linkify().match(raw) or []:
            runs.append(_Run(escape_text(raw[position:found.index]), raw[position:found.index]))
            target = self.allowed.get(normalize_url(found.url))
            piece = raw[found.index:found.last_index]
            if target is not None and found.schema in ("http:", "https:", "//"):
                runs.append(_Run(escape_text(piece), piece) if self.in_link
                            else self.url_run(target))
            elif found.schema in ("", "mailto:") and "://" not in piece:
                broken = "".join(f"\\{char}" if char in _FUZZY_BREAKERS else char
                                 for char in escape_text(piece))
                runs.append(_Run(broken, piece))
            position = found.last_index
        runs.append(_Run(escape_text(raw[position:]), raw[position:]))
        return [run for run in runs if run.markdown]

    def _keep_if_allowed(self, piece: str) -> str:
        core = piece.rstrip(".,;:!?)'\"")
        if self.allowed.get(normalize_url(core)) is not None:
            return piece  # linkify finds it again and keeps it as the stored URL
        return piece[len(core):] if core != piece else ""

    # Structure ---------------------------------------------------------------------------------
    def open(self, kind: str, target: str | None = None) -> None:
        self._flush(self.stack[-1])
        self.stack.append(_Buffer(kind, target))

    def close(self) -> None:
        buffer = self.stack.pop()
        self._flush(buffer)
        parent = self.stack[-1]
        self._flush(parent)
        inner = _trimmed(buffer.runs)
        shown = "".join(run.text for run in inner).strip()
        body = "".join(run.markdown for run in inner)
        if buffer.kind == "link":
            if buffer.target is None:
                parent.runs.extend(inner)
                return
            self.cited.append(buffer.target)
            label = body if shown else escape_text(buffer.target)
            parent.runs.append(_Run(f"[{label}]({link_destination(buffer.target)})",
                                    shown or buffer.target))
        elif shown:
            parent.runs.append(_Run(f"{buffer.kind}{body}{buffer.kind}", shown))

    def raw(self, run: _Run) -> None:
        self._flush(self.stack[-1])
        self.stack[-1].runs.append(run)

    def result(self) -> str:
        while len(self.stack) > 1:
            self.close()
        root = self.stack[0]
        self._flush(root)
        return escape_line_start(" ".join("".join(run.markdown for run in root.runs).split()))


def _angled(url: str) -> str:
    """A URL inside `<…>`, which cannot hold `<`, `>` or spaces: those are percent-encoded."""
    return re.sub(r"[<>\s]", lambda m: quote(m.group(0)), url)


def link_destination(url: str) -> str:
    """A link destination: the URL itself when it is plain, else its `<…>` form."""
    return url if re.fullmatch(r"[^\s<>()\\]+", url) else f"<{_angled(url)}>"


def _trimmed(runs: list[_Run]) -> list[_Run]:
    """Runs without the spaces at both ends (emphasis needs its content to touch its delimiters)."""
    runs = list(runs)
    if runs and runs[0].markdown.startswith(" "):
        runs[0] = _Run(runs[0].markdown.lstrip(), runs[0].text.lstrip())
    if runs and runs[-1].markdown.endswith(" "):
        runs[-1] = _Run(runs[-1].markdown.rstrip(), runs[-1].text.rstrip())
    return [run for run in runs if run.markdown]


def _code_span(content: str) -> _Run:
    content = " ".join(content.split())
    if not content:
        return _Run("")
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", content)), default=0) + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") else content
    return _Run(f"{ticks}{padded}{ticks}", content)


_DELIMITERS = {"strong_open": "**", "em_open": "*", "s_open": "~~"}
_CLOSERS = frozenset({"strong_close", "em_close", "s_close"})


def _walk_inline(rebuilder: _Rebuilder, children: list[Token]) -> None:
    opened_as_text: list[Token] = []
    for token in children:
        kind = token.type
        if kind in ("text", "html_inline"):
            rebuilder.text(token.content)
        elif kind == "code_inline":
            if not rebuilder.skip_link_text:
                rebuilder.raw(_code_span(token.content))
        elif kind in ("softbreak", "hardbreak"):
            rebuilder.text(" ")
        elif kind in _DELIMITERS:
            rebuilder.open(_DELIMITERS[kind])
        elif kind in _CLOSERS:
            rebuilder.close()
        elif kind == "link_open":
            href = str(token.attrs.get("href") or "")
            target = rebuilder.allowed.get(normalize_url(href))
            if token.markup == "autolink" or token.markup == "linkify" and target is not None:
                rebuilder.skip_link_text += 1
                if target is not None:
                    rebuilder.raw(rebuilder.url_run(target))
            elif token.markup == "linkify":
                opened_as_text.append(token)  # its text is scrubbed like any other text
            else:
                rebuilder.open("link", target)
        elif kind == "link_close":
            if token.markup == "linkify" and opened_as_text:
                opened_as_text.pop()
            elif token.markup in ("autolink", "linkify"):
                rebuilder.skip_link_text -= 1
            else:
                rebuilder.close()
        # images (and anything else) never survive


def _rebuild(text: str, allowed: Mapping[str, str], *, autolink_bare: bool
             ) -> tuple[str, list[str]]:
    rebuilder = _Rebuilder(allowed, autolink_bare=autolink_bare)
    for token in markdown_parser().parse(text):
        if token.type == "inline":
            _walk_inline(rebuilder, token.children or [])
            rebuilder.text(" ")
        elif token.type in ("code_block", "fence", "html_block"):
            rebuilder.text(token.content + " ")
    return rebuilder.result(), rebuilder.cited


def _links_only_to(markdown: str, targets: set[str]) -> bool:
    """True when `markdown`, parsed with raw HTML and linkify on, links only to `targets`."""
    for block in markdown_parser(raw_html=True).parse(markdown):
        if block.type == "html_block":
            return False
        for token in block.children or []:
            if token.type in ("image", "html_inline"):
                return False
            if token.type == "link_open" and \
                    normalize_url(str(token.attrs.get("href") or "")) not in targets:
                return False
    return True


def clean_bullet(bullet: str, allowed: Mapping[str, str]) -> tuple[str, list[str]]:
    """One bullet rebuilt from its tokens, keeping only links to allowed URLs.

    Args:
        bullet: Markdown from a writer (a model's answer or the local writer's output).
        allowed: Normalised URL → stored URL (`allowed_map`).

    Returns:
        The rebuilt bullet on one line ("" when nothing safe is left) and the stored URLs it
        cites, in order of appearance.
    """
    text = strip_controls(bullet)
    targets = {normalize_url(url) for url in allowed.values()}
    for autolink_bare in (False, True):
        markdown, cited = _rebuild(text, allowed, autolink_bare=autolink_bare)
        if _links_only_to(markdown, targets):
            return markdown, cited
    return "", []
