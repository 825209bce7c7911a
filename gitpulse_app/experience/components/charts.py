"""The stacked daily activity chart (`rx.recharts`), one bar per local date."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from gitpulse_app.intelligence.analytics import LAYERS

# One colour per layer, from the Radix scales so both themes read well.
LAYER_COLORS = {
    "prs": "indigo",
    "commits": "grass",
    "reviews": "amber",
    "issues": "cyan",
    "releases": "crimson",
}


def stacked_activity_chart(points: Var, height: int = 260) -> rx.Component:
    """Bars stacked by layer from points with `label` and one count per layer key."""
    return rx.recharts.bar_chart(
        *[
            rx.recharts.bar(
                data_key=layer.key,
                name=layer.label,
                stack_id="activity",
                fill=rx.color(LAYER_COLORS[layer.key], 9),
                is_animation_active=False,
            )
            for layer in LAYERS
        ],
        rx.recharts.x_axis(data_key="label", tick_line=False, min_tick_gap=12),
        rx.recharts.y_axis(allow_decimals=False, width=36, tick_line=False),
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False,
                                   stroke=rx.color("gray", 5)),
        rx.recharts.graphing_tooltip(cursor={"fill": rx.color("gray", 3)}),
        rx.recharts.legend(),
        data=points,
        width="100%",
        height=height,
        class_name="activity-chart",
    )
