"""Markdown from reports and facts, rendered safely: raw HTML off, links open in a new tab."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var


def _external_link(*children, **props) -> rx.Component:
    return rx.link(*children, **props, is_external=True)


def safe_markdown(source: Var[str] | str, **props) -> rx.Component:
    """`rx.markdown` with raw HTML disabled (SPEC §12: markdown with raw HTML off)."""
    return rx.markdown(source, use_raw=False, component_map={"a": _external_link}, **props)
