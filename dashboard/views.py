"""What each part of the page shows for a view. Called by the callbacks, and by tests.

Every function takes the mission and the view (the filter store's JSON, or ``Filters``) and returns
plain Dash children, figures, a ``Patch``, rows or text; none reads files or keeps state.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import Patch, dcc, html

from dashboard import theme
from dashboard.analysis import (
    DEFAULT_MIN_N,
    HOURS_RANGE,
    Filters,
    coverage_by_region,
    filter_forms,
    filter_stations,
    interval_percent,
    interval_text,
    negative_share_by_region,
    percent,
    problem_rates,
    problem_share_by_region,
    reported_problems,
    statement_sentence,
    station_visits,
    tally_by_hour,
    tally_by_phase,
    whole_percent,
)
from dashboard.figures import (
    DISTRICTS,
    FIRST_STATION_TRACE,
    MAP_HEIGHT,
    REGIONS,
    STATION_CLASSES,
    UNOBSERVED,
    MetricView,
    make_problem_chart,
    make_region_map,
    make_timeline,
    map_view,
    region_map_values,
    station_values,
)
from dashboard.urlstate import Known
from geo.mission import MissionDataset
from geo.schema import FORM_COLUMNS, PHASE_CHECKLIST, PHASE_LABELS, PHASE_WORDING, PROBLEMS

BRIEFING_MAP_HEIGHT = 470  # fits a 1280x720 screen share under the title, with its caption
STATION_TRACES = (UNOBSERVED, *range(FIRST_STATION_TRACE, FIRST_STATION_TRACE + len(STATION_CLASSES)))


def known_values(mission: MissionDataset, min_n: int = DEFAULT_MIN_N) -> Known:
    forms = mission.forms
    return Known(
        regions=frozenset(mission.regions["code"]),
        orgs=frozenset(forms["observer_org"].dropna().unique()),
        teams=frozenset(forms["team_id"].dropna().unique()),
        min_n=min_n,
    )


def parse_filters(mission: MissionDataset, data: dict[str, Any] | None) -> Filters:
    return Filters.from_dict(data, known_regions=set(mission.regions["code"]))


# ---------------------------------------------------------------------------------------- the map
def _forms(n: int) -> str:
    return f"{n:,} form" + ("" if n == 1 else "s")


def presence_filters(filters: Filters) -> Filters:
    """The filters that decide whether a station was observed at all (not how it was assessed)."""
    return replace(filters, overall=(), problem=None)


def _shown_percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """The whole percentage people read in the hover, so a region's colour class always agrees with it."""
    values = [whole_percent(int(p), int(w)) for p, w in zip(part, whole, strict=True)]
    return pd.Series([math.nan if v is None else float(v) for v in values], index=part.index)


def chosen_problem(mission: MissionDataset, filters: Filters) -> str:
    """The problem the "problem" metric maps: the chosen one, else the most reported in this phase."""
    if filters.problem:
        return filters.problem
    rates = problem_rates(filter_forms(mission.forms, filters, by_problem=False))
    asked = rates[rates["answered"] > 0]
    return str(asked["yes"].idxmax()) if len(asked) and asked["yes"].max() > 0 else PHASE_CHECKLIST[filters.form_type][0]


def metric_table(mission: MissionDataset, filters: Filters) -> tuple[pd.DataFrame, MetricView, Any, str, list[str]]:
    """Per region ``value`` for the chosen metric, the legend, a hover writer, the title and notices."""
    codes = list(mission.regions["code"])
    phase = PHASE_LABELS[filters.form_type]
    observed = PHASE_WORDING[filters.form_type][1]
    notices: list[str] = []
    metric = filters.metric
    if metric == "coverage" and mission.stations is None:
        notices.append("Coverage needs a polling-station registry, and this mission has none: showing the share bad or very bad.")
        metric = "negative"

    if metric == "problem":
        problem = chosen_problem(mission, filters)
        label = PROBLEMS[problem]
        t = problem_share_by_region(filter_forms(mission.forms, filters, by_problem=False), problem, codes)
        t["value"] = _shown_percent(t["part"], t["whole"])
        t["too_few"] = t["whole"] < filters.min_n

        def describe(r) -> str:
            if not r.whole:
                return f"No form answered “{label}”"
            return (
                f"{percent(r.part, r.whole)} reported {label.lower()} ({interval_text(r.part, r.whole)})"
                f"<br>{r.part} of {r.whole} forms that answered the question"
            )

        view = MetricView("problem", f"Reported {label.lower()}, % of forms that answered", theme.BREAKS, filters.min_n)
        return t, view, describe, f"{phase}: share of forms reporting {label.lower()}, by region", notices

    if metric == "coverage":
        forms = filter_forms(mission.forms, presence_filters(filters))
        t = coverage_by_region(forms, filter_stations(mission.stations, filters), codes)
        t["value"] = _shown_percent(t["part"], t["whole"])
        t["too_few"] = False  # a count of the registry, not a sample

        def describe(r) -> str:
            if not r.whole:
                return "No registered station matches this selection"
            return f"{percent(r.part, r.whole)} of registered stations observed<br>{r.part} of {r.whole} stations ({r.n} forms)"

        view = MetricView("coverage", "Stations observed, % of registered stations", theme.BREAKS)
        return t, view, describe, f"{phase}: coverage, stations observed of stations registered, by region", notices

    if metric == "forms":
        forms = filter_forms(mission.forms, filters)
        t = pd.DataFrame({"n": forms.groupby("region_code").size()}).reindex(codes).fillna(0).astype(int)
        t["value"] = t["n"].astype(float)
        t["too_few"] = False
        # Breaks from the whole phase, unfiltered, so the colours stay put while filtering.
        phase_forms = mission.forms[mission.forms["form_type"] == filters.form_type]
        largest = phase_forms.groupby("region_code").size().max() if len(phase_forms) else 1
        view = MetricView("forms", f"{phase} forms per region", theme.nice_breaks(float(largest)))
        return t, view, lambda r: f"{r.n:,} {phase.lower()} forms", f"{phase}: number of forms, by region", notices

    t = negative_share_by_region(filter_forms(mission.forms, filters), codes)
    t["value"] = _shown_percent(t["negative"], t["assessed"])
    t["too_few"] = t["assessed"] < filters.min_n

    def describe(r) -> str:
        if not r.assessed:
            return "No assessed forms for this selection" + (f"<br>({_forms(r.n)} without assessment)" if r.n else "")
        extra = f"<br>({_forms(r.n - r.assessed)} without assessment)" if r.n > r.assessed else ""
        return (
            f"{percent(r.negative, r.assessed)} bad or very bad ({interval_text(r.negative, r.assessed)})"
            f"<br>{r.negative} of {r.assessed} {observed} with an assessment{extra}"
        )

    view = MetricView("negative", "Assessed bad or very bad, % of forms with an assessment", theme.BREAKS, filters.min_n)
    return t, view, describe, f"{phase}: share of forms assessed bad or very bad, by region", notices


def metric_caption(mission: MissionDataset, filters: Filters, metric: tuple[pd.DataFrame, MetricView] | None = None) -> str:
    """The map's figure over the whole selection, with its N: what a caption under the map says.

    ``metric`` is the (table, legend) of :func:`metric_table` when the caller already has it.
    """
    table, view = metric if metric is not None else metric_table(mission, filters)[:2]
    if filters.regions:
        table = table.loc[[c for c in filters.regions if c in table.index]]
    n = int(table["n"].sum())
    if view.key == "forms":
        return f"N = {n:,} forms"
    if view.key == "problem":
        label = PROBLEMS[chosen_problem(mission, filters)].lower()
        part, whole = int(table["part"].sum()), int(table["whole"].sum())
        what = f"{part:,} of {whole:,} forms that answered reported {label}"
    elif view.key == "coverage":
        part, whole = int(table["part"].sum()), int(table["whole"].sum())
        return f"{part:,} of {whole:,} registered stations observed ({percent(part, whole)}); N = {n:,} forms"
    else:
        part, whole = int(table["negative"].sum()), int(table["assessed"].sum())
        what = f"{part:,} bad or very bad of {whole:,} assessed"
    return f"{what} ({percent(part, whole)}; {interval_text(part, whole)}); N = {n:,} forms"


def region_values(mission: MissionDataset, filters: Filters) -> tuple[dict[str, Any], str, list[str], str]:
    """The map's per-region values (z, hover, legend) for ``filters``, its title, notices and caption figure."""
    table, view, describe, title, notices = metric_table(mission, filters)
    values = region_map_values(table, mission.region_names, view, describe, selected=filters.regions)
    return values, title, notices, metric_caption(mission, filters, (table, view))


def initial_map(mission: MissionDataset, filters: Filters) -> go.Figure:
    """The full map, geometry included (regions and districts): sent once, with the page."""
    values = region_values(mission, filters)[0]
    return make_region_map(mission.geojson, mission.region_names, values, view_of(mission, filters.drill), mission.districts)


def drill_layers(mission: MissionDataset, filters: Filters) -> dict[int, dict[str, Any]]:
    """Station and district layers for the drilled region (empty and hidden at country level)."""
    empty = {"lat": [], "lon": [], "customdata": []}
    if not filters.drill:
        layers = {i: {**empty, "visible": False} for i in STATION_TRACES}
        layers[DISTRICTS] = {"locations": [], "z": [], "visible": False}
        return layers
    visits = station_visits(filter_forms(mission.forms, filters))
    visits = visits[visits["latitude"].notna() & visits["longitude"].notna()]
    unobserved = pd.DataFrame(columns=["ps_id", "latitude", "longitude"])
    if mission.stations is not None:
        # "Not observed" means no visit at all in this phase and selection, whatever its assessment or
        # problems: a station visited but filtered out by assessment or problem is simply not drawn.
        observed = set(filter_forms(mission.forms, presence_filters(filters))["ps_id"].dropna())
        registry = filter_stations(mission.stations, filters)
        unobserved = registry[~registry["ps_id"].isin(observed) & registry["latitude"].notna()]
    layers = {i: {**v, "visible": True} for i, v in station_values(visits, unobserved).items()}
    districts = [f["id"] for f in (mission.districts or {}).get("features", []) if f["properties"].get("parent") == filters.drill]
    layers[DISTRICTS] = {"locations": districts, "z": [0] * len(districts), "visible": bool(districts)}
    return layers


def drill_title(mission: MissionDataset, filters: Filters) -> str:
    return f"{mission.region_names[filters.drill]}: polling stations by worst assessment, {PHASE_LABELS[filters.form_type].lower()}"


def view_of(mission: MissionDataset, drill: str | None, height: int = MAP_HEIGHT, width: int = 820) -> dict[str, Any]:
    """Centre and zoom for the country, or for the drilled region, from bounds computed once per mission."""
    return map_view(mission.bounds[drill or "*"], width_px=width, height_px=height)


def map_size(mode: str, viewport: list[int] | None) -> tuple[int, int]:
    """Width and height (px) the map gets for the browser's window: its column, minus the cards' chrome."""
    vw, vh = (viewport or [1280, 800])[:2]
    if mode == "briefing":
        # 58 % column; the header, the card's title and the caption take about 250 px of the height.
        return max(520, int(0.58 * vw) - 40), max(BRIEFING_MAP_HEIGHT, vh - 250)
    return max(520, int(0.66 * vw) - 60), MAP_HEIGHT


def map_update(
    mission: MissionDataset, data: dict[str, Any] | None, viewport: list[int] | None = None
) -> tuple[Patch, str, list, list[str]]:
    """Map values as a Patch (the geometry stays in the browser), title, caption and notices.

    The map's centre and zoom change only when the drill-down changes (``uirevision`` is the
    drilled region), so an analyst's own panning survives filter changes.
    """
    filters = parse_filters(mission, data)
    values, title, notices, figure_text = region_values(mission, filters)
    patch = Patch()
    trace = patch["data"][REGIONS]
    trace["z"] = values["z"]
    trace["customdata"] = values["customdata"]
    trace["colorbar"]["title"]["text"] = values["colorbar.title.text"]
    trace["colorbar"]["ticktext"] = values["colorbar.ticktext"]
    trace["marker"]["opacity"] = 0.45 if filters.drill else 1
    for index, layer in drill_layers(mission, filters).items():
        for key, value in layer.items():
            patch["data"][index][key] = value
    briefing = filters.mode == "briefing"
    width, height = map_size(filters.mode, viewport)
    view = view_of(mission, filters.drill, height, width)
    patch["layout"]["height"] = height
    patch["layout"]["map"]["center"] = view["center"]
    patch["layout"]["map"]["zoom"] = view["zoom"]
    patch["layout"]["uirevision"] = f"{filters.drill or 'country'}-{filters.mode}"
    trace["colorbar"]["tickfont"]["size"] = 18 if briefing else 14
    trace["colorbar"]["len"] = 0.95 if briefing else 0.7
    trace["colorbar"]["title"]["font"]["size"] = 19 if briefing else 15
    if filters.drill:
        title = drill_title(mission, filters)
    as_of = mission.meta.get("data_as_of")
    caption = [
        f"{PHASE_LABELS[filters.form_type]} forms, {filters.describe(mission.region_names)}: {figure_text}."
        + (f" Data as of {as_of.replace('T', ' ')}." if as_of else "")
    ]
    if mission.meta.get("synthetic"):
        caption += [" ", html.Strong("Synthetic demo forms.")]
    return patch, title, caption, notices


# ------------------------------------------------------------------------------------ the figures
def headlines(mission: MissionDataset, data: dict[str, Any] | None, as_fraction: bool = False) -> list:
    """One block per phase: the share, the statement sentence (with a copy button), its N and interval."""
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters, by_phase=False)
    blocks = [html.Div(["For ", html.Strong(filters.describe(mission.region_names))], className="obs-selection")]
    for ft, t in tally_by_phase(forms).items():
        unassessed = t["n"] - t["assessed"]
        n_line = f"N = {t['assessed']:,} assessed of {t['n']:,} forms" + (f" ({unassessed} without assessment)" if unassessed else "")
        if t["assessed"]:
            n_line += f" · {interval_text(t['negative'], t['assessed'])}"
        few = 0 < t["assessed"] < filters.min_n
        blocks.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(PHASE_LABELS[ft], className="obs-phase"),
                            html.Span(percent(t["negative"], t["assessed"]), className="obs-pct" + (" obs-pct-few" if few else "")),
                        ],
                        className="obs-headline-top",
                    ),
                    html.Div(
                        [
                            html.P(statement_for(ft, t, filters, as_fraction), className="obs-sentence", id=f"sentence-{ft}"),
                            dcc.Clipboard(target_id=f"sentence-{ft}", title="Copy this sentence", className="obs-copy"),
                        ],
                        className="obs-sentence-row",
                    ),
                    html.Div(n_line, className="obs-n"),
                    html.Div(f"Too few observations (fewer than {filters.min_n}): read with care.", className="obs-few") if few else None,
                ],
                className="obs-headline" + (" obs-headline-active" if ft == filters.form_type else ""),
                id=f"headline-{ft}",
            )
        )
    blocks.append(
        html.Div(
            "Observed stations are not a random sample (teams lean urban and toward regional centres): "
            "these shares describe what observers saw, not a national estimate.",
            className="obs-caveat",
        )
    )
    return blocks


def statement_for(form_type: str, tally: dict[str, int], filters: Filters, as_fraction: bool = False) -> str:
    if form_type == "tabulation" and tally["n"] == 0 and (filters.setting or filters.evoting):
        return "Urban/rural and voting-method filters do not apply to territorial commissions; clear them to see tabulation."
    return statement_sentence(form_type, tally["negative"], tally["assessed"], as_fraction=as_fraction, min_n=filters.min_n)


def n_shown(mission: MissionDataset, data: dict[str, Any] | None) -> list:
    filters = parse_filters(mission, data)
    all_phases = filter_forms(mission.forms, filters, by_phase=False)
    here = all_phases[all_phases["form_type"] == filters.form_type]
    teams = all_phases["team_id"].nunique()
    return [
        html.Strong(f"{len(here):,} {PHASE_LABELS[filters.form_type].lower()} forms", id="n-phase-forms", **{"data-n": len(here)}),
        f" shown ({len(all_phases):,} forms of all phases, from {teams:,} teams) · {filters.describe(mission.region_names)}",
    ]


def problems(mission: MissionDataset, data: dict[str, Any] | None) -> tuple[go.Figure, str]:
    """Problem rates among the filtered forms (before the problem filter, or the chosen bar would read 100 %)."""
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters, by_problem=False)
    scope = ", all of them" if filters.filters_by_problem else ""
    title = f"Problems reported in {PHASE_LABELS[filters.form_type].lower()} forms (N = {len(forms):,} forms{scope})"
    return make_problem_chart(problem_rates(forms), selected=filters.problem, min_n=filters.min_n), title


def timeline(mission: MissionDataset, data: dict[str, Any] | None) -> go.Figure:
    filters = parse_filters(mission, data)
    table = tally_by_hour(filter_forms(mission.forms, filters))
    if filters.hours:
        start, end = filters.hours
    elif len(table):
        start, end = int(table.index.min()), int(table.index.max()) + 1  # the data's own span, even past 30 h
    else:
        start, end = HOURS_RANGE
    return make_timeline(table, range(start, end), min_n=filters.min_n)


# ------------------------------------------------------------------------------ table and export


def table_rows(mission: MissionDataset, data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The filtered forms, key columns, for the grid. Comments are plain strings (the grid shows text)."""
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters)
    reported = reported_problems(forms).map(", ".join) if len(forms) else pd.Series(dtype="string")
    out = pd.DataFrame(
        {
            "form_id": forms["form_id"],
            "form_type": forms["form_type"].astype("string"),
            "observed_at": forms["observed_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "region": forms["region_code"].map(mission.region_names),
            "ps_id": forms["ps_id"],
            "team_id": forms["team_id"],
            "observer_org": forms["observer_org"],
            "urban_rural": forms["urban_rural"],
            "evoting": forms["evoting"],
            "overall": forms["overall"].astype("string"),
            "problems": reported,
            "comments": forms["comments"],
        }
    )
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) or v is pd.NA else v) for k, v in row.items()} for row in out.to_dict("records")
    ]


def export_frame(mission: MissionDataset, filters: Filters, *, every_phase: bool = False) -> pd.DataFrame:
    """Exactly the filtered forms, one row per form, in the canonical columns with the resolved region_code."""
    forms = filter_forms(mission.forms, filters, by_phase=not every_phase)
    out = forms[list(FORM_COLUMNS)].copy()
    out["observed_at"] = forms["observed_at"].dt.strftime("%Y-%m-%dT%H:%M")
    out["overall"] = forms["overall"].astype("string")
    for col in PROBLEMS:
        out[col] = forms[col].map({True: "yes", False: "no"}).astype("string")
    return out


def region_table(mission: MissionDataset, data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per region, for the chosen phase: forms, assessed, bad or very bad, share with its Wilson interval, flag.

    Shares behind fewer than ``min_n`` assessed forms are given but flagged "too few".
    """
    filters = parse_filters(mission, data)
    codes = list(filters.regions) if filters.regions else list(mission.regions["code"])
    t = negative_share_by_region(filter_forms(mission.forms, filters), codes)
    rows = []
    for code, r in t.iterrows():
        ci = interval_percent(int(r.negative), int(r.assessed))
        rows.append(
            {
                "region": mission.region_names.get(code, code),
                "code": code,
                "forms": int(r.n),
                "assessed": int(r.assessed),
                "negative": int(r.negative),
                "share": whole_percent(int(r.negative), int(r.assessed)),
                "ci_low": None if ci is None else ci[0],
                "ci_high": None if ci is None else ci[1],
                "note": "no assessed form" if not r.assessed else ("too few" if r.assessed < filters.min_n else ""),
            }
        )
    return rows
