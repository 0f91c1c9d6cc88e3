"""What each part of the page shows for a view: Dash children, figures and the map's ``Patch``.

Every function takes the mission, the view's :class:`~dashboard.selection.Selection` (its forms,
filtered once) and the :class:`~dashboard.filters.Filters`; none reads files or keeps state. The
numbers come from :mod:`dashboard.metrics` and :mod:`dashboard.analysis`, the words from
:mod:`dashboard.text`, the figures from :mod:`dashboard.figures`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import Patch, dcc, html

from dashboard import text, theme
from dashboard.analysis import filter_stations, percent, problem_rates, station_visits, tally_by_hour, tally_by_phase
from dashboard.figures import (
    DISTRICTS,
    LEGEND_PX,
    MAP_HEIGHT,
    REGIONS,
    SMALL_REGIONS,
    STATIONS,
    UNOBSERVED,
    label_points,
    make_problem_chart,
    make_region_map,
    make_timeline,
    map_view,
    region_map_values,
    small_region_values,
    station_values,
    trace_index,
)
from dashboard.filters import DEFAULT_MIN_N, HOURS_RANGE, Filters, Known
from dashboard.metrics import MetricTable, metric_table
from dashboard.selection import Selection, select
from geo.i18n import _, number
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS

DEFAULT_MAP_SIZE = (820, MAP_HEIGHT)  # until the browser has measured the map's element
# A station layer with this many points is drawn in clusters (MapLibre's, in the browser) below CLUSTER_MAXZOOM: at a
# region's zoom, tens of thousands of markers cover one another and take seconds to draw; a few thousand do not.
CLUSTER_FROM, CLUSTER_MAXZOOM = 5_000, 10


def known_values(mission: MissionDataset, min_n: int = DEFAULT_MIN_N) -> Known:
    """What a view of this mission may name: its regions, organisations and teams."""
    forms = mission.forms
    return Known(
        regions=frozenset(mission.region_codes),
        orgs=frozenset(forms["observer_org"].dropna().unique()),
        teams=frozenset(forms["team_id"].dropna().unique()),
        min_n=min_n,
    )


# ---------------------------------------------------------------------------------------- the map
def regions_key(mission: MissionDataset) -> str:
    """A short name of the regions a mission's map draws, in their order (the order its values are patched in): a
    page whose map drew other regions (a new import changed them) must load again, not be patched."""
    return hashlib.sha1("\n".join(mission.region_codes).encode("utf-8")).hexdigest()[:12]


def region_values(mission: MissionDataset, metric: MetricTable, filters: Filters, private: bool = False) -> dict[str, Any]:
    """The map's per-region values (z, hover, legend) for ``filters``; ``private``: no count behind fewer than ``min_n`` forms."""
    if private:  # every metric: a region behind fewer than min_n forms is "too few", its value not even in the colour
        table = metric.table
        table = table.assign(too_few=table["too_few"] | ((table["n"] > 0) & (table["n"] < filters.min_n)))
        metric = replace(metric, table=table, legend=replace(metric.legend, min_n=filters.min_n))
    hovers = text.region_hovers(metric, filters.form_type, private)
    values = region_map_values(metric.table, mission.region_names, metric.legend, hovers, selected=filters.regions)
    # Drilled into a region, the map shows its stations: the regions under them are one flat grey, not a faded class
    # colour that matches no swatch and muddies the stations' colours; the colour bar goes, the hovers keep the figures.
    values["showscale"] = not filters.drill
    if filters.drill:  # the drilled region white, the others light grey around it
        values["z"] = [theme.NO_DATA_Z if code == filters.drill else theme.NOT_SELECTED_Z for code in mission.region_codes]
    return values


def small_regions(mission: MissionDataset) -> list[str]:
    """The regions the map draws as dots (too small to see at country zoom), in the mission's order."""
    places = label_points(mission.geojson)
    return [code for code in mission.region_codes if code in places and places[code][2]]


def initial_map(mission: MissionDataset, filters: Filters, private: bool = False, urls: dict[str, str] | None = None) -> go.Figure:
    """The full map, with the page; CSS sizes it. Its geometry (regions and districts) is inlined, or, with ``urls``
    (layer -> URL), read by the browser from there, once, and kept in its cache."""
    metric = metric_table(mission, select(mission, filters), filters)
    view = view_of(mission, filters.drill, DEFAULT_MAP_SIZE)
    values = region_values(mission, metric, filters, private)
    return make_region_map(
        mission.geojson, mission.region_names, values, view, mission.districts, height=None, urls=urls, notes=mission.map_notes
    )


def drill_layers(
    mission: MissionDataset, selection: Selection, filters: Filters, brief_from: int | None = None
) -> dict[str, dict[str, Any]]:
    """Station and district layers (by trace name) for the drilled region; empty and hidden at country level.
    ``brief_from``: see :func:`dashboard.figures.station_values` (the page's map passes :data:`CLUSTER_FROM`)."""
    empty = {"lat": [], "lon": [], "customdata": []}
    if not filters.drill:
        layers: dict[str, dict[str, Any]] = {name: {**empty, "visible": False} for name in (UNOBSERVED, *STATIONS)}
        layers[DISTRICTS] = {"locations": [], "z": [], "visible": False}
        return layers
    visits = station_visits(selection.phase_forms)
    visits = visits[visits["latitude"].notna() & visits["longitude"].notna()]
    unobserved = pd.DataFrame(columns=["ps_id", "latitude", "longitude"])
    if mission.stations is not None:
        # "Not observed" means no visit at all in this phase and selection, whatever its assessment or
        # problems: a station visited but filtered out by assessment or problem is simply not drawn.
        observed = selection.present.stations_seen()
        registry = filter_stations(mission.stations, filters)
        unobserved = registry[~registry["ps_id"].isin(observed) & registry["latitude"].notna()]
    layers = {name: {**values, "visible": True} for name, values in station_values(visits, unobserved, brief_from).items()}
    districts = [f["id"] for f in (mission.districts or {}).get("features", []) if f["properties"].get("parent") == filters.drill]
    layers[DISTRICTS] = {"locations": districts, "z": [0] * len(districts), "visible": bool(districts)}
    return layers


def view_of(mission: MissionDataset, drill: str | None, size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Centre and zoom that fit the country, or the drilled region, into a map of ``size`` (width, height) px."""
    width, height = size or DEFAULT_MAP_SIZE
    # A region too small to draw in the web copy has no bounds: show the country rather than fail.
    return map_view(mission.bounds.get(drill or "*", mission.bounds["*"]), width_px=width, height_px=height)


def map_patch(
    mission: MissionDataset, selection: Selection, filters: Filters, private: bool = False, layers: bool = True
) -> tuple[Patch, str, list, list[str]]:
    """Map values as a Patch (the geometry stays in the browser), its title, caption and notices.

    Centre and zoom are not in it: the browser fits them to the map's measured size (see :func:`map_fit`).
    ``private`` (aggregates-only accounts): no count behind fewer than ``min_n`` forms. ``layers=False``
    leaves the drill-down's layers out: at country level, on a map whose layers are already empty and hidden,
    resending them would only make the browser redraw six traces instead of one.
    """
    metric = metric_table(mission, selection, filters)
    values = region_values(mission, metric, filters, private)
    patch = Patch()
    regions = patch["data"][trace_index(REGIONS)]
    regions["z"] = values["z"]
    regions["customdata"] = values["customdata"]
    regions["colorbar"]["title"]["text"] = values["colorbar.title.text"]
    regions["colorbar"]["ticktext"] = values["colorbar.ticktext"]
    regions["colorscale"] = values["colorscale"]
    regions["showscale"] = values["showscale"]
    small = small_regions(mission)
    if small:
        dots = small_region_values(values, list(mission.region_codes), small, values["metric"])
        patch["data"][trace_index(SMALL_REGIONS)]["marker"]["color"] = dots["marker.color"]
        patch["data"][trace_index(SMALL_REGIONS)]["customdata"] = dots["customdata"]
    for name, layer in (drill_layers(mission, selection, filters, CLUSTER_FROM) if layers or filters.drill else {}).items():
        if name != DISTRICTS:  # thousands of stations of one class are drawn in clusters until one zooms in
            layer = {**layer, "cluster": {"enabled": len(layer["lat"]) >= CLUSTER_FROM, "maxzoom": CLUSTER_MAXZOOM}}
        for key, value in layer.items():
            patch["data"][trace_index(name)][key] = value
    briefing = filters.mode == "briefing"
    regions["colorbar"]["tickfont"]["size"] = 18 if briefing else 14
    regions["colorbar"]["len"] = 0.95 if briefing else 0.7
    regions["colorbar"]["title"]["font"]["size"] = 19 if briefing else 15
    caption: list = [text.map_caption(mission, metric, filters, private)]
    if mission.meta.get("synthetic"):
        caption += [" ", html.Strong(_("Synthetic demo forms."))]
    return patch, text.map_title(mission, metric, filters), caption, list(metric.notices)


def map_fit(mission: MissionDataset, filters: Filters) -> dict[str, Any]:
    """What the browser fits the map to: the area's bounds (the country or the drilled region) and a key
    that changes with the area and the mode, so a refit happens then and only then."""
    bounds = mission.bounds.get(filters.drill or "*", mission.bounds["*"])
    return {"bounds": list(bounds), "key": f"{filters.drill or 'country'}-{filters.mode}", "legend_px": LEGEND_PX}


# ------------------------------------------------------------------------------------ the findings
def headlines(mission: MissionDataset, selection: Selection, filters: Filters, as_fraction: bool = False, private: bool = False) -> list:
    """One block per phase: the share, the statement sentence (with a copy button), its N and interval.

    ``private`` (aggregates-only accounts): a phase with fewer than ``min_n`` assessed forms shows no share and no count.
    """
    # TRANSLATORS: the line over the headlines; {selection} is the filters in words, shown in bold
    before, _sep, after = _("For {selection}").partition("{selection}")
    chosen = [before, html.Strong(filters.describe(mission.region_names)), after]
    blocks: list = [html.Div([c for c in chosen if c != ""], className="obs-selection")]
    for ft, t in tally_by_phase(selection.all_phases).items():
        few = 0 < t["assessed"] < filters.min_n
        share = _("too few") if few and private else percent(t["negative"], t["assessed"])
        blocks.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(PHASE_LABELS[ft], className="obs-phase"),
                            html.Span(share, className="obs-pct" + (" obs-pct-few" if few else "")),
                        ],
                        className="obs-headline-top",
                    ),
                    html.Div(
                        [
                            html.P(text.statement_for(ft, t, filters, as_fraction, private), className="obs-sentence", id=f"sentence-{ft}"),
                            dcc.Clipboard(target_id=f"sentence-{ft}", title=_("Copy this sentence"), className="obs-copy"),
                        ],
                        className="obs-sentence-row",
                    ),
                    html.Div(text.n_line(t, filters.min_n if private else None), className="obs-n"),
                    html.Div(
                        _("Too few observations (fewer than {min_n}): read with care.").format(min_n=number(filters.min_n)),
                        className="obs-few",
                    )
                    if few
                    else None,
                ],
                className="obs-headline" + (" obs-headline-active" if ft == filters.form_type else ""),
                id=f"headline-{ft}",
            )
        )
    blocks.append(html.Div(_(text.NOT_A_SAMPLE), className="obs-caveat"))
    return blocks


def n_shown(mission: MissionDataset, selection: Selection, filters: Filters, private: bool = False) -> list:
    """The N line over the page: the phase's forms shown, all phases' forms and teams, the selection.

    ``private`` (aggregates-only accounts): fewer than ``min_n`` forms are not counted out.
    """
    here, every = selection.phase, selection.all_phases
    teams = every.teams()
    if private and (0 < len(here) < filters.min_n or 0 < len(every) < filters.min_n):
        return [
            html.Strong(text.fewer_phase_forms(filters.min_n, filters.form_type), id="n-phase-forms"),
            _(" shown · {selection}").format(selection=filters.describe(mission.region_names)),
        ]
    if not len(here):  # said of the filters, not of the election
        said = text.no_phase_forms(filters.form_type).rstrip(".")
        others = text.plural(len(every), " ({n} form of other phases)", " ({n} forms of other phases)") if len(every) else ""
        return [html.Strong(said, id="n-phase-forms", **{"data-n": 0}), f"{others} · {filters.describe(mission.region_names)}"]
    every_phase = text.plural(len(every), "{n} form of all phases", "{n} forms of all phases")
    return [
        html.Strong(text.phase_forms(len(here), filters.form_type), id="n-phase-forms", **{"data-n": len(here)}),
        _(" shown ({every_phase}, {teams}) · {selection}").format(
            every_phase=every_phase,
            teams=text.plural(teams, "from {n} team", "from {n} teams"),
            selection=filters.describe(mission.region_names),
        ),
    ]


def problems(selection: Selection, filters: Filters, private: bool = False) -> tuple[go.Figure, str]:
    """Problem rates among the filtered forms (before the problem filter, or the chosen bar would read 100 %).

    ``private`` (aggregates-only accounts): no bar, share or count behind fewer than ``min_n`` answers.
    """
    forms = selection.phase_any_problem
    chart = make_problem_chart(problem_rates(forms), selected=filters.problem, min_n=filters.min_n, private=private)
    return chart, text.problems_title(filters, len(forms), private)


# The hours the timeline may draw, since election-day midnight: the day and the next (a long count). The bars
# are the data's own span within these, so no figure grows with the span of the times; forms timed
# outside them (an import sets such forms aside; a hand-made folder may hold them) are counted in a note.
# Not before midnight: the hour labels name no previous day.
TIMELINE_HOURS = (0, 48)


def timeline(selection: Selection, filters: Filters, private: bool = False) -> go.Figure:
    """Forms per hour and the share bad or very bad per hour, over the hours chosen or the data's own span
    within :data:`TIMELINE_HOURS` (at most 48 bars, whatever the times)."""
    lo, hi = TIMELINE_HOURS
    table = tally_by_hour(selection.phase)
    inside = table[(table.index >= lo) & (table.index < hi)]
    if filters.hours:
        start, end = filters.hours
    elif len(inside):
        start, end = int(inside.index.min()), int(inside.index.max()) + 1  # the data's own span, even past 30 h
    else:
        start, end = HOURS_RANGE
    fig = make_timeline(inside, range(start, end), min_n=filters.min_n, private=private)
    left_out = int(table["n"].sum() - inside["n"].sum())
    if left_out and not (private and left_out < filters.min_n):
        fig.add_annotation(
            text=text.plural(
                left_out,
                "{n} form timed before election-day midnight or 48 hours after it is not drawn.",
                "{n} forms timed before election-day midnight or 48 hours after it are not drawn.",
            ),
            xref="paper", yref="paper", x=0, y=-0.12, xanchor="left", yanchor="top", showarrow=False, font=dict(size=12),
        )  # fmt: skip
        fig.update_layout(margin=dict(b=60))
    return fig
