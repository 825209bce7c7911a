"""`@page`: each UI page declares its route, title, guard and frame once, beside its view.

The decorator attaches a `PageSpec` to the view (`spec_of(view)`); the page registry lists the
views and `gitpulse_app/gitpulse_app.py` adds every one to the app. The guard runs first on every load, so a page's own `load` handler starts with a known
visitor and never repeats the check:

- `Guard.ONBOARDED` (the default): signed-out visitors go to `/?next=<path>`, signed-in users
  who have not finished onboarding go to /onboarding (`SessionState.require_user`).
- `Guard.SIGNED_IN`: the same, minus the onboarding redirect (the onboarding page itself).
- `Guard.PUBLIC`: anyone; the visitor is resolved for the navigation bar, nobody is redirected.

Reflex runs a page's on_load events one after another, so the guard has resolved the visitor
before the page's handlers run; the session middleware (docs/SECURITY.md) still re-checks the
session before every guarded handler.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx

from gitpulse_app.experience.components.shell import app_shell
from gitpulse_app.experience.state import SessionState


class Guard(enum.Enum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    ONBOARDED = "onboarded"


@dataclass(frozen=True)
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    on_load: list[Any]


SPEC_ATTRIBUTE = "__page_spec__"


def _guard_event(guard: Guard) -> Any:
    # require_user lets the onboarding page itself through (SessionState._guard).
    return SessionState.load_visitor if guard is Guard.PUBLIC else SessionState.require_user


def page(route: str, title: str, *, load: Any | Sequence[Any] = (),
         guard: Guard = Guard.ONBOARDED, frame: bool = True):
    """Register the decorated view as the page at `route`.

    `load` is the page's own on_load handler (or several, run in order after the guard);
    `frame` wraps the view in the app shell (navigation bar and container).
    """
    loads = list(load) if isinstance(load, (list, tuple)) else [load]

    def register(view: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def component() -> rx.Component:
            return app_shell(view()) if frame else view()

        component.__name__ = view.__name__
        setattr(view, SPEC_ATTRIBUTE,
                PageSpec(route, title, component, [_guard_event(guard), *loads]))
        return view

    return register


def spec_of(view: Callable[[], rx.Component]) -> PageSpec:
    """The `PageSpec` that `@page` gave `view`."""
    return getattr(view, SPEC_ATTRIBUTE)
