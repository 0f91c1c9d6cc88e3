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


# Regions without a share get a value in their own band below 0, drawn grey and named in the legend.
NO_DATA_Z = -5.0
BOTTOM = -10


def class_edges() -> list[float]:
    """Edges of the colour classes on the z axis: the no-data band, then the share classes."""
    return [BOTTOM, *BREAKS, TOP]


def class_colorscale() -> list[list]:
    """A stepped colour scale over BOTTOM..TOP: one flat colour per class, grey for no data."""
    edges = class_edges()
    colours = (NO_DATA, *CLASS_COLOURS)
    span = TOP - BOTTOM
    scale = []
    for i, colour in enumerate(colours):
        scale.append([(edges[i] - BOTTOM) / span, colour])
        scale.append([(edges[i + 1] - BOTTOM) / span, colour])
    return scale


def class_labels() -> list[str]:
    labels = [f"{a}–{b}" for a, b in zip(BREAKS, BREAKS[1:], strict=False)]
    return ["no assessed<br>forms", *labels, f"{BREAKS[-1]}+"]


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
