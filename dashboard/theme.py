"""One place for colours, class breaks and fonts."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif'
TEXT = "#1f2933"
MUTED = "#52606d"
NO_DATA = "#d9dde3"
BORDER = "#ffffff"

# Fixed class breaks (per cent) so maps of different phases and filters compare.
BREAKS = (0, 10, 20, 30, 40)
# ColorBrewer YlOrRd, 5 classes: sequential, colour-blind safe, prints in grey as a ramp.
CLASS_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c", "#800026")
TOP = 50  # the last class is 40 % and above; the colour axis ends here

BAR = "#3b5b92"


def class_colorscale() -> list[list]:
    """A stepped colour scale over 0..TOP: one flat colour per class."""
    edges = [*BREAKS, TOP]
    scale = []
    for i, colour in enumerate(CLASS_COLOURS):
        scale.append([edges[i] / TOP, colour])
        scale.append([edges[i + 1] / TOP, colour])
    return scale


def class_labels() -> list[str]:
    labels = [f"{a}–{b} %" for a, b in zip(BREAKS, BREAKS[1:], strict=False)]
    return [*labels, f"{BREAKS[-1]} % and over"]


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
