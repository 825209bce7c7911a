"""Toasts (top-right) for results and errors, sent from event handlers."""

from __future__ import annotations

import logging
import secrets

import reflex as rx

POSITION = "top-right"


def toast_success(message: str) -> rx.event.EventSpec:
    return rx.toast.success(message, position=POSITION)


def toast_error(message: str) -> rx.event.EventSpec:
    return rx.toast.error(message, position=POSITION)


def toast_info(message: str) -> rx.event.EventSpec:
    return rx.toast.info(message, position=POSITION)


SOMETHING_WENT_WRONG = "Something went wrong (ref {ref})"
_log = logging.getLogger(__name__)


def unexpected_error(exception: Exception):  # no return annotation: Reflex evaluates it
    """The app's backend exception handler: a handler raised something nobody planned for.

    The traceback is logged with a short reference; the toast shows only that reference, never
    the exception's text (it may hold internals: SQL, paths, tokens).
    """
    ref = secrets.token_hex(4)
    _log.error("Unhandled error in an event handler", exc_info=exception, extra={"ref": ref})
    return toast_error(SOMETHING_WENT_WRONG.format(ref=ref))
