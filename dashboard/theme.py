"""One place for colours, class breaks and fonts."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import plotly.io as pio

from geo.i18n import _, plotly_separators

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif'
TEXT = "#1f2933"
MUTED = "#52606d"
BORDER = "#7b8794"  # region borders: mid grey, so a white region (no forms) keeps its outline on the white map

# Fixed class breaks (per cent) so maps of different phases and filters compare.
BREAKS = (0, 10, 20, 30, 40)
# ColorBrewer YlOrRd, 5 classes: sequential, colour-blind safe, prints in grey as a ramp. For the shares of something
# that went wrong (bad or very bad, a problem): the alarm scale.
CLASS_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c", "#800026")
# ColorBrewer Blues, 5 classes: for how much was observed (coverage, number of forms), where more is not worse.
COUNT_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")  # Blues, its lightest (near white) left out
SCALES = {"negative": CLASS_COLOURS, "problem": CLASS_COLOURS, "coverage": COUNT_COLOURS, "forms": COUNT_COLOURS}
# The colour axis: three grey bands below 0, each a class of its own in the legend, then one band of 10 per class.
CLASS_WIDTH = 10
TOP = CLASS_WIDTH * len(BREAKS)
NOT_SELECTED_Z = -25.0  # a region outside the chosen regions (and every region under a drilled-down region's stations)
NO_DATA_Z = -15.0  # no form (or no answer) there
TOO_FEW_Z = -5.0  # forms, but fewer than min_n: not coloured as if known
BOTTOM = -30
NOT_SELECTED = "#dde2e8"  # light grey: context, not part of the view
NO_DATA = "#ffffff"  # white: nothing there (the border keeps its outline)
TOO_FEW = "#98a2b0"  # mid grey: "not a colour of the scale"
GREYS = (NOT_SELECTED, NO_DATA, TOO_FEW)

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
    """Edges of the colour classes on the z axis: not selected, no data, too few, then the value classes."""
    return [BOTTOM, -2 * CLASS_WIDTH, -CLASS_WIDTH, *(CLASS_WIDTH * i for i in range(len(BREAKS) + 1))]


def class_colorscale(metric: str = "negative") -> list[list]:
    """A stepped colour scale over BOTTOM..TOP: one flat colour per class: the three greys, then ``metric``'s scale."""
    edges = class_edges()
    colours = (*GREYS, *SCALES.get(metric, CLASS_COLOURS))
    span = TOP - BOTTOM
    scale = []
    for i, colour in enumerate(colours):
        scale.append([(edges[i] - BOTTOM) / span, colour])
        scale.append([(edges[i + 1] - BOTTOM) / span, colour])
    return scale


def z_colour(z: float, metric: str = "negative") -> str:
    """The colour the map gives a region at ``z`` (the class it falls in), e.g. for a small region's marker."""
    edges = class_edges()
    colours = (*GREYS, *SCALES.get(metric, CLASS_COLOURS))
    i = max((k for k, edge in enumerate(edges[:-1]) if z >= edge), default=0)
    return colours[min(i, len(colours) - 1)]


def _short(value: float) -> str:
    """A class break as the legend writes it: "10", "0.5" (Russian "0,5"), no thousands separator."""
    return f"{value:g}".replace(".", plotly_separators()[0])


def class_labels(breaks: tuple[float, ...] = BREAKS, min_n: int | None = None) -> list[str]:
    """Legend labels: the grey classes, then "0–10" ... "40+" for ``breaks``.

    >>> class_labels(min_n=10)[:3]
    ['not<br>selected', 'no data', 'too few<br>(N < 10)']
    """
    labels = [f"{_short(a)}–{_short(b)}" for a, b in zip(breaks, breaks[1:], strict=False)]
    # TRANSLATORS: legend classes of the map's colour bar; <br> breaks the line (the labels are narrow)
    too_few = _("too few<br>(N < {min_n})").format(min_n=min_n) if min_n else "—"
    return [_("not<br>selected"), _("no data"), too_few, *labels, f"{_short(breaks[-1])}+"]


def value_to_z(value: float, breaks: tuple[float, ...] = BREAKS) -> float:
    """Place ``value`` on the colour axis: class ``i`` of ``breaks`` maps onto [10 i, 10 i + 10)."""
    i = max(k for k, b in enumerate(breaks) if value >= b) if value >= breaks[0] else 0
    if i < len(breaks) - 1:
        frac = (value - breaks[i]) / (breaks[i + 1] - breaks[i])
    else:
        frac = min((value - breaks[-1]) / (breaks[-1] - breaks[-2]), 0.99)
    return round(CLASS_WIDTH * (i + frac), 2)


def range_breaks(values: list[float], classes: int = len(BREAKS)) -> tuple[float, ...]:
    """Class breaks lo, lo + s, ... over the spread of ``values``: s the smallest 1-2-5 step (0.1 and up) that fits the
    values from their lowest into ``classes`` classes, lo the lowest value rounded down to a step. For values that all
    sit in a narrow band (coverage of 1.8-3.4 %), which breaks from 0 would paint one colour."""
    if not values:
        return tuple(float(i) for i in range(classes))
    low, high = min(values), max(values)
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        start = math.floor(low / step) * step
        if start + step * (classes - 1) > high:
            break
    return tuple(round(start + step * i, 1) for i in range(classes))


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
