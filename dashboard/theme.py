"""One place for colours, class breaks and fonts."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif'
TEXT = "#1f2933"
MUTED = "#52606d"
NO_DATA = "#e4e8ee"
BORDER = "#ffffff"

# Fixed class breaks (per cent) so maps of different phases and filters compare.
BREAKS = (0, 10, 20, 30, 40)
# ColorBrewer YlOrRd, 5 classes: sequential, colour-blind safe, prints in grey as a ramp.
CLASS_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c", "#800026")
# The colour axis: two grey bands below 0 (too few observations to colour; no data or not selected),
# then one band of 10 per class.
CLASS_WIDTH = 10
TOP = CLASS_WIDTH * len(BREAKS)
TOO_FEW_Z = -15.0
NO_DATA_Z = -5.0
BOTTOM = -20
# Too few: a mid grey that reads as "not a colour of the scale"; no data: near white.
TOO_FEW = "#a7b0bc"

# Stations in the drilled-down region: worst assessment of their visits (ColorBrewer RdBu, CB-safe).
STATION_COLOURS = {
    "very good": "#2166ac",
    "good": "#67a9cf",
    "bad": "#ef8a62",
    "very bad": "#b2182b",
    "not assessed": "#3e4c59",
}
UNOBSERVED = "#7b8794"
BAR = "#3b5b92"


def class_edges() -> list[float]:
    """Edges of the colour classes on the z axis: too few, no data, then the share classes."""
    return [BOTTOM, -CLASS_WIDTH, *(CLASS_WIDTH * i for i in range(len(BREAKS) + 1))]


def class_colorscale() -> list[list]:
    """A stepped colour scale over BOTTOM..TOP: one flat colour per class, greys for too few and no data."""
    edges = class_edges()
    colours = (TOO_FEW, NO_DATA, *CLASS_COLOURS)
    span = TOP - BOTTOM
    scale = []
    for i, colour in enumerate(colours):
        scale.append([(edges[i] - BOTTOM) / span, colour])
        scale.append([(edges[i + 1] - BOTTOM) / span, colour])
    return scale


def class_labels(breaks: tuple[float, ...] = BREAKS, min_n: int | None = None) -> list[str]:
    """Legend labels: the grey classes, then "0–10" ... "40+" for ``breaks``."""
    labels = [f"{a:g}–{b:g}" for a, b in zip(breaks, breaks[1:], strict=False)]
    too_few = f"too few<br>(N < {min_n})" if min_n else "—"
    return [too_few, "no data", *labels, f"{breaks[-1]:g}+"]


def value_to_z(value: float, breaks: tuple[float, ...] = BREAKS) -> float:
    """Place ``value`` on the colour axis: class ``i`` of ``breaks`` maps onto [10 i, 10 i + 10)."""
    i = max(k for k, b in enumerate(breaks) if value >= b) if value >= breaks[0] else 0
    if i < len(breaks) - 1:
        frac = (value - breaks[i]) / (breaks[i + 1] - breaks[i])
    else:
        frac = min((value - breaks[-1]) / (breaks[-1] - breaks[-2]), 0.99)
    return round(CLASS_WIDTH * (i + frac), 2)


def nice_breaks(largest: float, classes: int = len(BREAKS)) -> tuple[int, ...]:
    """Round class breaks 0, s, 2s, ... with s the largest 1-2-5 step that puts ``largest`` in the top class."""
    target = max(largest, classes - 1) / (classes - 1)
    step = 1
    for mult in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if mult > target:
            break
        step = mult
    return tuple(step * i for i in range(classes))


TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT_FAMILY, size=16, color=TEXT),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=16)),
        margin=dict(l=10, r=10, t=10, b=10),
    )
)
pio.templates["obsmap"] = TEMPLATE
TEMPLATE_JSON = TEMPLATE.to_plotly_json()  # the same, as plain data (dashboard.figures.figure)
