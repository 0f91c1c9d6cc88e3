"""Figures are pure functions: aggregated numbers in, ``go.Figure`` out."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import theme
from dashboard.analysis import interval_text, percent
from dashboard.filters import format_hour
from dashboard.memo import IdentityLru
from dashboard.metrics import MetricView
from dashboard.text import station_hover


def plotly_text(value: object) -> str:
    """``value`` as text in a Plotly string (title, hover, annotation, label), which reads a subset of HTML.

    ``<``, ``>`` and ``&`` are escaped, so a name like ``<b>`` or ``<a href=...>`` shows as typed and is
    never a tag. Quotes are left as they are: Plotly decodes ``&lt;``, ``&gt;``, ``&amp;`` and numeric
    references but not ``&quot;``, which it would show as such, and a quote outside a tag is only text.
    """
    return escape(str(value), quote=False)


_escaped = IdentityLru(16)  # a mission's region names -> the same, escaped


def _escaped_names(names: dict[str, str]) -> dict[str, str]:
    """``names`` (a mission's region names: read-only) escaped for Plotly, once per mission."""
    return _escaped.get(names, "escaped", lambda: {code: plotly_text(name) for code, name in names.items()})


MAP_HOVER = "<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>"
STATION_HOVER = "%{customdata}<extra></extra>"
STATION_BRIEF_HOVER = "<b>%{{customdata}}</b><br>Worst assessment: {cls}<extra></extra>"  # a class of very many stations

STATION_CLASSES = tuple(theme.STATION_COLOURS)
# The map's traces by name, in drawing order; a filter change patches them by name (see trace_index).
REGIONS, DISTRICTS, UNOBSERVED = "Regions", "District borders", "Not observed"
STATIONS = tuple(f"Observed: {cls}" for cls in STATION_CLASSES)
MAP_TRACES = (REGIONS, DISTRICTS, UNOBSERVED, *STATIONS)


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure in obsmap's template from plain dicts, not checked by plotly property by property: those checks
    took 5-7 ms a figure, a third of a filter change at 1,000,000 forms. Every figure the page and the exports
    show is checked against plotly's schema by the tests instead (tests/dashboard/test_figures_valid.py)."""
    return go.Figure({"data": data, "layout": {"template": theme.TEMPLATE_JSON, **layout}}, _validate=False)


def trace_index(name: str) -> int:
    """Where the trace called ``name`` sits in :func:`make_region_map`'s figure."""
    return MAP_TRACES.index(name)


def region_map_values(
    table: pd.DataFrame,
    names: dict[str, str],
    legend: MetricView,
    hovers: list[str],
    selected: tuple[str, ...] = (),
) -> dict[str, Any]:
    """What the map shows per region, in ``table``'s order: z on the class axis and hover text.

    ``table`` has ``value`` (per cent or count; NaN when unknown) and ``too_few`` (bool);
    ``hovers`` has each region's hover line with its N. Regions not selected or without a
    value are light grey; regions with too few observations mid grey, never coloured as if known.
    """
    z, text = [], []
    chosen = set(selected)
    rows = zip(table.index, table["value"].tolist(), table["too_few"].tolist(), hovers, strict=True)
    for code, value, too_few, hover in rows:
        if chosen and code not in chosen:
            z.append(theme.NO_DATA_Z)
            text.append("Not in the selected regions")
        elif value is None or math.isnan(value):
            z.append(theme.NO_DATA_Z)
            text.append(hover)
        elif too_few:
            z.append(theme.TOO_FEW_Z)
            text.append(f"Too few observations to colour (fewer than {legend.min_n})<br>{hover}")
        else:
            z.append(theme.value_to_z(float(value), legend.breaks))
            text.append(hover)
    shown = _escaped_names(names)
    return {
        "z": z,
        # Region names come from the boundary file: escaped before they meet the hover's HTML.
        "customdata": [[shown.get(code) or plotly_text(code), t] for code, t in zip(table.index, text, strict=True)],
        "colorbar.title.text": legend.title,
        "colorbar.ticktext": theme.class_labels(legend.breaks, legend.min_n),
    }


def station_values(visits: pd.DataFrame, unobserved: pd.DataFrame, brief_from: int | None = None) -> dict[str, dict[str, Any]]:
    """Per station trace (by name): lat, lon and hover text. ``visits`` is :func:`dashboard.analysis.station_visits`.

    ``brief_from``: a class with at least this many stations has only each station's id and class in its hover (and
    the layer says so in its ``hovertemplate``): visits, times and problems for tens of thousands of stations made a
    drill-down of 90,000 stations 12.7 MB. Without it every hover is whole (pictures do not send hovers anyway)."""
    out: dict[str, dict[str, Any]] = {
        UNOBSERVED: {
            "lat": unobserved["latitude"].round(4).tolist(),
            "lon": unobserved["longitude"].round(4).tolist(),
            "customdata": [plotly_text(ps) for ps in unobserved["ps_id"]],  # the trace's hovertemplate adds "Not observed"
        }
    }
    worst = visits["worst"].astype("string").fillna("not assessed")
    for name, cls in zip(STATIONS, STATION_CLASSES, strict=True):
        here = visits[worst == cls]
        brief = brief_from is not None and len(here) >= brief_from
        out[name] = {
            "lat": here["latitude"].round(4).tolist(),
            "lon": here["longitude"].round(4).tolist(),
            # Station ids come from the mission's files: escaped, so a "<" shows as text in the hover.
            "customdata": [plotly_text(ps) for ps in here["ps_id"]] if brief else [station_hover(r, cls) for r in here.itertuples()],
        }
        if brief_from is not None:
            out[name]["hovertemplate"] = STATION_BRIEF_HOVER.format(cls=plotly_text(cls)) if brief else STATION_HOVER
    return out


MAP_HEIGHT = 560


LEGEND_PX = 110  # the colour bar's band along the top of the map

# The same fit in the browser's JavaScript, for the page's map (its size is known only there); pictures use map_view.
FIT_JS = """function(b, width, height, legend) {
    var merc = function(lat) { return 180 / Math.PI * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)); };
    var spanX = Math.max(b[2] - b[0], 1e-3), spanY = Math.max(merc(b[3]) - merc(b[1]), 1e-3);
    var free = Math.max(height - legend, height * 0.5);
    var zoom = Math.min(Math.log2(width * 0.94 * 360 / (512 * spanX)), Math.log2(free * 0.94 * 360 / (512 * spanY)));
    var centre = (merc(b[3]) + merc(b[1])) / 2 + (legend / 2) * 360 / (512 * Math.pow(2, zoom));
    var lat = 180 / Math.PI * (2 * Math.atan(Math.exp(centre * Math.PI / 180)) - Math.PI / 2);
    return {center: {lon: (b[0] + b[2]) / 2, lat: lat}, zoom: Math.round(zoom * 100) / 100};
}"""


def map_view(
    bounds: tuple[float, float, float, float], width_px: int = 820, height_px: int = MAP_HEIGHT, legend_px: int = LEGEND_PX
) -> dict[str, Any]:
    """Centre and zoom that fit ``bounds`` (west, south, east, north) below the colour bar.

    The colour bar runs along the top ``legend_px`` pixels of a ``width_px`` x ``height_px`` view, so
    the box is fitted into the band below it (with a small margin) and the centre is moved up by half
    the band. MapLibre's own fit runs before the card has its size, so the page fits with :data:`FIT_JS`
    (the same arithmetic) once the browser has measured the map, and pictures with this function.
    """
    west, south, east, north = bounds

    def merc(lat: float) -> float:
        return float(np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))))

    span_x = max(east - west, 1e-3)
    span_y = max(merc(north) - merc(south), 1e-3)
    free_height = max(height_px - legend_px, height_px * 0.5)
    # 512 px show 360 degrees of longitude (and of Mercator y) at zoom 0.
    zoom = min(np.log2(width_px * 0.94 * 360 / (512 * span_x)), np.log2(free_height * 0.94 * 360 / (512 * span_y)))
    degrees_per_px = 360 / (512 * 2**zoom)
    centre_merc = (merc(north) + merc(south)) / 2 + (legend_px / 2) * degrees_per_px
    centre_y = float(np.degrees(2 * np.arctan(np.exp(np.radians(centre_merc))) - np.pi / 2))
    return {"center": {"lon": (west + east) / 2, "lat": centre_y}, "zoom": round(float(zoom), 2)}


def make_region_map(
    geojson: dict[str, Any],
    names: dict[str, str],
    values: dict[str, Any],
    view: dict[str, Any],
    districts: dict[str, Any] | None = None,
    height: int | None = MAP_HEIGHT,
    urls: dict[str, str] | None = None,
) -> go.Figure:
    """Choropleth on a MapLibre ``white-bg`` map (renders with no network), plus drill-down layers.

    "Regions" colours every region (``names``' order, which is ``values``' order); "District borders"
    outlines districts; "Not observed" and "Observed: <class>" are registry and observed stations, empty
    until a region is drilled into.
    All geometry is sent with this figure, or named by ``urls`` (``regions``, ``districts``: where the browser
    fetches it, once); filter changes patch values only. Traces are named :data:`MAP_TRACES`; patches find
    them by name.
    """
    urls = urls or {}
    edges = theme.class_edges()
    regions = go.Choroplethmap(
        geojson=urls.get("regions", geojson),
        locations=list(names),
        z=values["z"],
        customdata=values["customdata"],
        hovertemplate=MAP_HOVER,
        colorscale=theme.class_colorscale(),
        zmin=theme.BOTTOM,
        zmax=theme.TOP,
        marker=dict(line=dict(color=theme.BORDER, width=1.2), opacity=1),
        colorbar=dict(
            title=dict(text=values["colorbar.title.text"], side="top", font=dict(size=15)),
            orientation="h",
            tickvals=[(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)],
            ticktext=values["colorbar.ticktext"],
            ticks="",
            thickness=16,
            len=0.7,
            x=0.01,
            xanchor="left",
            y=0.99,
            yanchor="top",
            bgcolor="rgba(255,255,255,0.9)",
            tickfont=dict(size=14),
        ),
        name=REGIONS,
        showlegend=False,
    )
    district_codes = [f["id"] for f in (districts or {}).get("features", [])]
    district_layer = go.Choroplethmap(
        geojson=urls.get("districts") or districts or {"type": "FeatureCollection", "features": []},
        locations=district_codes,
        z=[0] * len(district_codes),
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        showscale=False,
        marker=dict(line=dict(color="#52606d", width=0.6)),
        hoverinfo="skip",
        name=DISTRICTS,
        visible=False,
        showlegend=False,
    )
    traces = [regions, district_layer]
    traces.append(
        go.Scattermap(
            lat=[], lon=[], mode="markers", marker=dict(size=5, color=theme.UNOBSERVED, opacity=0.45),
            customdata=[], hovertemplate="<b>%{customdata}</b><br>Not observed<extra></extra>", name=UNOBSERVED, visible=False,
        )
    )  # fmt: skip
    for name, cls in zip(STATIONS, STATION_CLASSES, strict=True):
        traces.append(
            go.Scattermap(
                lat=[], lon=[], mode="markers", marker=dict(size=10, color=theme.STATION_COLOURS[cls], opacity=0.95),
                customdata=[], hovertemplate=STATION_HOVER, name=name, visible=False,
            )
        )  # fmt: skip
    fig = go.Figure(traces)
    if tuple(t.name for t in fig.data) != MAP_TRACES:  # patches find traces by these names
        raise RuntimeError(f"map traces {[t.name for t in fig.data]} differ from MAP_TRACES")
    fig.update_layout(
        template="obsmap",
        map=dict(style="white-bg", **view),
        uirevision="country",
        margin=dict(l=0, r=0, t=0, b=0),
        height=height,  # None: the page's CSS sizes the map and plotly fills it
        legend=dict(
            title=dict(text="Stations (worst visit)"), x=0.01, y=0.01, xanchor="left", yanchor="bottom",
            bgcolor="rgba(255,255,255,0.9)", font=dict(size=13),
        ),
    )  # fmt: skip
    return fig


def _interval(row: Any, few: bool) -> str:
    return interval_text(row.negative, row.assessed) + (" · too few" if few else "")


def make_timeline(table: pd.DataFrame, hours: range, min_n: int = 10, private: bool = False) -> go.Figure:
    """Forms per hour (bars) and the share bad or very bad per hour (line, with its N and interval in the hover).

    ``table`` is :func:`dashboard.analysis.tally_by_hour`; every hour of ``hours`` gets a bar. Hours
    with fewer than ``min_n`` assessed forms are hollow grey points, flagged "too few" in the hover.
    ``private`` (aggregates-only accounts): an hour behind fewer than ``min_n`` forms, or assessed forms,
    has no bar and no point at all.
    """
    t = table.reindex(list(hours), fill_value=0)
    labels = [format_hour(h) for h in t.index]
    hidden = [private and 0 < r.n < min_n for r in t.itertuples()]
    few = [0 < r.assessed < min_n for r in t.itertuples()]
    shown = [bool(r.assessed) and not (private and f) for r, f in zip(t.itertuples(), few, strict=True)]
    share = [100 * r.negative / r.assessed if s else None for r, s in zip(t.itertuples(), shown, strict=True)]
    top = max([v for v in share if v is not None] or [0])
    share_range = [0, 100 if top > 60 else max(10, 10 * math.ceil(top * 1.25 / 10))]
    bars = {
        "type": "bar", "x": labels, "y": [None if h else int(n) for n, h in zip(t["n"], hidden, strict=True)], "name": "Forms",
        "marker": {"color": theme.BAR}, "opacity": 0.55,
        "hovertemplate": "%{x}: %{y} forms<extra></extra>",
    }  # fmt: skip
    line = {
        "type": "scatter", "x": labels, "y": share, "name": "% bad or very bad", "yaxis": "y2", "mode": "lines+markers",
        "connectgaps": False,
        "line": {"color": theme.CLASS_COLOURS[-1], "width": 3},
        "marker": {
            "size": [9 if f else 7 for f in few],
            "color": ["white" if f else theme.CLASS_COLOURS[-1] for f in few],
            "line": {"color": [theme.TOO_FEW if f else theme.CLASS_COLOURS[-1] for f in few], "width": 2},
        },
        "customdata": [
            [0, 0, "too few", ""] if private and f else [int(r.negative), int(r.assessed), percent(r.negative, r.assessed), _interval(r, f)]
            for r, f in zip(t.itertuples(), few, strict=True)
        ],
        "hovertemplate": (
            "%{x}: %{customdata[2]} bad or very bad (%{customdata[0]} of %{customdata[1]} assessed; %{customdata[3]})<extra></extra>"
        ),
    }  # fmt: skip
    layout = {
        "height": 340,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "yaxis": {"title": {"text": "Forms", "standoff": 8}, "rangemode": "tozero", "gridcolor": "#e4e7eb", "automargin": True},
        "yaxis2": {
            "title": {"text": "Bad or very bad", "standoff": 8},
            "overlaying": "y",
            "side": "right",
            "range": share_range,
            "tickmode": "auto",
            "nticks": 5,
            "ticksuffix": " %",
            "showgrid": False,
            "automargin": True,
        },
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 14}},
        "xaxis": {"type": "category", "tickangle": 0, "nticks": 8, "automargin": True},
        "bargap": 0.15,
    }
    return figure([bars, line], layout)


def make_problem_chart(rates: pd.DataFrame, selected: str | None = None, min_n: int = 10, private: bool = False) -> go.Figure:
    """Horizontal bars: share of forms reporting each problem; each label carries its "yes of answered".

    Questions nobody answered (not on this phase's checklist) are left out; the ``selected``
    problem's bar is drawn in the accent colour; a bar behind fewer than ``min_n`` answers is grey
    and says "too few" (``private``, for aggregates-only accounts: with no bar, share or count at all).
    A click on a bar selects its problem (its key is the last item of customdata).
    """
    shown = rates[rates["answered"] > 0].sort_values("share")
    few = shown["answered"] < min_n
    hide = few & private
    labels = [
        f"{r.label}<br><span style='color:{theme.MUTED}'>{'too few' if h else f'{r.yes:,} of {r.answered:,}'}</span>"
        for r, h in zip(shown.itertuples(), hide, strict=True)
    ]
    colours = [
        theme.CLASS_COLOURS[-1] if p == selected else (theme.TOO_FEW if f else theme.BAR) for p, f in zip(shown.index, few, strict=True)
    ]
    bars = {
        "type": "bar",
        "x": [0.0 if h else float(100 * v) for v, h in zip(shown["share"], hide, strict=True)],
        "y": labels,
        "orientation": "h",
        "marker": {"color": colours},
        "text": [
            "too few" if h else percent(r.yes, r.answered) + (" (too few)" if f else "")
            for r, f, h in zip(shown.itertuples(), few, hide, strict=True)
        ],
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": [
            ["too few", f"fewer than {min_n} answers", r.Index]
            if h
            else [percent(r.yes, r.answered), interval_text(r.yes, r.answered), r.Index]
            for r, h in zip(shown.itertuples(), hide, strict=True)
        ],
        "hovertemplate": "%{y}<br>%{customdata[0]} of the forms that answered the question (%{customdata[1]})<extra></extra>",
    }
    top = float(100 * shown["share"].max()) if len(shown) else 10.0
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": "% of forms that answered"}, "range": [0, max(10.0, top * 1.35)], "ticksuffix": " %",
                  "gridcolor": "#e4e7eb", "nticks": 5},
        "yaxis": {"automargin": True},
        "height": max(240, 54 * len(shown) + 80),
        "margin": {"l": 10, "r": 40, "t": 10, "b": 60},
        "bargap": 0.3,
    }  # fmt: skip
    if shown.empty:
        layout["annotations"] = [
            {"text": "No forms for this selection", "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
        ]
    return figure([bars], layout)
