"""Figures are pure functions: aggregated numbers in, ``go.Figure`` out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import theme
from dashboard.analysis import percent
from geo.schema import PHASE_WORDING

MAP_HOVER = "<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>"


def region_map_values(table: pd.DataFrame, names: dict[str, str], form_type: str, selected: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the map shows per region, in ``table``'s order: z (per cent, capped for colour) and hover text.

    ``table`` is :func:`dashboard.analysis.negative_share_by_region`. A region without an assessed
    form gets ``theme.NO_DATA_Z``, the grey class; its hover says whether it was not selected or
    had no assessed form.
    """
    observed = PHASE_WORDING[form_type][1]
    z, text = [], []
    for r in table.itertuples():
        if selected and r.Index not in selected:
            z.append(theme.NO_DATA_Z)
            text.append("Not in the selected regions")
        elif r.assessed == 0:
            z.append(theme.NO_DATA_Z)
            text.append("No assessed forms for this selection" + (f"<br>({r.n} forms without assessment)" if r.n else ""))
        else:
            z.append(round(float(min(100 * r.negative / r.assessed, theme.TOP)), 2))
            text.append(
                f"{percent(r.negative, r.assessed)} bad or very bad<br>{r.negative} of {r.assessed} {observed} with an assessment"
                + (f"<br>({r.n - r.assessed} forms without assessment)" if r.n > r.assessed else "")
            )
    return {"z": z, "customdata": [[names.get(code, code), t] for code, t in zip(table.index, text, strict=True)]}


MAP_HEIGHT = 560


def map_view(geojson: dict[str, Any], width_px: int = 820, height_px: int = MAP_HEIGHT) -> dict[str, Any]:
    """Centre and zoom that fit every feature in a ``width_px`` x ``height_px`` Web-Mercator view.

    Computed once from the GeoJSON (MapLibre's own fit runs before the card has its size).
    """
    lons, lats = [], []
    for feature in geojson["features"]:
        coords = np.array(_flatten(feature["geometry"]["coordinates"]))
        lons += [coords[:, 0].min(), coords[:, 0].max()]
        lats += [coords[:, 1].min(), coords[:, 1].max()]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)

    def merc(lat: float) -> float:
        return float(np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))))

    span_x = max(east - west, 1e-3)
    span_y = max(merc(north) - merc(south), 1e-3)
    # 512 px show 360 degrees at zoom 0. The colour bar runs along the top: keep a band free there.
    zoom = min(np.log2(width_px * 0.94 * 360 / (512 * span_x)), np.log2(height_px * 0.80 * 360 / (512 * span_y)))
    centre_merc = (merc(north) + merc(south)) / 2 + 0.07 * span_y * (2 ** (np.log2(height_px * 0.80 * 360 / (512 * span_y)) - zoom))
    centre_y = float(np.degrees(2 * np.arctan(np.exp(np.radians(centre_merc))) - np.pi / 2))
    return {"center": {"lon": (west + east) / 2, "lat": centre_y}, "zoom": round(float(zoom), 2)}


def _flatten(coords: Any) -> list:
    if isinstance(coords[0], (int, float)):
        return [coords]
    out: list = []
    for c in coords:
        out += _flatten(c)
    return out


def make_region_map(geojson: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> go.Figure:
    """Choropleth of the negative share on a MapLibre ``white-bg`` map (renders with no network).

    One trace over every region (``names``' order, which is ``values``' order); the geometry is sent
    with this figure once, and filter changes patch ``z`` and ``customdata`` only.
    """
    edges = theme.class_edges()
    value = go.Choroplethmap(
        geojson=geojson,
        locations=list(names),
        z=values["z"],
        customdata=values["customdata"],
        hovertemplate=MAP_HOVER,
        colorscale=theme.class_colorscale(),
        zmin=theme.BOTTOM,
        zmax=theme.TOP,
        marker=dict(line=dict(color=theme.BORDER, width=1.2), opacity=1),
        colorbar=dict(
            title=dict(text="Assessed bad or very bad, % of forms with an assessment", side="top", font=dict(size=15)),
            orientation="h",
            tickvals=[(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)],
            ticktext=theme.class_labels(),
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
        name="Share bad or very bad",
    )
    fig = go.Figure([value])
    fig.update_layout(
        template="obsmap",
        map=dict(style="white-bg", **map_view(geojson)),
        uirevision="keep-view",
        margin=dict(l=0, r=0, t=0, b=0),
        height=MAP_HEIGHT,
    )
    return fig


def make_problem_chart(rates: pd.DataFrame) -> go.Figure:
    """Horizontal bars: share of forms reporting each problem, with "yes of answered" labels.

    Questions nobody answered (not on this phase's checklist) are left out.
    """
    shown = rates[rates["answered"] > 0].sort_values("share")
    fig = go.Figure(
        go.Bar(
            x=100 * shown["share"],
            y=shown["label"],
            orientation="h",
            marker_color=theme.BAR,
            text=[f"{percent(r.yes, r.answered)}  ({r.yes} of {r.answered})" for r in shown.itertuples()],
            textposition="outside",
            cliponaxis=False,
            customdata=np.column_stack([shown["yes"], shown["answered"]]) if len(shown) else None,
            hovertemplate="<b>%{y}</b><br>%{x:.1f} % of forms that answered<br>%{customdata[0]} of %{customdata[1]}<extra></extra>",
        )
    )
    top = float(100 * shown["share"].max()) if len(shown) else 10.0
    fig.update_layout(
        template="obsmap",
        xaxis=dict(title="% of forms that answered the question", range=[0, max(10.0, top * 1.6)], ticksuffix=" %", gridcolor="#e4e7eb"),
        yaxis=dict(automargin=True),
        height=max(220, 46 * len(shown) + 80),
        margin=dict(l=10, r=30, t=10, b=60),
        bargap=0.3,
    )
    if shown.empty:
        fig.add_annotation(text="No forms for this selection", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return fig
