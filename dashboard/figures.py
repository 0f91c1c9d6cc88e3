"""Figures are pure functions: aggregated numbers in, ``go.Figure`` out."""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
from shapely.geometry import shape

from dashboard import theme
from dashboard.analysis import interval_text, percent
from dashboard.filters import format_hour
from dashboard.memo import IdentityLru
from dashboard.metrics import MetricView
from dashboard.text import forms_count, plural, station_hover
from geo.i18n import _, number, plotly_separators
from geo.i18n import percent as percent_text
from geo.schema import LEVEL_LABELS


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


# A region's name is the trace's text, sent once with the figure; its hover line (customdata) changes with the view.
MAP_HOVER = "<b>%{text}</b><br>%{customdata}<extra></extra>"
STATION_HOVER = "%{customdata}<extra></extra>"
STATION_BRIEF_HOVER = "<b>%{{customdata}}</b><br>{worst}<extra></extra>"  # a class of very many stations

STATION_CLASSES = tuple(theme.STATION_COLOURS)
# The map's traces by name, in drawing order; a filter change patches them by name (see trace_index).
REGIONS, DISTRICTS, UNOBSERVED = "Regions", "District borders", "Not observed"
SMALL_REGIONS, MAP_NOTES = "Small regions", "Map notes"
STATIONS = tuple(f"Observed: {cls}" for cls in STATION_CLASSES)
MAP_TRACES = (REGIONS, DISTRICTS, SMALL_REGIONS, UNOBSERVED, *STATIONS, MAP_NOTES)


def shown_trace_name(name: str) -> str:
    """A map trace's name as its legend shows it, in the current language ("Observed: very bad", Russian
    «Наблюдались: очень плохо»). The traces are found by their place (:func:`trace_index`), never by a translated name;
    in English the name is :data:`MAP_TRACES`' own."""
    if name == UNOBSERVED:
        return _("Not observed")
    if name in STATIONS:
        cls = STATION_CLASSES[STATIONS.index(name)]
        return _("Observed: {level}").format(level=LEVEL_LABELS[cls])
    return name


# ------------------------------------------------------------------------------------ names on the map
# MapLibre draws text only from a font it is given: the map's style names a font file ("font-faces": MapLibre then
# draws the letters itself, no glyph server), a cut of DejaVu Sans made by scripts/make_map_font.py. The page's map
# reads it from the app (once, then from the browser's cache); pictures carry it inline, as a data: URL.
FONT_FILE = Path(__file__).resolve().parent / "assets" / "fonts" / "map-sans.woff2"
FONT_URL = "/assets/fonts/map-sans.woff2"
MAP_FONT = "Open Sans Regular"  # the font plotly asks MapLibre for: the name the style gives our file
LABEL_SIZE = 13
# A region this small a part of the whole map's area (a city region: Almaty, Astana) is a few pixels at country zoom:
# it gets a dot in its colour, with its name beside it. Not for maps with very many small units (their dots would
# cover the map); the largest such count is SMALL_REGIONS_MAX.
SMALL_AREA_SHARE, SMALL_REGIONS_MAX = 0.004, 40
# What the map's labels need that plotly does not set: a white halo, so dark names read on dark classes, and an
# outline to a small region's dot. Run after every redraw, in the page and before a picture is taken.
LABEL_STYLE_JS = """function obsmapLabels(gd) {
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    var map = sub && sub.map;
    var meta = gd && gd.layout && gd.layout.meta && gd.layout.meta["LABELS_META"];
    if (!map || !map.getStyle) { return; }
    if (!map.isStyleLoaded()) {  // still loading (a first draw, a refit): once more when the map is idle
        if (!map.obsmapWaiting) {
            map.obsmapWaiting = true;
            map.once("idle", function() { map.obsmapWaiting = false; obsmapLabels(gd); });
        }
        return;
    }
    var names;
    if (typeof meta === "string") {  // the page's map: the URL of a file of plain names, fetched once (then cached)
        map.obsmapFiles = map.obsmapFiles || {};
        var file = map.obsmapFiles[meta];  // undefined: not asked; null: asked; false: failed, at obsmapFailed
        if (file === undefined || (file === false && Date.now() - map.obsmapFailed > 30000)) {
            map.obsmapFiles[meta] = null;
            // No redirect followed: a session that ended sends the sign-in page, which is not the names.
            fetch(meta, {credentials: "same-origin", redirect: "error"}).then(function(r) {
                if (!r.ok) { throw new Error(meta + ": " + r.status); }
                return r.json();
            }).then(function(loaded) {
                map.obsmapFiles[meta] = loaded;
                obsmapLabels(gd);
            }).catch(function(e) {
                if (!map.obsmapFiles[meta]) { map.obsmapFiles[meta] = false; map.obsmapFailed = Date.now(); }  // asked again later
                console.warn("obsmap: the map's names", e);
            });
        }
        names = file || map.obsmapNames || null;  // until they come, the names the map has
        if (!file) { meta = names ? map.obsmapMeta : meta; }
    } else {
        names = meta && map.obsmapMeta === meta ? map.obsmapNames : meta && {  // a picture's: the names as text, &lt; to <
            type: "FeatureCollection",
            features: meta.features.map(function(f) {
                var name = String(f.properties.name).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
                return {type: "Feature", geometry: f.geometry, properties: Object.assign({}, f.properties, {name: name})};
            })
        };
    }
    map.obsmapMeta = meta;
    if (!meta && map.getSource("obsmap-names")) {  // a figure without names (a picture's tab draws one after another)
        map.removeLayer("obsmap-names");
        map.removeSource("obsmap-names");
        map.obsmapNames = null;
    }
    if (names && map.getSource("obsmap-names") && map.obsmapNames !== names) {  // another figure (a picture's tab)
        map.getSource("obsmap-names").setData(names);
        map.obsmapNames = names;
    }
    if (names && !map.getSource("obsmap-names")) {  // once per map: plotly leaves alone a layer it did not make
        map.obsmapNames = names;
        map.addSource("obsmap-names", {type: "geojson", data: names});
        map.addLayer({
            id: "obsmap-names", type: "symbol", source: "obsmap-names",
            layout: {
                "text-field": ["get", "name"], "text-font": ["MAP_FONT"], "text-size": LABEL_SIZE,
                "text-anchor": ["get", "anchor"],
                "text-offset": ["match", ["get", "anchor"],
                    "left", ["literal", [0.9, 0]], "bottom", ["literal", [0, -0.8]], ["literal", [0, 0]]]
            },
            paint: {
                "text-color": ["case", ["get", "note"], "MUTED_COLOUR", "TEXT_COLOUR"],
                "text-halo-color": "rgba(255,255,255,0.92)", "text-halo-width": 1.6
            }
        });
    } else if (map.getLayer("obsmap-names")) {
        var ids = map.getStyle().layers.map(function(l) { return l.id; });
        if (ids[ids.length - 1] !== "obsmap-names") { map.moveLayer("obsmap-names"); }  // above a drill-down's stations
    }
    (gd._fullData || []).forEach(function(trace) {  // the dots' outline; by name: a picture's figure loses its uids
        if (["SMALL_REGIONS", "MAP_NOTES"].indexOf(trace.name) < 0) { return; }
        var dot = "plotly-trace-layer-" + trace.uid + "-circle";
        if (map.getLayer(dot) && map.getPaintProperty(dot, "circle-stroke-width") !== 1.5) {
            map.setPaintProperty(dot, "circle-stroke-color", "TEXT_COLOUR");
            map.setPaintProperty(dot, "circle-stroke-width", 1.5);
        }
    });
}"""

LABELS_META = "obsmap_names"  # where the figure carries the names for LABEL_STYLE_JS
LABEL_STYLE_JS = (
    LABEL_STYLE_JS.replace("SMALL_REGIONS", SMALL_REGIONS)
    .replace("MAP_NOTES", MAP_NOTES)
    .replace("LABELS_META", LABELS_META)
    .replace("MAP_FONT", MAP_FONT)
    .replace("LABEL_SIZE", str(LABEL_SIZE))
    .replace("MUTED_COLOUR", theme.MUTED)
    .replace("TEXT_COLOUR", theme.TEXT)
)


def map_style(font_url: str = FONT_URL) -> dict[str, Any]:
    """The map's MapLibre style: a white background, no tiles, and the labels' font from ``font_url``. (An empty source
    keeps plotly from dropping the ``sources`` object, which MapLibre requires.)"""
    return {
        "version": 8,
        "sources": {"none": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
        "layers": [{"id": "white-bg", "type": "background", "paint": {"background-color": "#ffffff"}}],
        "font-faces": {MAP_FONT: font_url},
    }


@lru_cache(maxsize=1)
def font_data_url() -> str:
    """The labels' font inline, for pictures (kaleido's page has no app to fetch it from); read once."""
    return "data:font/woff2;base64," + base64.b64encode(FONT_FILE.read_bytes()).decode("ascii")


_labels = IdentityLru(8)  # a mission's geometry -> where its names go


def label_points(geojson: dict[str, Any]) -> dict[str, tuple[float, float, bool]]:
    """Per region code: (lon, lat) of its label, and whether it is small (see SMALL_AREA_SHARE).

    The label goes to the centre of the largest circle inside the region (its widest part: a name at the centroid of
    a crescent would sit outside it); with very many regions, a point on each region's surface (much faster)."""

    def compute() -> dict[str, tuple[float, float, bool]]:
        codes, geoms = [], []
        for feature in geojson.get("features", []):
            if feature.get("geometry"):
                codes.append(str(feature["id"]))
                geoms.append(shape(feature["geometry"]))
        if not geoms:
            return {}
        geoms_a = np.array(geoms, dtype=object)
        areas = shapely.area(geoms_a)
        total = float(areas.sum()) or 1.0
        if len(geoms) <= 500:
            points = []
            for g in geoms:
                part = max(getattr(g, "geoms", [g]), key=lambda p: p.area)  # the largest part of a multipolygon
                west, south, east, north = part.bounds
                try:
                    points.append(shapely.get_point(shapely.maximum_inscribed_circle(part, max(east - west, north - south) / 200), 0))
                except shapely.errors.GEOSException:  # an invalid shape gets a point on it rather than no name
                    points.append(shapely.point_on_surface(part))
            points_a = np.array(points, dtype=object)
        else:
            points_a = shapely.point_on_surface(geoms_a)
        small = areas / total < SMALL_AREA_SHARE
        if small.sum() > SMALL_REGIONS_MAX:
            small[:] = False
        xs, ys = shapely.get_x(points_a), shapely.get_y(points_a)
        return {c: (round(float(x), 4), round(float(y), 4), bool(f)) for c, x, y, f in zip(codes, xs, ys, small, strict=True)}

    return _labels.get(geojson, "labels", compute)


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure in obsmap's template from plain dicts, not checked by plotly property by property: those checks
    took 5-7 ms a figure, a third of a filter change at 1,000,000 forms. Every figure the page and the exports
    show is checked against plotly's schema by the tests instead (tests/dashboard/test_figures_valid.py)."""
    # The language's decimal mark and thousands separator for every number plotly writes (axes, colour bars, hovers).
    return go.Figure(
        {"data": data, "layout": {"template": theme.TEMPLATE_JSON, "separators": plotly_separators(), **layout}}, _validate=False
    )


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
            z.append(theme.NOT_SELECTED_Z)
            text.append(_("Not in the selected regions"))
        elif value is None or math.isnan(value):
            z.append(theme.NO_DATA_Z)
            text.append(hover)
        elif too_few:
            z.append(theme.TOO_FEW_Z)
            too_few = _("Too few observations to colour (fewer than {min_n})").format(min_n=number(legend.min_n or 0))
            text.append(f"{too_few}<br>{hover}")
        else:
            z.append(theme.value_to_z(float(value), legend.breaks))
            text.append(hover)
    return {
        "z": z,
        # One hover line per region; the names are the trace's text (make_region_map), sent once, not with each view.
        "customdata": text,
        "colorbar.title.text": legend.title,
        "colorbar.ticktext": theme.class_labels(legend.breaks, legend.min_n),
        "colorscale": theme.class_colorscale(legend.key),
        "metric": legend.key,
    }


def small_region_values(values: dict[str, Any], codes: list[str], small: list[str], metric: str) -> dict[str, Any]:
    """The small regions' dots (``small``, codes among ``codes``, the order of ``values``): each in its region's colour,
    with its region's hover."""
    where = {code: i for i, code in enumerate(codes)}
    rows = [where[c] for c in small]
    return {
        "marker.color": [theme.z_colour(values["z"][i], metric) for i in rows],
        "customdata": [values["customdata"][i] for i in rows],
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
            worst_said = plotly_text(_("Worst assessment: {level}").format(level=LEVEL_LABELS[cls]))
            out[name]["hovertemplate"] = STATION_BRIEF_HOVER.format(worst=worst_said) if brief else STATION_HOVER
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
    font_url: str = FONT_URL,
    notes: list[dict[str, Any]] | None = None,
) -> go.Figure:
    """Choropleth on a MapLibre map with a white background (renders with no network), plus drill-down layers.

    "Regions" colours every region (``names``' order, which is ``values``' order); "District borders"
    outlines districts; "Not observed" and "Observed: <class>" are registry and observed stations, empty
    until a region is drilled into.
    All geometry is sent with this figure, or named by ``urls`` (``regions``, ``districts``, ``labels``: where the
    browser fetches it, once); filter changes patch values only. Traces are named :data:`MAP_TRACES`; patches find
    them by name. "Small regions" are dots, in their regions' colours, for regions too small to see at country zoom;
    "Map notes" marks places on the map that are not regions of the mission (``notes``, from mission.json's
    ``map_notes``: a hole in the boundaries, such as Baikonur). Every name (regions, small regions, notes; placed by
    :func:`label_points`; :func:`map_labels`) is in the layout's ``meta``, or the URL of a file of them, and is drawn by
    the page's script as a MapLibre layer of its own (:data:`LABEL_STYLE_JS`), which a filter change leaves alone.
    """
    urls = urls or {}
    edges = theme.class_edges()
    shown = _escaped_names(names)  # region names come from the boundary file: escaped before they meet the hover's HTML
    regions = go.Choroplethmap(
        geojson=urls.get("regions", geojson),
        locations=list(names),
        z=values["z"],
        text=[shown.get(code) or plotly_text(code) for code in names],
        customdata=values["customdata"],
        hovertemplate=MAP_HOVER,
        colorscale=values.get("colorscale") or theme.class_colorscale(),
        showscale=values.get("showscale", True),
        zmin=theme.BOTTOM,
        zmax=theme.TOP,
        marker=dict(line=dict(color=theme.BORDER, width=0.8), opacity=1),
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
            outlinecolor=theme.BORDER,
            outlinewidth=1,
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
    codes = list(names)
    places = label_points(geojson) if isinstance(geojson, dict) else {}
    small = [c for c in codes if c in places and places[c][2]]
    dots = small_region_values(values, codes, small, values.get("metric", "negative"))
    traces.append(
        go.Scattermap(
            lon=[places[c][0] for c in small], lat=[places[c][1] for c in small], mode="markers",
            text=[shown.get(c, c) for c in small], textposition="middle right", textfont=dict(size=LABEL_SIZE, color=theme.TEXT),
            marker=dict(size=13, color=dots["marker.color"]), customdata=dots["customdata"], hovertemplate=MAP_HOVER,
            name=SMALL_REGIONS, uid="small-regions", showlegend=False,
        )
    )  # fmt: skip
    traces.append(
        go.Scattermap(
            lat=[], lon=[], mode="markers", marker=dict(size=5, color=theme.UNOBSERVED, opacity=0.45),
            customdata=[], hovertemplate="<b>%{customdata}</b><br>" + plotly_text(_("Not observed")) + "<extra></extra>",
            name=shown_trace_name(UNOBSERVED), visible=False,
        )
    )  # fmt: skip
    for name, cls in zip(STATIONS, STATION_CLASSES, strict=True):
        traces.append(
            go.Scattermap(
                lat=[], lon=[], mode="markers", marker=dict(size=10, color=theme.STATION_COLOURS[cls], opacity=0.95),
                customdata=[], hovertemplate=STATION_HOVER, name=shown_trace_name(name), visible=False,
            )
        )  # fmt: skip
    notes = notes or []
    traces.append(
        go.Scattermap(
            lon=[n["lon"] for n in notes], lat=[n["lat"] for n in notes], mode="markers", textposition="bottom center",
            text=[plotly_text(n["name"]) for n in notes], customdata=[plotly_text(n["note"]) for n in notes],
            textfont=dict(size=LABEL_SIZE - 1, color=theme.MUTED), marker=dict(size=7, color=theme.MUTED),
            hovertemplate="<b>%{text}</b><br>%{customdata}<extra></extra>", name=MAP_NOTES, uid="map-notes", showlegend=False,
        )
    )  # fmt: skip
    fig = go.Figure(traces)
    if tuple(t.name for t in fig.data) != tuple(shown_trace_name(n) for n in MAP_TRACES):  # patches find traces by place
        raise RuntimeError(f"map traces {[t.name for t in fig.data]} differ from MAP_TRACES")
    # The names are a layer the page's script adds to MapLibre itself (LABEL_STYLE_JS), from the figure's meta: plotly
    # lays out again every trace and every layer of its own on each restyle, and names drawn by plotly made a click
    # 550-700 ms in chromium instead of 220. Theirs is a data-driven layer: anchor and offset per name.
    # The page's map names a file of them (``urls["labels"]``, fetched once): dcc.Graph copies the figure's layout
    # on every redraw, and 4,556 names inlined there cost 0.6 s of every click. A picture carries them inline.
    fig.update_layout(
        template="obsmap",
        map=dict(style=map_style(font_url), **view),
        meta={LABELS_META: urls.get("labels") or map_labels(geojson, names, notes)},
        uirevision="country",
        margin=dict(l=0, r=0, t=0, b=0),
        height=height,  # None: the page's CSS sizes the map and plotly fills it
        separators=plotly_separators(),
        legend=dict(
            title=dict(text=_("Stations (worst visit)")), x=0.01, y=0.01, xanchor="left", yanchor="bottom",
            bgcolor="rgba(255,255,255,0.9)", font=dict(size=13),
        ),
    )  # fmt: skip
    return fig


def map_labels(geojson: dict[str, Any], names: dict[str, str], notes: list[dict[str, Any]] | None, escaped: bool = True) -> dict[str, Any]:
    """Every name on the map as a GeoJSON FeatureCollection for :data:`LABEL_STYLE_JS`: regions at their label point
    (:func:`label_points`), small regions beside their dot, the mission's map notes above theirs.

    ``escaped``: inside a figure, names are escaped like every string of it (plotly could show meta in a template)
    and the script decodes them for MapLibre; in a file of their own (``/geometry/.../labels-<lang>.json``) they are
    plain text, as MapLibre draws it (it reads no HTML)."""
    places = label_points(geojson) if isinstance(geojson, dict) else {}
    text = plotly_text if escaped else str
    shown = _escaped_names(names) if escaped else names
    named = [c for c in names if c in places]
    return {
        "type": "FeatureCollection",
        "features": [
            *[_label(places[c][0], places[c][1], shown.get(c, c), "center") for c in named if not places[c][2]],
            *[_label(places[c][0], places[c][1], shown.get(c, c), "left") for c in named if places[c][2]],
            *[_label(n["lon"], n["lat"], text(n["name"]), "bottom", note=True) for n in notes or []],
        ],
    }


def _label(lon: float, lat: float, text: str, anchor: str, note: bool = False) -> dict[str, Any]:
    """One name on the map, as a GeoJSON point: its text (plain: MapLibre draws letters, it reads no HTML), where it
    stands from its point (``center``; ``left``: beside a dot; ``bottom``: above a note's dot) and whether it is a note."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": text, "anchor": anchor, "note": note},
    }


def _interval(row: Any, few: bool) -> str:
    return interval_text(row.negative, row.assessed) + (" · " + _("too few") if few else "")


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
    share_range = [0, timeline_share_top([v for v in share if v is not None])]
    # The line joins only hours with at least min_n assessed forms; a thin hour is a hollow point of its own
    # (the "too few" trace), and the line breaks there rather than drawing a trend through it.
    solid = [None if f else v for v, f in zip(share, few, strict=True)]
    bars = {
        "type": "bar", "x": labels, "y": [None if h else int(n) for n, h in zip(t["n"], hidden, strict=True)], "name": _("Forms"),
        "marker": {"color": theme.BAR}, "opacity": 0.55,
        "customdata": [forms_count(int(n)) for n in t["n"]],  # "1 form", "2 forms": Russian has three forms of the noun
        "hovertemplate": "%{x}: %{customdata}<extra></extra>",
    }  # fmt: skip
    customdata = [
        [0, 0, _("too few"), ""]
        if private and f
        else [number(int(r.negative)), number(int(r.assessed)), percent(r.negative, r.assessed), _interval(r, f)]
        for r, f in zip(t.itertuples(), few, strict=True)
    ]
    said = _("{time}: {percent} bad or very bad ({part} of {whole} assessed; {interval})")
    hover = said.format(
        time="%{x}", percent="%{customdata[2]}", part="%{customdata[0]}", whole="%{customdata[1]}", interval="%{customdata[3]}"
    )
    hover += "<extra></extra>"
    share_name = _("% bad or very bad")
    thin_name = plural(min_n, "% bad or very bad, fewer than {n} assessed", "% bad or very bad, fewer than {n} assessed")
    line = {
        "type": "scatter", "x": labels, "y": solid, "name": share_name, "yaxis": "y2", "mode": "lines+markers",
        "connectgaps": False,
        "line": {"color": theme.CLASS_COLOURS[-1], "width": 3},
        "marker": {"size": 7, "color": theme.CLASS_COLOURS[-1]},
        "customdata": customdata, "hovertemplate": hover,
    }  # fmt: skip
    thin = [v if f else None for v, f in zip(share, few, strict=True)]
    points = {
        "type": "scatter", "x": labels, "y": thin, "name": thin_name, "yaxis": "y2",
        "mode": "markers", "marker": {"size": 9, "color": "white", "line": {"color": theme.TOO_FEW, "width": 2}},
        "customdata": customdata, "hovertemplate": hover, "showlegend": any(v is not None for v in thin),
    }  # fmt: skip
    layout = {
        "height": 340,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "yaxis": {"title": {"text": _("Forms"), "standoff": 8}, "rangemode": "tozero", "gridcolor": "#e4e7eb", "automargin": True},
        "yaxis2": {
            "title": {"text": _("Bad or very bad"), "standoff": 8},
            "overlaying": "y",
            "side": "right",
            "range": share_range,
            "tickmode": "linear",
            "tick0": 0,
            "dtick": 5 if share_range[1] <= 30 else (10 if share_range[1] <= 60 else 20),  # the top is a tick
            "ticksuffix": percent_text(""),  # " %"; Russian with a no-break space
            "showgrid": False,
            "automargin": True,
        },
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "font": {"size": 14}},
        "xaxis": {"type": "category", "tickangle": 0, "nticks": 8, "automargin": True},
        "bargap": 0.15,
    }
    return figure([bars, line, points], layout)


def timeline_share_top(shares: list[float]) -> int:
    """The top of the timeline's share axis (which starts at 0), in per cent, for the hourly ``shares`` drawn.

    At least 25 %, and otherwise the next 10 % step at or above 1.5 times the largest share drawn (at most 100 %).
    The floor keeps small hour-to-hour changes small on the chart: on a 0-10 % axis a wobble between 2 % and 6 %
    fills half the plot and reads as a swing; on 0-25 % it is a sixth of it, while a real rise (to 20 %, say) still
    spans most of the height. The 1.5x headroom keeps the highest point well below the top edge.

    >>> timeline_share_top([2, 6]), timeline_share_top([20]), timeline_share_top([45]), timeline_share_top([80]), timeline_share_top([])
    (25, 30, 70, 100, 25)
    """
    top = max(shares, default=0.0)
    return int(min(100, max(25, 10 * math.ceil(round(1.5 * top, 6) / 10))))


def _of(part: int, whole: int) -> str:
    """ "12 of 230" (a bar's count under its label)."""
    return _("{part} of {whole}").format(part=number(part), whole=number(whole))


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
        f"{r.label}<br><span style='color:{theme.MUTED}'>{_('too few') if h else _of(r.yes, r.answered)}</span>"
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
            _("too few") if h else percent(r.yes, r.answered) + (" (" + _("too few") + ")" if f else "")
            for r, f, h in zip(shown.itertuples(), few, hide, strict=True)
        ],
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": [
            [_("too few"), plural(min_n, "fewer than {n} answers", "fewer than {n} answers"), r.Index]
            if h
            else [percent(r.yes, r.answered), interval_text(r.yes, r.answered), r.Index]
            for r, h in zip(shown.itertuples(), hide, strict=True)
        ],
        "hovertemplate": "%{y}<br>"
        + _("{percent} of the forms that answered the question ({interval})").format(
            percent="%{customdata[0]}", interval="%{customdata[1]}"
        )
        + "<extra></extra>",
    }
    top = float(100 * shown["share"].max()) if len(shown) else 10.0
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": _("% of forms that answered")}, "range": [0, max(10.0, top * 1.35)], "ticksuffix": percent_text(""),
                  "gridcolor": "#e4e7eb", "nticks": 5},
        "yaxis": {"automargin": True},
        "height": max(240, 54 * len(shown) + 80),
        "margin": {"l": 10, "r": 40, "t": 10, "b": 60},
        "bargap": 0.3,
    }  # fmt: skip
    if shown.empty:
        layout["annotations"] = [
            {"text": _("No forms for this selection"), "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
        ]
    return figure([bars], layout)
