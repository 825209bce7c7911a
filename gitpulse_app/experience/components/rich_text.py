"""Report text as the page shows it: the sanitised HTML of `intelligence.reports.render.render_html`.

The browser never parses report markdown itself, so what it shows is exactly what was validated:
the HTML holds only allowlisted tags and links to the report's citations (docs/report-markup.md).
"""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

# Typography for the plain elements of the sanitised HTML (it carries no classes or styles).
_REPORT_STYLE = {
    "font_size": "var(--font-size-3)",
    "line_height": "1.6",
    "& h2": {"font_size": "var(--font-size-5)", "font_weight": "600",
             "margin": "1.25em 0 0.5em 0"},
    "& h2:first-child": {"margin_top": "0"},
    "& h3": {"font_size": "var(--font-size-4)", "font_weight": "600", "margin": "1em 0 0.4em 0"},
    "& ul, & ol": {"padding_left": "1.5em", "margin": "0 0 0.75em 0"},
    "& ul": {"list_style_type": "disc"},
    "& ol": {"list_style_type": "decimal"},
    "& li": {"margin": "0 0 0.35em 0"},
    "& p": {"margin": "0 0 0.75em 0"},
    "& a": {"color": "var(--accent-11)", "text_decoration": "underline"},
    "& code": {"font_family": "var(--code-font-family)", "font_size": "0.9em",
               "background": "var(--gray-a3)", "padding": "0.1em 0.3em",
               "border_radius": "4px"},
    "& blockquote": {"border_left": "3px solid var(--gray-a6)", "padding_left": "0.75em",
                     "color": "var(--gray-11)"},
}


def report_html(html: Var[str] | str, **props) -> rx.Component:
    """Sanitised report HTML (only ever the output of `render_html`), styled for reading."""
    return rx.html(html, style=_REPORT_STYLE, **props)
