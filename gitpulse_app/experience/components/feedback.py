"""Toasts (top-right, SPEC §12) for results and errors, sent from event handlers."""

from __future__ import annotations

import reflex as rx

POSITION = "top-right"


def toast_success(message: str) -> rx.event.EventSpec:
    return rx.toast.success(message, position=POSITION)


def toast_error(message: str) -> rx.event.EventSpec:
    return rx.toast.error(message, position=POSITION)


def toast_info(message: str) -> rx.event.EventSpec:
    return rx.toast.info(message, position=POSITION)
