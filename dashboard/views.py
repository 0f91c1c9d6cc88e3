"""What each part of the page shows for a filter state. Called by the callbacks, and by tests.

Every function takes the mission and the filter store's JSON and returns plain Dash children,
figures or a ``Patch``; none reads files or keeps state.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import Patch, html

from dashboard.analysis import (
    Filters,
    assessment_tally,
    filter_forms,
    negative_share_by_region,
    percent,
    problem_rates,
    statement_sentence,
    tally_by_phase,
)
from dashboard.figures import make_problem_chart, make_region_map, region_map_values
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS

VALUE_TRACE = 0


def parse_filters(mission: MissionDataset, data: dict[str, Any] | None) -> Filters:
    return Filters.from_dict(data, known_regions=set(mission.regions["code"]))


def _map_values(mission: MissionDataset, filters: Filters, forms) -> dict[str, Any]:
    table = negative_share_by_region(forms, list(mission.regions["code"]))
    return region_map_values(table, mission.region_names, filters.form_type, selected=filters.regions)


def initial_map(mission: MissionDataset, filters: Filters) -> go.Figure:
    """The full map, geometry included: sent once, with the page."""
    values = _map_values(mission, filters, filter_forms(mission.forms, filters))
    return make_region_map(mission.geojson, mission.region_names, values)


def map_update(mission: MissionDataset, data: dict[str, Any] | None) -> tuple[Patch, str, list]:
    """Map values as a Patch (the geometry stays in the browser), the map's title and its caption."""
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters)
    patch = Patch()
    for key, value in _map_values(mission, filters, forms).items():
        patch["data"][VALUE_TRACE][key] = value
    t = assessment_tally(forms)
    title = f"{PHASE_LABELS[filters.form_type]}: share of forms assessed bad or very bad, by region"
    caption = [
        f"{PHASE_LABELS[filters.form_type]} forms, {filters.describe(mission.region_names)}: "
        f"{t['negative']:,} bad or very bad of {t['assessed']:,} assessed ({percent(t['negative'], t['assessed'])}); "
        f"N = {t['n']:,} forms."
    ]
    if mission.meta.get("synthetic"):
        caption += [" ", html.Strong("Synthetic demo forms.")]
    return patch, title, caption


def headlines(mission: MissionDataset, data: dict[str, Any] | None) -> list:
    """One block per phase: the share, the statement sentence, and its N."""
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters, by_phase=False)
    blocks = [html.Div(["For ", html.Strong(filters.describe(mission.region_names))], className="obs-selection")]
    for ft, t in tally_by_phase(forms).items():
        unassessed = t["n"] - t["assessed"]
        n_line = f"N = {t['assessed']:,} assessed of {t['n']:,} forms" + (f" ({unassessed} without assessment)" if unassessed else "")
        blocks.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(PHASE_LABELS[ft], className="obs-phase"),
                            html.Span(percent(t["negative"], t["assessed"]), className="obs-pct"),
                        ],
                        className="obs-headline-top",
                    ),
                    html.P(_sentence(ft, t, filters), className="obs-sentence"),
                    html.Div(n_line, className="obs-n"),
                ],
                className="obs-headline" + (" obs-headline-active" if ft == filters.form_type else ""),
                id={"type": "headline", "phase": ft},
            )
        )
    return blocks


def _sentence(form_type: str, tally: dict[str, int], filters: Filters) -> str:
    if form_type == "tabulation" and tally["n"] == 0 and (filters.setting or filters.evoting):
        return "Urban/rural and voting-method filters do not apply to territorial commissions; clear them to see tabulation."
    return statement_sentence(form_type, tally["negative"], tally["assessed"])


def n_shown(mission: MissionDataset, data: dict[str, Any] | None) -> list:
    filters = parse_filters(mission, data)
    all_phases = filter_forms(mission.forms, filters, by_phase=False)
    here = all_phases[all_phases["form_type"] == filters.form_type]
    teams = all_phases["team_id"].nunique()
    return [
        html.Strong(f"{len(here):,} {PHASE_LABELS[filters.form_type].lower()} forms"),
        f" shown ({len(all_phases):,} forms of all phases, from {teams:,} teams) · {filters.describe(mission.region_names)}",
    ]


def problems(mission: MissionDataset, data: dict[str, Any] | None) -> tuple[go.Figure, str]:
    filters = parse_filters(mission, data)
    forms = filter_forms(mission.forms, filters)
    title = f"Problems reported in {PHASE_LABELS[filters.form_type].lower()} forms (N = {len(forms):,} forms)"
    return make_problem_chart(problem_rates(forms)), title
